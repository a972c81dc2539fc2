"""Recordings kept in an S3-compatible bucket (AWS, MinIO, Ceph, …) through ``s3_bucket.py`` (boto3).

Objects are ``<account>/<YYYY>/<MM>/<name>`` plus ``<name>.json`` (the sidecar). The audio's SHA-256 rides in the
object's metadata (``x-amz-meta-sha256``) and is checked by the store on upload; an object is created only if there
is none under its key (``If-None-Match: *``), so nothing is ever overwritten.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime

from calltape.receiver.naming import Upload
from calltape.receiver.settings import ReceiverSettings
from calltape.receiver.spool import SpoolFile
from calltape.receiver.storage import NameLocks, Sidecar, StoredFile, key_prefix, received_between, versioned_name
from calltape.s3_bucket import BucketAddress, S3Bucket, S3Error


class S3Storage:
    """The receiver's S3-compatible backend."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self.address = BucketAddress(
            settings.s3_bucket,
            settings.s3_endpoint or None,
            settings.s3_region,
            settings.s3_access_key or None,
            settings.s3_secret_key or None,
            settings.s3_addressing,
        )
        self._bucket: S3Bucket | None = None
        self._opening = asyncio.Lock()
        self.spool_dir = settings.dir / ".incoming"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock_for = NameLocks()

    async def bucket(self) -> S3Bucket:
        """The bucket (its client made on first use)."""
        async with self._opening:  # one client, however many uploads come first
            if self._bucket is None:
                self._bucket = await S3Bucket.open(self.address)
        return self._bucket

    async def store(self, spool: SpoolFile, upload: Upload, sidecar: Sidecar, received: datetime) -> StoredFile:
        bucket = await self.bucket()
        prefix = key_prefix(upload, received)
        async with self._lock_for(f"{prefix}/{upload.name}"):
            for version in range(10_000):
                key = f"{prefix}/{versioned_name(upload.name, version)}"
                head = await bucket.head(key)
                if head is None:
                    created = await bucket.create(
                        key,
                        spool.path,
                        sha256=spool.sha256,
                        content_type=str(sidecar["content_type"]),
                        metadata={"sha256": spool.sha256},
                    )
                    if created:
                        doc = {**sidecar, "name": key.rsplit("/", 1)[1], "key": key, "version": version}
                        await bucket.put_bytes(key + ".json", json.dumps(doc).encode(), "application/json")
                        return StoredFile(key, spool.size, spool.sha256, True, bucket.url(key))
                    head = await bucket.head(key)  # there after all: this upload's own (a retried PUT), or another's
                if head is not None and head.metadata.get("sha256") == spool.sha256:
                    return StoredFile(key, spool.size, spool.sha256, False, bucket.url(key))
        raise S3Error(f"too many versions of {upload.name}")

    async def find(self, account_id: str | None, since: str | None, until: str | None) -> list[Sidecar]:
        out: list[Sidecar] = []
        bucket = await self.bucket()
        for key in await bucket.keys(f"{account_id}/" if account_id else ""):
            if key.endswith(".json"):
                raw = await bucket.get_bytes(key)
                doc = json.loads(raw) if raw else None
                if doc is not None and received_between(doc, since, until):
                    out.append(doc)
        return out

    async def stat(self, key: str) -> Sidecar | None:
        bucket = await self.bucket()
        head = await bucket.head(key)
        if head is None:
            return None
        raw = await bucket.get_bytes(key + ".json")
        doc: Sidecar = json.loads(raw) if raw else {}
        return {**doc, "size": head.size}

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        async for chunk in (await self.bucket()).read(key, start, end):
            yield chunk

    async def close(self) -> None:
        if self._bucket is not None:
            self._bucket.close()
