"""Recordings kept in an S3-compatible bucket (AWS, MinIO, Ceph, …), signed with AWS Signature V4.

Objects are ``<account>/<YYYY>/<MM>/<name>`` plus ``<name>.json`` (the sidecar). The audio's
SHA-256 rides in ``x-amz-meta-sha256`` and signs the payload, so the store verifies the bytes; new
objects are created with ``If-None-Match: *`` so nothing is ever overwritten.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from calltape.aws_sigv4 import sign_v4
from calltape.receiver.naming import Upload
from calltape.receiver.settings import ReceiverSettings
from calltape.receiver.spool import SpoolFile
from calltape.receiver.storage import NameLocks, Sidecar, StoredFile, key_prefix, received_between, versioned_name

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Error(RuntimeError):
    """The bucket answered something unexpected."""


class S3Storage:
    """The receiver's S3-compatible backend (path-style addressing)."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self.endpoint = settings.s3_endpoint.rstrip("/")
        self.bucket = settings.s3_bucket
        self.region = settings.s3_region
        self.access_key = settings.s3_access_key
        self.secret_key = settings.s3_secret_key
        self.spool_dir = settings.dir / ".incoming"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._client = httpx.AsyncClient(timeout=60)
        self._lock_for = NameLocks()

    def _url(self, key: str = "", params: dict[str, str] | None = None) -> httpx.URL:
        path = f"/{quote(self.bucket)}" + (f"/{quote(key, safe='/-_.~')}" if key else "")
        return httpx.URL(self.endpoint + path, params=params)

    async def request(
        self,
        method: str,
        key: str = "",
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | AsyncIterator[bytes] = b"",
        payload_sha256: str | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One signed request to the bucket (*key* empty: the bucket itself)."""
        url = self._url(key, params)
        if payload_sha256 is None:
            payload_sha256 = hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else "UNSIGNED-PAYLOAD"
        signed = sign_v4(
            method, url, headers or {}, payload_sha256, self.access_key, self.secret_key, self.region, datetime.now(UTC)
        )
        request = self._client.build_request(method, url, headers=signed, content=content)
        return await self._client.send(request, stream=stream)

    async def store(self, spool: SpoolFile, upload: Upload, sidecar: Sidecar, received: datetime) -> StoredFile:
        prefix = key_prefix(upload, received)
        async with self._lock_for(f"{prefix}/{upload.name}"):
            for version in range(10_000):
                key = f"{prefix}/{versioned_name(upload.name, version)}"
                head = await self.request("HEAD", key)
                if head.status_code == 200:
                    if head.headers.get("x-amz-meta-sha256") == spool.sha256:
                        return StoredFile(key, spool.size, spool.sha256, False, f"s3://{self.bucket}/{key}")
                    continue
                put = await self.request(
                    "PUT",
                    key,
                    content=_file_chunks(spool.path),
                    payload_sha256=spool.sha256,
                    headers={
                        "content-length": str(spool.size),
                        "content-type": str(sidecar["content_type"]),
                        "if-none-match": "*",
                        "x-amz-meta-sha256": spool.sha256,
                    },
                )
                if put.status_code in (409, 412):  # created meanwhile by someone else: look again
                    continue
                if put.status_code >= 300:
                    raise S3Error(f"PUT {key}: {put.status_code} {put.text[:200]}")
                doc = {**sidecar, "name": key.rsplit("/", 1)[1], "key": key, "version": version}
                meta = await self.request(
                    "PUT", key + ".json", content=json.dumps(doc).encode(), headers={"content-type": "application/json"}
                )
                if meta.status_code >= 300:
                    raise S3Error(f"PUT {key}.json: {meta.status_code}")
                return StoredFile(key, spool.size, spool.sha256, True, f"s3://{self.bucket}/{key}")
        raise S3Error(f"too many versions of {upload.name}")

    async def find(self, account_id: str | None, since: str | None, until: str | None) -> list[Sidecar]:
        out: list[Sidecar] = []
        token = ""
        while True:
            params = {"list-type": "2", "prefix": f"{account_id}/" if account_id else ""}
            if token:
                params["continuation-token"] = token
            response = await self.request("GET", params=params)
            if response.status_code != 200:
                raise S3Error(f"list: {response.status_code}")
            root = ET.fromstring(response.content)
            for item in root.iter(f"{_S3_NS}Key"):
                if item.text and item.text.endswith(".json"):
                    doc = (await self.request("GET", item.text)).json()
                    if received_between(doc, since, until):
                        out.append(doc)
            token = root.findtext(f"{_S3_NS}NextContinuationToken") or ""
            if not token:
                return out

    async def stat(self, key: str) -> Sidecar | None:
        head = await self.request("HEAD", key)
        if head.status_code != 200:
            return None
        meta = await self.request("GET", key + ".json")
        doc: Sidecar = meta.json() if meta.status_code == 200 else {}
        return {**doc, "size": int(head.headers["content-length"])}

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        response = await self.request("GET", key, headers={"range": f"bytes={start}-{end - 1}"}, stream=True)
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self._client.aclose()


async def _file_chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk
