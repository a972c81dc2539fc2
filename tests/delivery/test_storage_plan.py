"""Kazoo's s3 attachment settings as the bucket they name (``delivery/storage_plan.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from calltape.delivery.http import UploadError
from calltape.delivery.storage_plan import Attachment, bucket_address
from calltape.s3_bucket import BucketAddress

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
