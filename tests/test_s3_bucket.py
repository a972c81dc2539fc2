"""S3 through boto3 (``s3_bucket.py``): against moto's S3 server (no real S3 runs here) for what is stored, and
botocore's own request as it would go on the wire for what moto does not check (checksums, conditions, addressing)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.awsrequest import AWSResponse

from calltape import s3_bucket
from calltape.s3_bucket import BucketAddress, S3Bucket, S3Error

MiB = 1 << 20


@pytest.fixture
def bucket_name(s3_endpoint: str) -> str:
    name = f"calls-{os.urandom(4).hex()}"
    assert httpx.put(f"{s3_endpoint}/{name}").status_code == 200
    return name


def _open(address: BucketAddress, **sizes: int) -> S3Bucket:
    return asyncio.run(S3Bucket.open(address, **sizes))


def _file(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()[:8]}.bin"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


async def _read(bucket: S3Bucket, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in bucket.read(key, start, end)])


def test_a_file_is_created_once_never_replaced_and_read_back(
    s3_endpoint: str, bucket_name: str, tmp_path: Path
) -> None:
    bucket = _open(BucketAddress(bucket_name, s3_endpoint, access_key="k", secret_key="s", addressing="path"))
    first, first_sha = _file(tmp_path, b"first" * 1000)
    second, second_sha = _file(tmp_path, b"second" * 1000)

    async def run() -> None:
        meta = {"sha256": first_sha}
        assert await bucket.create("a/b.mp3", first, sha256=first_sha, content_type="audio/mpeg", metadata=meta)
        assert not await bucket.create(
            "a/b.mp3", second, sha256=second_sha, content_type="audio/mpeg", metadata={"sha256": second_sha}
        )
        head = await bucket.head("a/b.mp3")
        assert head is not None and head.size == 5000 and head.metadata == {"sha256": first_sha}
        assert await bucket.get_bytes("a/b.mp3") == first.read_bytes()  # the first stays
        assert await _read(bucket, "a/b.mp3", 10, 110) == first.read_bytes()[10:110]
        assert await bucket.head("a/none.mp3") is None and await bucket.get_bytes("a/none.mp3") is None
        await bucket.put_bytes("a/b.mp3.json", b"{}", "application/json")
        assert await bucket.keys("a/") == ["a/b.mp3", "a/b.mp3.json"]

    asyncio.run(run())
    assert bucket.url("a/b.mp3") == f"s3://{bucket_name}/a/b.mp3"
    bucket.close()


def test_a_long_file_goes_up_in_parts_and_is_not_replaced_either(
    s3_endpoint: str, bucket_name: str, tmp_path: Path
) -> None:
    bucket = _open(
        BucketAddress(bucket_name, s3_endpoint, access_key="k", secret_key="s", addressing="path"),
        multipart_threshold=6 * MiB,
        part_size=5 * MiB,
    )
    calls: list[str] = []
    bucket._s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    data = os.urandom(12 * MiB)
    path, sha = _file(tmp_path, data)

    async def run() -> None:
        assert await bucket.create("long.wav", path, sha256=sha, content_type="audio/wav", metadata={"sha256": sha})
        assert calls == ["CreateMultipartUpload", "UploadPart", "UploadPart", "UploadPart", "CompleteMultipartUpload"]
        assert hashlib.sha256(await bucket.get_bytes("long.wav") or b"").hexdigest() == sha
        calls.clear()
        assert not await bucket.create("long.wav", path, sha256=sha, content_type="audio/wav", metadata={})
        assert calls[-1] == "AbortMultipartUpload"  # refused at completion: the parts are let go

    asyncio.run(run())
    bucket.close()


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


def test_without_keys_the_standard_credential_chain_signs(
    s3_endpoint: str, bucket_name: str, tmp_path: Path, no_aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, sha = _file(tmp_path, b"x" * 100)
    monkeypatch.setattr(s3_bucket, "_SESSION", None)  # the process's session reads the environment as it is now
    nobody = _open(BucketAddress(bucket_name, s3_endpoint, addressing="path"))
    with pytest.raises(S3Error, match="credentials"):
        asyncio.run(nobody.create("k", path, sha256=sha, content_type="audio/wav", metadata={}))
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = from-file\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    signed: list[str] = []
    monkeypatch.setattr(s3_bucket, "_SESSION", None)
    from_file = _open(BucketAddress(bucket_name, s3_endpoint, addressing="path"))
    from_file._s3.meta.events.register(
        "before-send.s3", lambda request, **_: signed.append(request.headers["Authorization"].decode())
    )
    assert asyncio.run(from_file.create("k", path, sha256=sha, content_type="audio/wav", metadata={}))
    assert "Credential=from-file/" in signed[0]


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def _on_the_wire(address: BucketAddress, tmp_path: Path, data: bytes) -> Any:
    """The PutObject request botocore would send for *data* (answered here with a 200, never sent)."""
    bucket = _open(address)
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> Any:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _EmptyBody())

    bucket._s3.meta.events.register("before-send.s3", capture)
    path, sha = _file(tmp_path, data)
    asyncio.run(bucket.create("acc/2026/12/call.mp3", path, sha256=sha, content_type="audio/mpeg", metadata={}))
    return sent[0]


def test_the_request_carries_the_sha256_and_the_no_overwrite_condition(tmp_path: Path) -> None:
    data = b"audio" * 300
    address = BucketAddress("calls", "http://s3.example.test:9000", access_key="k", secret_key="s", addressing="path")
    request = _on_the_wire(address, tmp_path, data)
    assert request.method == "PUT"
    assert request.url == "http://s3.example.test:9000/calls/acc/2026/12/call.mp3"
    assert request.headers["If-None-Match"] == b"*"
    assert request.headers["x-amz-checksum-sha256"].decode() == base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize(
    ("endpoint", "addressing", "url"),
    [
        ("http://s3.example.test:9000", "virtual", "http://calls.s3.example.test:9000/acc/2026/12/call.mp3"),
        (None, "auto", "https://calls.s3.eu-west-1.amazonaws.com/acc/2026/12/call.mp3"),
        (None, "path", "https://s3.eu-west-1.amazonaws.com/calls/acc/2026/12/call.mp3"),
    ],
)
def test_virtual_host_and_path_addressing(endpoint: str | None, addressing: Any, url: str, tmp_path: Path) -> None:
    address = BucketAddress("calls", endpoint, "eu-west-1", "k", "s", addressing)
    assert _on_the_wire(address, tmp_path, b"x").url == url


def test_the_secret_stays_out_of_logs() -> None:
    assert "s3cret" not in repr(BucketAddress("calls", None, "us-east-1", "key", "s3cret"))
