"""SigV4 against the AWS documentation's worked example for S3 (GET Object with a Range, us-east-1,
2013-05-24): moto does not check signatures, so this is the check that a real S3 would accept ours."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import httpx

from calltape.aws_sigv4 import sign_v4

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_the_aws_documentation_get_object_example() -> None:
    signed = sign_v4(
        "GET",
        httpx.URL("https://examplebucket.s3.amazonaws.com/test.txt"),
        {"Range": "bytes=0-9"},
        hashlib.sha256(b"").hexdigest(),
        ACCESS_KEY,
        SECRET_KEY,
        "us-east-1",
        datetime(2013, 5, 24, tzinfo=UTC),
    )
    credential, signed_headers, signature = (part.strip() for part in signed["authorization"].split(","))
    assert credential == f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20130524/us-east-1/s3/aws4_request"
    assert signed_headers == "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"
    assert signature == "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert signed["x-amz-date"] == "20130524T000000Z" and signed["host"] == "examplebucket.s3.amazonaws.com"
