"""Account tokens: only their hash is stored; they expire after an hour and can be revoked."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from calltape.store import schema
from calltape.store.auth_tokens import TOKEN_SECONDS, AuthTokens
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, Documents


async def test_a_token_is_good_for_an_hour_until_revoked_and_only_its_hash_is_kept(database: Database) -> None:
    account = (await Documents(database, ACCOUNTS).create({"name": "t", "realm": "t.example.com"}))["id"]
    now = [1000.0]
    tokens = AuthTokens(database, clock=lambda: now[0])
    token, issued = await tokens.issue(account, "api_key")
    assert issued.expires == 1000.0 + TOKEN_SECONDS
    checked = await tokens.check(token)
    assert checked is not None and checked.account_id == account
    assert await tokens.check(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    async with database.engine.connect() as conn:
        stored = (await conn.execute(select(schema.auth_tokens.c.token_sha256))).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # the token itself is nowhere
    now[0] += TOKEN_SECONDS
    assert await tokens.check(token) is None  # expired
    fresh, _ = await tokens.issue(account, "api_key")
    assert await tokens.revoke(fresh) and await tokens.check(fresh) is None
    assert not await tokens.revoke(fresh)
