"""Kazoo's s3 attachment settings as the bucket they name (``delivery/storage_plan.py``)."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from calltape.delivery.http import UploadError
from calltape.delivery.storage_plan import Attachment, bucket_address, store_by_plan
from calltape.http_client import HttpClient
from calltape.s3_bucket import BucketAddress
from calltape.store.recordings import DueRecording
from tests.e2e.upload_sink import UploadSink

KEYS = {"bucket": "calls", "key": "AKIA1", "secret": "s"}


@pytest.mark.parametrize(
    ("settings", "address"),
    [
        (KEYS, BucketAddress("calls", None, "us-east-1", "AKIA1", "s", "auto", tenant=True)),  # AWS
        (
            {**KEYS, "region": "eu-west-1", "bucket_access_method": "path"},
            BucketAddress("calls", None, "eu-west-1", "AKIA1", "s", "path", tenant=True),
        ),
        (
            {**KEYS, "host": "minio.lan", "port": 9000, "scheme": "http"},
            BucketAddress(
                "calls", "http://minio.lan:9000", "us-east-1", "AKIA1", "s", "path", tenant=True
            ),  # a host of one's own
        ),
        (
            {**KEYS, "host": "s3.wasabisys.com", "bucket_access_method": "vhost"},
            BucketAddress("calls", "https://s3.wasabisys.com", "us-east-1", "AKIA1", "s", "virtual", tenant=True),
        ),
    ],
)
def test_kazoos_settings_name_the_bucket(settings: dict[str, Any], address: BucketAddress) -> None:
    assert bucket_address(settings) == address


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"bucket": "calls"}, "s3 settings need key, secret"),  # never the node's own credentials
        ({**KEYS, "bucket_access_method": "dns"}, "bucket_access_method is one of auto, vhost, path"),
    ],
)
def test_an_s3_handler_that_cannot_work_is_refused(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Attachment.model_validate({"handler": "s3", "settings": settings})


def test_a_stored_plan_without_keys_never_signs_with_the_nodes_credentials() -> None:
    with pytest.raises(UploadError, match="no key and secret"):
        bucket_address({"bucket": "calls", "key": "", "secret": ""})


async def test_the_http_handler_sends_the_file_to_its_url_with_its_verb(tmp_path: Path) -> None:
    audio = b"ID3" + bytes(range(256)) * 8
    path = tmp_path / "r.mp3"
    path.write_bytes(audio)
    row = DueRecording(
        "r1", "call_recording_c@1.mp3", "c@1", "acc", None, "mp3", time.time(), 1000, len(audio),
        hashlib.sha256(audio).hexdigest(), str(path), "n1", 0, {}, {},
    )  # fmt: skip
    sink = UploadSink().start()
    try:
        plan = {"handler": "http", "settings": {"url": f"{sink.url}/plan", "verb": "post"}}
        client = HttpClient()
        where = await store_by_plan(client, plan, row, path)
        await client.close()
    finally:
        sink.stop()
    [upload] = sink.uploads
    assert (upload.method, upload.path, upload.body) == ("POST", "/plan/call_recording_c%401.mp3", audio)
    sha256 = base64.b64encode(hashlib.sha256(audio).digest()).decode()
    assert upload.headers["repr-digest"] == f"sha-256=:{sha256}:" and "content-md5" not in upload.headers
    assert where == f"{sink.url}/plan/call_recording_c%401.mp3"
