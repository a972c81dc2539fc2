"""API tokens scoped to one account (and its descendants): issued, checked, revoked.

A token is 32 random bytes shown once, as hex; the store keeps only its SHA-256, so a copy of the database
holds no usable token. A token lasts ``TOKEN_SECONDS`` (an hour, as Kazoo's).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from calltape.store import schema
from calltape.store.database import Database

TOKEN_SECONDS = 3600.0
_t = schema.auth_tokens


@dataclass(frozen=True)
class IssuedToken:
    """A token's account, how it was obtained, until when it is good (Unix time), and for user_auth the user and
    their ``priv_level`` (``admin``: the whole account; ``user``: what the user owns)."""

    account_id: str
    method: str
    expires: float
    user_id: str | None = None
    priv_level: str = "admin"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthTokens:
    """The tokens table."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def issue(
        self, account_id: str, method: str, user_id: str | None = None, priv_level: str = "admin"
    ) -> tuple[str, IssuedToken]:
        """A new token for *account_id* (and what lies below it)."""
        token = secrets.token_hex(32)
        now = self.clock()
        issued = IssuedToken(account_id, method, now + TOKEN_SECONDS, user_id, priv_level)
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(_t).where(_t.c.expires < now))  # the expired go as new ones come
            await conn.execute(
                insert(_t).values(
                    token_sha256=_digest(token),
                    account_id=account_id,
                    method=method,
                    user_id=user_id,
                    priv_level=priv_level,
                    created=now,
                    expires=issued.expires,
                )
            )
        return token, issued

    async def check(self, token: str) -> IssuedToken | None:
        """What *token* is good for, or None (unknown, revoked or expired)."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_t.c.account_id, _t.c.method, _t.c.expires, _t.c.user_id, _t.c.priv_level).where(
                        _t.c.token_sha256 == _digest(token)
                    )
                )
            ).first()
        if row is None or row[2] <= self.clock():
            return None
        return IssuedToken(str(row[0]), str(row[1]), float(row[2]), row[3], str(row[4]))

    async def revoke(self, token: str) -> bool:
        """Revoke *token*; False if it was not known."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(_t).where(_t.c.token_sha256 == _digest(token)))
        return bool(result.rowcount)
