"""The notification outboxes forget what is done a month after its last attempt (SQLite and PostgreSQL): sent and
failed rows last tried more than ``KEPT_DAYS`` ago go, pending ones never do, and the loop does it by itself."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import update

from calltape.notify.mailer import Mailer
from calltape.outbox_worker import KEPT_DAYS
from calltape.store.database import Database
from calltape.store.leased_outbox import OutboxState
from calltape.store.notifications import Notifications
from calltape.store.schema import notifications
from calltape.store.system_configs import SystemConfigs

DAY = 86400.0


async def _aged(db: Database, store: Notifications, state: OutboxState, days: float, tried: float | None = None) -> str:
    """A row made *days* ago, last tried *tried* days ago (then, unless said)."""
    row_id = await store.queue("acc", "voicemail_to_email", "call-1", {"emails": {"to": ["a@b.example"]}})
    created = time.time() - days * DAY
    due_at = time.time() - (days if tried is None else tried) * DAY

    def work(conn: object) -> None:
        statement = update(notifications).where(notifications.c.id == row_id)
        conn.execute(statement.values(state=state, created=created, due_at=due_at))  # type: ignore[attr-defined]

    await db.run(work)
    return row_id


async def _left(store: Notifications) -> dict[str, int]:
    return await store.outbox.count_by_state()


async def test_done_rows_older_than_a_month_are_forgotten_and_pending_ones_kept(database: Database) -> None:
    store = Notifications(database)
    for state, days, tried in [
        (OutboxState.SENT, 31, None),
        (OutboxState.FAILED, 40, None),
        (OutboxState.SENT, 29, None),  # still in the log
        (OutboxState.SENT, 90, 2),  # retried two days ago and sent: counts from its retry
        (OutboxState.PENDING, 90, 60),  # never given up on: stays
    ]:
        await _aged(database, store, state, days, tried)
    assert await store.outbox.prune(time.time() - KEPT_DAYS * DAY, batch=1) == 2  # one at a time, to the end
    assert await _left(store) == {"sent": 2, "pending": 1}


async def test_the_mailer_forgets_them_by_itself(database: Database) -> None:
    store = Notifications(database)
    await _aged(database, store, OutboxState.SENT, 45)
    mailer = Mailer(store, SystemConfigs(database), "node-1")
    task = asyncio.create_task(mailer.run())
    try:
        for _ in range(200):
            if await _left(store) == {}:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await _left(store) == {}
