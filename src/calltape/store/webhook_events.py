"""Recording status webhook events: the durable outbox of POSTs to make, and afterwards their log.

An event is written ``pending`` with the body it will carry, one row per subscribed URL. The sender leases due
rows — never one whose recording has an earlier event still pending for the same URL, so each receiver gets a
recording's events in the order they happened — POSTs them and records the outcome: ``sent``, another attempt
later, or ``failed`` (``POST …/webhook_events/{id}/retry`` queues it again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, insert, select, update
from sqlalchemy.orm import aliased

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import Doc, NotFoundError
from calltape.store.leased_outbox import LeasedOutbox, OutboxState

_t = schema.webhook_events
_earlier = aliased(_t)


@dataclass(frozen=True)
class WebhookEvent:
    """An event as the sender POSTs it."""

    id: str
    account_id: str
    recording_id: str
    event: str
    url: str
    secret: str
    created: float
    attempts: int  # attempts made before this one
    payload: Doc


_COLUMNS = [_t.c.id, _t.c.account_id, _t.c.recording_id, _t.c.event, _t.c.url, _t.c.secret, _t.c.created]
_COLUMNS += [_t.c.attempts, _t.c.payload]


def as_log_entry(row: Any) -> Doc:
    """A row as ``/webhook_events`` shows it (never its secret)."""
    entry = {
        "id": row.id,
        "event": row.event,
        "recording_id": row.recording_id,
        "url": row.url,
        "state": row.state,
        "created": row.created,
        "attempts": row.attempts,
        "sent_at": row.sent_at,
        "payload": row.payload,
    }
    if row.last_error:
        entry["error"] = row.last_error
    if row.state == OutboxState.PENDING:
        entry["next_attempt_at"] = row.due_at
    return entry


class WebhookEvents:
    """Webhook event rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        waits_for_earlier = exists().where(
            (_earlier.c.recording_id == _t.c.recording_id)
            & (_earlier.c.url == _t.c.url)
            & (_earlier.c.state == OutboxState.PENDING)
            & (_earlier.c.seq < _t.c.seq)
        )
        # a recording's events go to a URL in order: one waits while an earlier one is pending
        self.outbox = LeasedOutbox(db, _t, _COLUMNS, WebhookEvent, order=_t.c.seq, held_back=waits_for_earlier)

    async def queue(self, rows: list[Doc]) -> None:
        """Events to send now (each with id, account_id, recording_id, event, url, secret, created, payload)."""
        await self.db.run(lambda conn: queue_in(conn, rows))

    async def sent(self, event_id: str, owner: str) -> bool:
        """The receiver took it (2xx)."""
        return await self.outbox.record(
            event_id, owner, {"state": OutboxState.SENT, "sent_at": time.time(), "last_error": ""}
        )

    # ---- the API's side -------------------------------------------------------------------------------

    async def get(self, account_id: str, event_id: str) -> Any:
        """One row, or NotFoundError."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(_t).where((_t.c.id == event_id) & (_t.c.account_id == account_id)))
            ).first()
        if row is None:
            raise NotFoundError(event_id)
        return row

    async def list(
        self,
        account_id: str,
        *,
        state: str | None = None,
        recording_id: str | None = None,
        start_key: str | None = None,
        page_size: int = 50,
    ) -> tuple[list[Any], str | None]:
        """Newest first; a page and the ``start_key`` of the next one (None on the last page)."""
        where = [_t.c.account_id == account_id]
        if state:
            where.append(_t.c.state == state)
        if recording_id:
            where.append(_t.c.recording_id == recording_id)
        async with self.db.engine.connect() as conn:
            if start_key:
                anchor = (await conn.execute(select(_t.c.seq).where(_t.c.id == start_key))).first()
                if anchor is None:
                    raise NotFoundError(start_key)
                where.append(_t.c.seq <= anchor[0])
            query = select(_t).where(*where).order_by(_t.c.seq.desc()).limit(page_size + 1)
            rows = list((await conn.execute(query)).all())
        return rows[:page_size], (rows[page_size].id if len(rows) > page_size else None)

    async def retry(self, account_id: str, event_id: str) -> Any:
        """Queue a failed event again: a fresh round of attempts, its horizon counted from now (``created`` is when
        the round started; the body keeps the event's own time); the row."""
        row = await self.get(account_id, event_id)
        if row.state != OutboxState.FAILED:
            raise ValueError(f"only a failed event can be sent again; this one is {row.state}")
        now = time.time()
        values = {"state": OutboxState.PENDING, "attempts": 0, "due_at": now, "created": now}
        async with self.db.engine.begin() as conn:
            await conn.execute(update(_t).where(_t.c.id == event_id).values(lease_until=0.0, lease_owner="", **values))
        return await self.get(account_id, event_id)


def queue_in(conn: Connection, rows: list[Doc]) -> None:
    """:meth:`WebhookEvents.queue` inside a transaction of the caller's (the change the events report)."""
    pending = {"state": OutboxState.PENDING, "attempts": 0, "lease_until": 0.0, "lease_owner": "", "last_error": ""}
    conn.execute(insert(_t), [{**row, **pending, "due_at": row["created"]} for row in rows])
