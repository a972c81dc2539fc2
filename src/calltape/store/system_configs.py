"""system_config documents (e.g. ``media``), stored whole by id."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, select

from calltape.store import schema
from calltape.store.database import Database


class SystemConfigs:
    """Get and replace system_config documents."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = schema.system_configs

    async def get(self, config_id: str) -> dict[str, Any] | None:
        """The stored document, or None if never written."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(self.table.c.doc).where(self.table.c.id == config_id))).first()
        return None if row is None else dict(row[0])

    async def put(self, config_id: str, doc: dict[str, Any]) -> None:
        """Store *doc* as the whole document."""
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.id == config_id))
            await conn.execute(insert(self.table).values(id=config_id, doc=doc, modified=time.time()))
