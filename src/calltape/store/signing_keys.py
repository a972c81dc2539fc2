"""The nodes' public keys for recording manifests, shared through the database so any node's API serves them."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from calltape.store import schema
from calltape.store.database import Database

_t = schema.signing_keys


class SigningKeys:
    """Public keys by ``key_id``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(self, key_id: str, node: str, public_key: str) -> None:
        """Note a node's key (once: a key already known keeps its first node and time)."""

        def work(conn: Connection) -> None:
            if conn.execute(select(_t.c.key_id).where(_t.c.key_id == key_id)).first() is None:
                conn.execute(insert(_t).values(key_id=key_id, node=node, public_key=public_key, created=time.time()))

        with contextlib.suppress(IntegrityError):  # another worker of this data directory noted it just now
            await self.db.run(work)

    async def all(self) -> list[dict[str, Any]]:
        """Every key, oldest first."""
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(_t).order_by(_t.c.created))).all()
        return [{"key_id": r.key_id, "node": r.node, "public_key": r.public_key, "created": r.created} for r in rows]
