"""``X-Calltape-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the webhook's
secret>``. A receiver recomputes it over the raw body it got and compares in constant time; the event's ``id`` (also
the ``Idempotency-Key`` header) tells a resend from a new event."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Calltape-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for *body* sent at *timestamp*."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """Whether *header* is the signature of *body* with *secret* (any of its ``v1`` values)."""
    fields = [part.partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in fields if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    expected = sign(secret, int(stamps[0]), body).partition(",v1=")[2]
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, _, value in fields)
