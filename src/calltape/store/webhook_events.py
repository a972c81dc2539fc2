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

from sqlalchemy import Connection, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import Doc, NotFoundError
from calltape.store.notifications import NotificationState

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
    if row.state == NotificationState.PENDING:
        entry["next_attempt_at"] = row.due_at
    return entry


class WebhookEvents:
    """Webhook event rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def queue(self, rows: list[Doc]) -> None:
        """Events to send now (each with id, account_id, recording_id, event, url, secret, created, payload)."""
        full = [{**row, "state": NotificationState.PENDING, "due_at": row["created"], "attempts": 0} for row in rows]

        def work(conn: Connection) -> None:
            conn.execute(insert(_t), [{**row, "lease_until": 0.0, "lease_owner": "", "last_error": ""} for row in full])

        await self.db.run(work)

    async def claim_due(self, owner: str, now: float, lease: float, limit: int) -> list[WebhookEvent]:
        """Hold up to *limit* due events for *lease* seconds: each the first still pending of its recording for its
        URL (so a receiver gets a recording's events in order)."""
        pending = NotificationState.PENDING
        waits_for_earlier = exists().where(
            (_earlier.c.recording_id == _t.c.recording_id)
            & (_earlier.c.url == _t.c.url)
            & (_earlier.c.state == pending)
            & (_earlier.c.seq < _t.c.seq)
        )
        free_and_due = (_t.c.state == pending) & (_t.c.due_at <= now) & (_t.c.lease_until < now)

        def work(conn: Connection) -> list[WebhookEvent]:
            due = select(_t.c.seq).where(free_and_due & ~waits_for_earlier).order_by(_t.c.seq).limit(limit)
            seqs = list(conn.execute(due).scalars())
            if not seqs:
                return []
            held = conn.execute(
                update(_t)
                .where(_t.c.seq.in_(seqs) & free_and_due)
                .values(lease_until=now + lease, lease_owner=owner)
                .returning(*_COLUMNS)
            )
            return [WebhookEvent(*row) for row in held]

        return await self.db.run(work)

    async def next_due(self) -> float | None:
        """When the soonest pending event falls due."""
        async with self.db.engine.connect() as conn:
            value = (await conn.execute(select(func.min(_t.c.due_at)).where(_t.c.state == "pending"))).scalar()
        return None if value is None else float(value)

    async def sent(self, event_id: str) -> None:
        """The receiver took it (2xx)."""
        values = {"state": NotificationState.SENT, "sent_at": time.time(), "last_error": "", "lease_until": 0.0}
        await self._update(event_id, {**values, "attempts": _t.c.attempts + 1})

    async def attempt_failed(self, event_id: str, error: str, retry_at: float | None) -> None:
        """One attempt failed: try again at *retry_at*, or (None) give up with state ``failed``."""
        values: dict[str, Any] = {"attempts": _t.c.attempts + 1, "last_error": error[:2000], "lease_until": 0.0}
        values.update({"state": NotificationState.FAILED} if retry_at is None else {"due_at": retry_at})
        await self._update(event_id, values)

    async def _update(self, event_id: str, values: dict[str, Any]) -> None:
        def work(conn: Connection) -> None:
            conn.execute(update(_t).where(_t.c.id == event_id).values(**values))

        await self.db.run(work)

    async def count_by_state(self) -> dict[str, int]:
        """How many events are in each state."""
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(_t.c.state, func.count()).group_by(_t.c.state))).all()
        return {str(state): int(count) for state, count in rows}

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
        if row.state != NotificationState.FAILED:
            raise ValueError(f"only a failed event can be sent again; this one is {row.state}")
        now = time.time()
        await self._update(
            event_id,
            {"state": NotificationState.PENDING, "attempts": 0, "due_at": now, "created": now, "lease_until": 0.0},
        )
        return await self.get(account_id, event_id)
