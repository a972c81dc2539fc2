"""The leased-row mechanics the notification outboxes share (e-mails, webhook events).

A row is ``pending`` until sent or given up. A node claims due rows by leasing them (``lease_until``,
``lease_owner``): no other node takes them meanwhile, and a node that died frees them when the lease runs out (or
at its own restart). An outcome is recorded only by the node that holds the lease, on a row still pending, so a
late answer of an attempt that outlived its lease cannot undo what another node recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Table, delete, func, select, update

from calltape.store.database import Database

Row = TypeVar("Row")
PRUNE_BATCH = 500  # rows forgotten per transaction


class OutboxState(StrEnum):
    """Where a row of an outbox is."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class LeasedOutbox:
    """Claims, wake-up times, outcomes and leases of one outbox *table* (whose key column is ``id``)."""

    def __init__(
        self,
        db: Database,
        table: Table,
        columns: list[Any],
        make: Callable[..., Any],
        *,
        order: ColumnElement[Any],
        held_back: ColumnElement[bool] | None = None,
    ) -> None:
        self.db = db
        self.table = table
        self.columns = columns  # what a claimed row carries, in *make*'s order
        self.make = make
        self.order = order  # which due rows are claimed first
        self.held_back = held_back  # a due row that must still wait (a webhook event behind an earlier one)

    async def claim_due(self, owner: str, now: float, lease: float, limit: int) -> list[Any]:
        """Hold up to *limit* due rows for *lease* seconds."""
        t = self.table
        free_and_due = (t.c.state == OutboxState.PENDING) & (t.c.due_at <= now) & (t.c.lease_until < now)
        claimable = free_and_due if self.held_back is None else free_and_due & ~self.held_back

        def work(conn: Connection) -> list[Any]:
            ids = list(conn.execute(select(t.c.id).where(claimable).order_by(self.order).limit(limit)).scalars())
            if not ids:
                return []
            held = conn.execute(
                update(t)
                .where(t.c.id.in_(ids) & free_and_due)
                .values(lease_until=now + lease, lease_owner=owner)
                .returning(*self.columns)
            )
            return [self.make(*row) for row in held]

        return await self.db.run(work)

    async def next_wake(self, now: float) -> float | None:
        """When something may next become claimable: the soonest row falling due, or the soonest lease running out
        (rows due now but held back are freed by the attempt they wait for)."""
        t = self.table
        pending = t.c.state == OutboxState.PENDING
        due = select(func.min(t.c.due_at)).where(pending & (t.c.due_at > now)).scalar_subquery()
        lease = select(func.min(t.c.lease_until)).where(pending & (t.c.lease_until > now)).scalar_subquery()
        async with self.db.engine.connect() as conn:
            found = (await conn.execute(select(due, lease))).one()
        times = [float(value) for value in found if value is not None]
        return min(times) if times else None

    async def record(self, row_id: str, owner: str, values: dict[str, Any]) -> bool:
        """An attempt's outcome (*values*, attempts counted), if *owner* still holds the row; whether it did."""
        t = self.table
        held = (t.c.id == row_id) & (t.c.state == OutboxState.PENDING) & (t.c.lease_owner == owner)

        def work(conn: Connection) -> bool:
            result = conn.execute(update(t).where(held).values(attempts=t.c.attempts + 1, lease_until=0.0, **values))
            return bool(result.rowcount)

        return await self.db.run(work)

    async def attempt_failed(self, row_id: str, owner: str, error: str, retry_at: float | None) -> bool:
        """One attempt failed: try again at *retry_at*, or (None) give up with state ``failed``."""
        again: dict[str, Any] = {"state": OutboxState.FAILED} if retry_at is None else {"due_at": retry_at}
        return await self.record(row_id, owner, {"last_error": error[:2000], "lease_owner": "", **again})

    async def release_leases(self, owner: str) -> None:
        """Free the rows *owner* held (it restarted: those attempts are over)."""
        t = self.table

        def work(conn: Connection) -> None:
            conn.execute(update(t).where(t.c.lease_owner == owner).values(lease_until=0.0, lease_owner=""))

        await self.db.run(work)

    async def prune(self, before: float, batch: int = PRUNE_BATCH) -> int:
        """Forget rows that are done (sent or failed) and whose last attempt was due before *before* (a retried
        row counts from its retry), *batch* at a time so the store is never held long; how many."""
        t = self.table
        done_and_old = (t.c.state != OutboxState.PENDING) & (t.c.due_at < before)
        some = select(t.c.id).where(done_and_old).limit(batch)

        def work(conn: Connection) -> int:
            ids = list(conn.execute(some).scalars())
            if ids:
                conn.execute(delete(t).where(t.c.id.in_(ids)))
            return len(ids)

        forgotten = 0
        while (step := await self.db.run(work)) == batch:
            forgotten += step
        return forgotten + step

    async def count_by_state(self) -> dict[str, int]:
        """How many rows are in each state."""
        t = self.table
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(t.c.state, func.count()).group_by(t.c.state))).all()
        return {str(state): int(count) for state, count in rows}
