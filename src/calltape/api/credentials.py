"""Users' sign-in secrets, as Kazoo's ``user_auth`` checks them, kept only as scrypt hashes.

A client signs in with ``credentials`` = the MD5 (or SHA-1, ``method: "sha"``) hex of ``username:password``
(username lower-cased), as Monster UI and Kazoo's scripts send it. A user's document keeps neither the password
nor those digests: only an scrypt hash of each (salted, from the standard library's OpenSSL binding) and a
16-bit bucket of each digest, so a sign-in tries the few users in its bucket, not every user of the account,
while the bucket alone tells an attacker with the database almost nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

_N, _R, _P = 2**14, 8, 1
METHODS = {"md5": hashlib.md5, "sha": hashlib.sha1}


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)


def bucket(digest_hex: str) -> str:
    """The 16-bit bucket a credentials digest falls in."""
    return hashlib.sha256(digest_hex.lower().encode()).hexdigest()[:4]


def private_fields(username: str, password: str) -> dict[str, Any]:
    """What a user document keeps of a password: per method, the scrypt hash and the bucket of its digest."""
    fields: dict[str, Any] = {}
    for method, algorithm in METHODS.items():
        digest = algorithm(f"{username.lower()}:{password}".encode()).hexdigest()
        salt = os.urandom(16)
        fields[f"pvt_{method}_auth"] = f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(digest, salt).hex()}"
        fields[f"pvt_{method}_bucket"] = bucket(digest)
    return fields


def matches(user: dict[str, Any], method: str, digest_hex: str) -> bool:
    """True if *digest_hex* is this user's credentials digest for *method*."""
    stored = user.get(f"pvt_{method}_auth")
    if not isinstance(stored, str) or user.get(f"pvt_{method}_bucket") != bucket(digest_hex):
        return False
    try:
        _, n, r, p, salt, expected = stored.split("$")
        got = hashlib.scrypt(
            digest_hex.lower().encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), expected)
