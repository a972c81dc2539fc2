"""The recordings' audit trail: one row per delete, legal-hold change, retry, play or download — who (the token's
user, its account, the operator, or ``system`` for retention), what, when and from where. Rows are only added."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, insert, select

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import Doc, NotFoundError

_t = schema.recording_audit
ACTIONS = ("deleted", "swept", "legal_hold_set", "legal_hold_lifted", "retried", "played", "downloaded", "link_issued")


def as_entry(row: Any) -> Doc:
    """A row as the API shows it."""
    return {
        "id": str(row.seq),
        "recording_id": row.recording_id,
        "action": row.action,
        "actor": row.actor,
        "remote": row.remote,
        "at": row.at,
        "detail": row.detail,
    }


class RecordingAudit:
    """The audit rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, account_id: str, recording_id: str, action: str, actor: str, remote: str = "", **detail: Any
    ) -> None:
        """Note *action* on a recording."""
        row: dict[str, Any] = {"account_id": account_id, "recording_id": recording_id, "action": action}
        row |= {"actor": actor, "remote": remote, "at": time.time(), "detail": detail}

        def work(conn: Connection) -> None:
            conn.execute(insert(_t), row)

        await self.db.run(work)

    async def list(
        self,
        account_id: str,
        *,
        recording_id: str | None = None,
        action: str | None = None,
        start_key: str | None = None,
        page_size: int = 50,
    ) -> tuple[list[Any], str | None]:
        """Newest first; a page and the ``start_key`` of the next one (None on the last page)."""
        where = [_t.c.account_id == account_id]
        if recording_id:
            where.append(_t.c.recording_id == recording_id)
        if action:
            where.append(_t.c.action == action)
        if start_key:
            if not start_key.isdigit():
                raise NotFoundError(start_key)
            where.append(_t.c.seq <= int(start_key))
        async with self.db.engine.connect() as conn:
            query = select(_t).where(*where).order_by(_t.c.seq.desc()).limit(page_size + 1)
            rows = list((await conn.execute(query)).all())
        return rows[:page_size], (str(rows[page_size].seq) if len(rows) > page_size else None)
