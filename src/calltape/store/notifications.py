"""E-mail notifications: the durable outbox of messages to send, and afterwards Kazoo's SMTP log.

A notification is written ``pending`` when its event happens (a voicemail left, a full box), in its own row with
everything the e-mail needs, so a restart or an SMTP server that is down loses nothing. The mailer leases due rows,
sends them and records the outcome on the row: ``sent`` with the server's receipt, or another attempt later, or
``failed`` with the reason (``POST …/smtplog/{id}/retry`` queues it again).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import Doc, NotFoundError
from calltape.store.leased_outbox import LeasedOutbox, OutboxState

_t = schema.notifications


@dataclass(frozen=True)
class Notification:
    """A notification as the mailer sends it."""

    id: str
    account_id: str
    template_id: str
    call_id: str
    created: float
    attempts: int  # attempts made before this one
    doc: Doc  # emails {from, to}, subject, rendered_templates, attachments, and what to do once sent


_COLUMNS = [_t.c.id, _t.c.account_id, _t.c.template_id, _t.c.call_id, _t.c.created, _t.c.attempts, _t.c.doc]


def as_smtp_log(row: Any) -> Doc:
    """A row as Kazoo's ``/notifications/smtplog/{id}`` shows it, with calltape's delivery facts."""
    doc = {k: v for k, v in row.doc.items() if k != "after_sent"}
    doc["attachments"] = [{k: v for k, v in a.items() if k != "path"} for a in doc.get("attachments", [])]
    doc.update(
        id=row.id,
        account_id=row.account_id,
        template_id=row.template_id,
        call_id=row.call_id,
        state=row.state,
        created=row.created,
        attempts=row.attempts,
        sent_at=row.sent_at,
    )
    if row.last_error:
        doc["error"] = row.last_error
    if row.state == OutboxState.PENDING:
        doc["next_attempt_at"] = row.due_at
    return doc


class Notifications:
    """Notification rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.outbox = LeasedOutbox(db, _t, _COLUMNS, Notification, order=_t.c.due_at)

    async def queue(self, account_id: str, template_id: str, call_id: str, doc: Doc) -> str:
        """A notification to send now; its id."""
        now = time.time()
        row = {
            "id": uuid.uuid4().hex,
            "account_id": account_id,
            "template_id": template_id,
            "call_id": call_id,
            "state": OutboxState.PENDING,
            "created": now,
            "due_at": now,
            "lease_until": 0.0,
            "lease_owner": "",
            "attempts": 0,
            "last_error": "",
            "doc": doc,
        }

        def work(conn: Connection) -> None:
            conn.execute(insert(_t), row)

        await self.db.run(work)
        return str(row["id"])

    async def sent(self, notification: Notification, owner: str, receipt: str, sender: str, refused: str = "") -> bool:
        """The SMTP server took it from *sender*: its receipt (and the recipients it refused, if some were)."""
        doc = {**notification.doc, "emails": {**notification.doc["emails"], "from": sender}, "receipt": receipt}
        values = {"state": OutboxState.SENT, "sent_at": time.time(), "last_error": refused, "doc": doc}
        return await self.outbox.record(notification.id, owner, values)

    # ---- the API's side -------------------------------------------------------------------------------

    async def get(self, account_id: str, notification_id: str) -> Any:
        """One row, or NotFoundError."""
        where = (_t.c.id == notification_id) & (_t.c.account_id == account_id)
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(_t).where(where))).first()
        if row is None:
            raise NotFoundError(notification_id)
        return row

    async def list(
        self, account_id: str, *, state: str | None = None, start_key: str | None = None, page_size: int = 50
    ) -> tuple[list[Any], str | None]:
        """Newest first; a page and the ``start_key`` of the next one (None on the last page)."""
        where = [_t.c.account_id == account_id]
        if state:
            where.append(_t.c.state == state)
        async with self.db.engine.connect() as conn:
            if start_key:
                anchor = (await conn.execute(select(_t.c.created).where(_t.c.id == start_key))).first()
                if anchor is None:
                    raise NotFoundError(start_key)
                where.append(or_(_t.c.created < anchor[0], and_(_t.c.created == anchor[0], _t.c.id <= start_key)))
            query = select(_t).where(*where).order_by(_t.c.created.desc(), _t.c.id.desc()).limit(page_size + 1)
            rows = list((await conn.execute(query)).all())
        return rows[:page_size], (rows[page_size].id if len(rows) > page_size else None)

    async def retry(self, account_id: str, notification_id: str) -> Any:
        """Queue a failed notification again: a fresh round of attempts, its horizon counted from now (the
        document's ``retried_at``); the row."""
        row = await self.get(account_id, notification_id)
        if row.state != OutboxState.FAILED:
            raise ValueError(f"only a failed notification can be sent again; this one is {row.state}")
        now = time.time()
        doc = {**row.doc, "retried_at": now}
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(_t)
                .where(_t.c.id == notification_id)
                .values(state=OutboxState.PENDING, attempts=0, due_at=now, lease_until=0.0, lease_owner="", doc=doc)
            )
        return await self.get(account_id, notification_id)
