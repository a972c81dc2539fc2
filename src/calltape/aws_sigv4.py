"""AWS Signature Version 4 for S3 requests (service ``s3``): what the receiver's S3 backend and the storage
plans' ``s3`` handler both sign with."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote

import httpx


def sign_v4(
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
) -> dict[str, str]:
    """Headers with AWS Signature Version 4 added (service s3)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed_headers = {k.lower(): v for k, v in headers.items()}
    signed_headers.update({"host": url.netloc.decode(), "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed_headers)
    query = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in url.params.multi_items())
    canonical = "\n".join(
        [
            method,
            url.raw_path.split(b"?", 1)[0].decode(),
            "&".join(f"{k}={v}" for k, v in query),
            "".join(f"{n}:{' '.join(str(signed_headers[n]).split())}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed_headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed_headers
