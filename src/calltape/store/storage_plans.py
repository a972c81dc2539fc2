"""Accounts' storage plans (Kazoo's ``/storage`` document), one per account."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, select

from calltape.store import schema
from calltape.store.database import Database


class StoragePlans:
    """Get, replace and remove an account's storage plan."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = schema.storage_plans

    async def get(self, account_id: str) -> dict[str, Any] | None:
        """The plan, or None."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(self.table.c.doc).where(self.table.c.account_id == account_id))).first()
        return None if row is None else dict(row[0])

    async def put(self, account_id: str, doc: dict[str, Any]) -> None:
        """Store *doc* as the account's whole plan."""
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.account_id == account_id))
            await conn.execute(insert(self.table).values(account_id=account_id, doc=doc, modified=time.time()))

    async def delete(self, account_id: str) -> bool:
        """Remove the plan; whether there was one."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self.table.c.account_id == account_id))
        return bool(result.rowcount)
