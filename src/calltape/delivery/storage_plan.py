"""An account's storage plan for call recordings (Kazoo's ``/storage`` document) and storing a file by it.

Kazoo's shape: ``attachments`` names handlers by id, and ``plan.modb.types.call_recording.attachments.handler``
says which one takes call recordings. Handlers: ``s3`` (settings: bucket, key, secret, and host, port,
scheme, region, bucket_path for S3-compatible stores), ``http`` (url, verb put|post) and calltape's
``filesystem`` (path). A recording is stored as ``<account>/<YYYY>/<MM>/<name>`` under the bucket path or
directory; an object that exists already is never overwritten.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, model_validator

from calltape.aws_sigv4 import sign_v4
from calltape.delivery.http import UploadError, UploadFile, upload
from calltape.media.formats import CONTENT_TYPES
from calltape.store.recordings import DueRecording


class Attachment(BaseModel):
    """One handler of a storage plan."""

    model_config = ConfigDict(extra="allow")
    handler: Literal["s3", "http", "filesystem"]
    name: str | None = None
    settings: dict[str, Any]

    @model_validator(mode="after")
    def _settings_complete(self) -> Attachment:
        needed = {"s3": ("bucket", "key", "secret"), "http": ("url",), "filesystem": ("path",)}[self.handler]
        missing = [key for key in needed if not self.settings.get(key)]
        if missing:
            raise ValueError(f"{self.handler} settings need {', '.join(missing)}")
        if self.handler == "filesystem" and not str(self.settings["path"]).startswith("/"):
            raise ValueError("a filesystem path must be absolute")
        if self.handler == "http" and not str(self.settings["url"]).startswith(("http://", "https://")):
            raise ValueError("an http handler's url must be http or https")
        return self


class StoragePlan(BaseModel):
    """``PUT /v2/accounts/{A}/storage`` (unknown keys kept, as Kazoo keeps them)."""

    model_config = ConfigDict(extra="allow")
    attachments: dict[str, Attachment]
    plan: dict[str, Any] = {}

    @model_validator(mode="after")
    def _plan_names_a_handler(self) -> StoragePlan:
        handler = recording_handler_id(self.model_dump())
        if handler is not None and handler not in self.attachments:
            raise ValueError(f"plan.modb.types.call_recording.attachments.handler {handler!r} is not an attachment")
        return self


def recording_handler_id(doc: dict[str, Any]) -> str | None:
    """The id of the attachment handler that takes call recordings, if the plan names one."""
    node: Any = doc.get("plan")
    for key in ("modb", "types", "call_recording", "attachments", "handler"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) else None


def recording_target(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The handler (kind and settings) call recordings go to under *doc*, or None."""
    if not doc:
        return None
    handler_id = recording_handler_id(doc)
    attachment = (doc.get("attachments") or {}).get(handler_id) if handler_id else None
    if not isinstance(attachment, dict):
        return None
    return {"handler": attachment.get("handler"), "settings": dict(attachment.get("settings") or {})}


def object_key(account_id: str, name: str, started_at: float, prefix: str = "") -> str:
    """``<prefix><account>/<YYYY>/<MM>/<name>``."""
    month = time.strftime("%Y/%m", time.gmtime(started_at))
    base = prefix.strip("/")
    return f"{base + '/' if base else ''}{account_id}/{month}/{name}"


async def store_by_plan(client: httpx.AsyncClient, plan: dict[str, Any], row: DueRecording, path: Path) -> str:
    """Store *path* (the recording of *row*) as the plan says; where it went."""
    settings = plan.get("settings") or {}
    handler = plan.get("handler")
    if handler == "filesystem":
        key = object_key(row.account_id, row.name, row.created)
        return await asyncio.to_thread(_copy_into, path, Path(settings["path"]) / key)
    if handler == "http":
        file = UploadFile(path, row.size, CONTENT_TYPES[row.format], str(row.doc.get("md5", "")), row.sha256)
        base = str(settings["url"])
        url = base + ("" if base.endswith("/") else "/") + quote(row.name, safe="")
        await upload(client, str(settings.get("verb", "put")), url, file)
        return url
    if handler == "s3":
        return await _put_object(client, settings, row, path)
    raise UploadError(f"unknown storage handler {handler!r}")


def _copy_into(source: Path, target: Path) -> str:
    """Copy atomically (a temporary name, fsync, rename) and never over an existing file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise UploadError(f"{target} exists already; not overwritten")
    partial = target.with_name(f".{target.name}.partial")
    with source.open("rb") as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)
    return str(target)


async def _put_object(client: httpx.AsyncClient, settings: dict[str, Any], row: DueRecording, path: Path) -> str:
    scheme = settings.get("scheme", "https")
    host = settings.get("host", "s3.amazonaws.com")
    port = f":{settings['port']}" if settings.get("port") else ""
    key = object_key(row.account_id, row.name, row.created, str(settings.get("bucket_path", "")))
    url = httpx.URL(f"{scheme}://{host}{port}/{quote(settings['bucket'])}/{quote(key, safe='/-_.~')}")
    headers = {
        "content-type": CONTENT_TYPES[row.format],
        "content-length": str(row.size),
        "if-none-match": "*",  # never over an object that is there
        "x-amz-meta-sha256": row.sha256,
    }
    signed = sign_v4(
        "PUT",
        url,
        headers,
        row.sha256,
        str(settings["key"]),
        str(settings["secret"]),
        str(settings.get("region", "us-east-1")),
        datetime.now(UTC),
    )
    body = path.read_bytes() if row.size <= 1 << 20 else _chunks(path)
    try:
        response = await client.put(url, headers=signed, content=body)
    except httpx.HTTPError as exc:
        raise UploadError(f"{type(exc).__name__} talking to {host}: {exc}") from None
    if response.status_code == 412:  # there already: stored by an attempt whose answer was lost
        return str(url)
    if not 200 <= response.status_code < 300:
        raise UploadError(f"S3 answered {response.status_code}: {response.text[:200]}")
    return str(url)


async def _chunks(path: Path) -> Any:
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            yield chunk
