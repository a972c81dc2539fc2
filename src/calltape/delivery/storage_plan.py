"""An account's storage plan for call recordings (Kazoo's ``/storage`` document) and storing a file by it.

Kazoo's shape: ``attachments`` names handlers by id, and ``plan.modb.types.call_recording.attachments.handler``
says which one takes call recordings. Handlers: ``s3`` (settings: bucket, key, secret, and host, port, scheme,
region, bucket_access_method, bucket_path for S3-compatible stores; through boto3, files over 64 MiB in parts),
``http`` (url, verb put|post) and calltape's ``filesystem`` (path). A recording sealed at rest is stored in a
filesystem as it is, sealed (``calltape keys decrypt`` opens it); the others get it decrypted. A recording is stored as
``<account>/<YYYY>/<MM>/<name>`` under the bucket path or directory; an object that exists already is never
overwritten. A plan's keys are required: a tenant's plan never signs with the node's own AWS credentials.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, model_validator

from calltape.at_rest.sealed import open_file
from calltape.delivery.http import UploadError, upload, upload_file
from calltape.http_client import HttpClient
from calltape.media.formats import CONTENT_TYPES
from calltape.s3_bucket import Addressing, BucketAddress, S3Bucket, S3Error
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
        method = self.settings.get("bucket_access_method")
        if self.handler == "s3" and method is not None and method not in ACCESS_METHODS:
            raise ValueError(f"bucket_access_method is one of {', '.join(ACCESS_METHODS)}")
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


async def store_by_plan(client: HttpClient, plan: dict[str, Any], row: DueRecording, path: Path) -> str:
    """Store *path* (the recording of *row*) as the plan says; where it went."""
    settings = plan.get("settings") or {}
    handler = plan.get("handler")
    if handler == "filesystem":
        key = object_key(row.account_id, row.name, row.created)
        return await asyncio.to_thread(_copy_into, path, Path(settings["path"]) / key)
    if handler == "http":
        file = upload_file(row, path)
        base = str(settings["url"])
        url = base + ("" if base.endswith("/") else "/") + quote(row.name, safe="")
        await upload(client, str(settings.get("verb", "put")), url, file)
        return url
    if handler == "s3":
        return await _put_object(settings, row, path)
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


ACCESS_METHODS: dict[str, Addressing] = {"auto": "auto", "vhost": "virtual", "path": "path"}
_buckets: OrderedDict[BucketAddress, S3Bucket] = OrderedDict()  # a client per bucket and keys, the latest used last
MAX_BUCKETS = 256


def bucket_address(settings: dict[str, Any]) -> BucketAddress:
    """Kazoo's s3 attachment settings as a bucket's address: ``host`` (else AWS's endpoint for the region),
    ``port``, ``scheme``, ``region``, ``bucket_access_method`` (auto, vhost or path; path for a host of one's
    own unless it says otherwise), ``key`` and ``secret``."""
    host = settings.get("host")
    endpoint = None
    if host:
        port = f":{settings['port']}" if settings.get("port") else ""
        endpoint = f"{settings.get('scheme', 'https')}://{host}{port}"
    method = settings.get("bucket_access_method") or ("path" if host else "auto")
    if not settings.get("key") or not settings.get("secret"):  # never the node's own credentials
        raise UploadError("the s3 handler has no key and secret")
    return BucketAddress(
        bucket=str(settings["bucket"]),
        endpoint=endpoint,
        region=str(settings.get("region") or "us-east-1"),
        access_key=str(settings["key"]),
        secret_key=str(settings["secret"]),
        addressing=ACCESS_METHODS[method],
        tenant=True,
    )


async def _put_object(settings: dict[str, Any], row: DueRecording, path: Path) -> str:
    address = bucket_address(settings)
    bucket = _buckets.get(address)
    if bucket is None:
        bucket = _buckets[address] = await S3Bucket.open(address)
        if len(_buckets) > MAX_BUCKETS:
            _buckets.popitem(last=False)  # its client closes when the uploads still using it are done
    _buckets.move_to_end(address)
    key = object_key(row.account_id, row.name, row.created, str(settings.get("bucket_path", "")))
    try:
        await bucket.create(
            key,
            path,
            sha256=row.sha256,
            content_type=CONTENT_TYPES[row.format],
            metadata={"sha256": row.sha256},
            plain=lambda stored: (open_file(stored), row.size),
        )  # False: there already, stored by an attempt whose answer was lost (never overwritten)
    except S3Error as exc:
        raise UploadError(str(exc)) from None
    return bucket.url(key)
