"""An S3-compatible bucket (AWS, MinIO, Ceph, moto) through boto3, for the storage plans' ``s3`` handler and the
receiver's ``s3`` backend.

Credentials are the keys given, else boto3's standard chain (environment, shared files, instance roles). The
bucket is addressed as its endpoint wants it (``auto``, ``virtual`` host or ``path`` style). A file is created,
never replaced: ``If-None-Match: *`` on the object (or on completing a multipart upload, for files over
``multipart_threshold``), and S3 checks the SHA-256 of what it received. boto3 blocks: every call, and the making
of a client, runs on S3's own threads, so a backlog of uploads never holds up what calls need of the loop's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from botocore.exceptions import BotoCoreError, ClientError

Addressing = Literal["auto", "virtual", "path"]
MULTIPART_THRESHOLD = 64 << 20  # larger files go up in parts (S3 takes at most 5 GB in one PUT)
PART_SIZE = 16 << 20  # S3's smallest part is 5 MiB
READ_CHUNK = 256 << 10
THREADS = 16  # S3 calls at once, over every bucket of the process
_POOL = ThreadPoolExecutor(THREADS, thread_name_prefix="s3")


def _as_stored(path: Path) -> tuple[BinaryIO, int]:
    return path.open("rb"), path.stat().st_size


_SESSION: Any = None  # one boto3 session: its endpoint data and S3 model are loaded once
_SESSION_LOCK = threading.Lock()  # a boto3 session makes clients one at a time


class S3Error(RuntimeError):
    """The bucket could not be reached, or answered something unexpected."""


@dataclass(frozen=True)
class BucketAddress:
    """Where a bucket is and how to sign for it (keys None: boto3's credential chain)."""

    bucket: str
    endpoint: str | None = None  # None: AWS's own endpoint for the region
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    addressing: Addressing = "auto"
    tenant: bool = False  # a tenant's bucket: the node's configured endpoint URLs (AWS_ENDPOINT_URL…) do not apply

    def __repr__(self) -> str:  # never the secret in a log line
        return f"BucketAddress(bucket={self.bucket!r}, endpoint={self.endpoint!r}, region={self.region!r})"


@dataclass(frozen=True)
class ObjectHead:
    """What HEAD says of an object."""

    size: int
    metadata: dict[str, str]


class S3Bucket:
    """One bucket; safe to share between tasks (boto3's clients are thread-safe). Make it with :meth:`open`."""

    def __init__(
        self,
        address: BucketAddress,
        client: Any,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ) -> None:
        self.address = address
        self.bucket = address.bucket
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._s3 = client

    @classmethod
    async def open(cls, address: BucketAddress, **sizes: int) -> S3Bucket:
        """A bucket and its client (made on S3's threads: making one takes tens of milliseconds)."""
        client = await asyncio.get_running_loop().run_in_executor(_POOL, _client, address)
        return cls(address, client, **sizes)

    def url(self, key: str) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{key}"

    async def create(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        content_type: str,
        metadata: dict[str, str],
        plain: Callable[[Path], tuple[BinaryIO, int]] = _as_stored,
    ) -> bool:
        """Store the file at *path* (its SHA-256 *sha256*, hex) as *key* unless an object is there already: True if
        it was created, False if *key* existed (not replaced). *plain* opens the file as it is to be stored, and
        says its size (a recording sealed at rest is stored decrypted)."""
        created: bool = await self._call(self._create, key, path, sha256, content_type, metadata, plain)
        return created

    def _create(
        self,
        key: str,
        path: Path,
        sha256: str,
        content_type: str,
        metadata: dict[str, str],
        plain: Callable[[Path], tuple[BinaryIO, int]],
    ) -> bool:
        body, size = plain(path)
        try:
            if size <= self.multipart_threshold:
                with body:
                    self._s3.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        ContentLength=size,
                        ContentType=content_type,
                        Metadata=metadata,
                        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                        IfNoneMatch="*",
                    )
            else:
                with body:
                    self._multipart(key, body, content_type, metadata)
        except ClientError as exc:
            if _status(exc) in (409, 412):  # there already (or being created by someone else)
                return False
            raise
        return True

    def _multipart(self, key: str, body: BinaryIO, content_type: str, metadata: dict[str, str]) -> None:
        started = self._s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type, Metadata=metadata, ChecksumAlgorithm="SHA256"
        )
        upload_id = started["UploadId"]
        parts = []
        try:
            number = 1
            while chunk := body.read(self.part_size):
                checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                sent = self._s3.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumSHA256=checksum,
                )
                parts.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": checksum})
                number += 1
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
            )
        except BaseException:
            with contextlib.suppress(BotoCoreError, ClientError):  # else the bucket's lifecycle rules clear it
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        """Store *body* as *key* (replacing what is there: for sidecars of objects created just before)."""
        await self._call(self._s3.put_object, Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    async def head(self, key: str) -> ObjectHead | None:
        """The object's size and metadata, or None if there is none (or, 403, if the credentials may not tell:
        S3 answers a missing key so without ``s3:ListBucket``)."""
        try:
            found = await self._call(self._s3.head_object, Bucket=self.bucket, Key=key)
        except S3Error as exc:
            if isinstance(exc.__cause__, ClientError) and _status(exc.__cause__) in (403, 404):
                return None
            raise
        return ObjectHead(int(found["ContentLength"]), dict(found.get("Metadata") or {}))

    async def get_bytes(self, key: str) -> bytes | None:
        """The whole object (small ones: sidecars), or None if there is none."""
        found: bytes | None = await self._call(self._get_bytes, key)
        return found

    def _get_bytes(self, key: str) -> bytes | None:
        try:
            found = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        data: bytes = found["Body"].read()
        return data

    async def keys(self, prefix: str) -> list[str]:
        """Every key under *prefix*."""
        found: list[str] = await self._call(self._keys, prefix)
        return found

    def _keys(self, prefix: str) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", ())]

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes *start* to *end* (exclusive) of the object, a chunk at a time."""
        found = await self._call(self._s3.get_object, Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
        body = found["Body"]
        try:
            while chunk := await self._call(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    def close(self) -> None:
        """Close the client's connections."""
        self._s3.close()

    async def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """*function* on S3's threads; boto3's and botocore's errors become :class:`S3Error` saying what went
        wrong."""
        try:
            return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(function, *args, **kwargs))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise S3Error(f"{self.bucket}: {_status(exc)} {error.get('Code', '')} {error.get('Message', '')}") from exc
        except BotoCoreError as exc:
            raise S3Error(f"{self.bucket}: {exc}") from exc


def _client(address: BucketAddress) -> Any:
    import boto3  # here: a process that never stores in S3 does not pay for importing it
    from botocore.config import Config

    global _SESSION
    config = Config(
        s3={"addressing_style": address.addressing},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=THREADS,
        request_checksum_calculation="when_required",  # S3-compatible stores that lack AWS's newer checksums
        response_checksum_validation="when_required",
        ignore_configured_endpoint_urls=address.tenant,
    )
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION.client(
            "s3",
            region_name=address.region,
            endpoint_url=address.endpoint or None,
            aws_access_key_id=address.access_key or None,
            aws_secret_access_key=address.secret_key or None,
            config=config,
        )


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
