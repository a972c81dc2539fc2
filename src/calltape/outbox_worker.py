"""The loop both notification outboxes run (the mailer, the webhook sender): claim what is due, attempt each row
with a deadline, record every outcome, sleep until woken or until something may be claimable.

At most ``concurrency`` attempts run at once; a finished one wakes the loop (a row it held back may now go). An
attempt that outlives ``lease × 0.8`` is abandoned and counted as failed, before another node could claim the row;
an unexpected error in an attempt fails its row at once with the error as the reason, so no row is claimed for ever.
At start the rows this node held before a restart are freed. Rows that are done stay in the API's logs for
``KEPT_DAYS`` days after their last attempt, then are forgotten (looked at hourly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Generic, TypeVar

from calltape.retry import DEFAULT_HORIZON, retry_delay
from calltape.store.leased_outbox import LeasedOutbox
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

Row = TypeVar("Row")
IDLE_POLL = 30.0  # look at the outbox at least this often (another node may have queued or freed work)
RETRY_ROUNDS = 5  # Kazoo's storage_retry_times default: rounds 1 to 10 minutes apart before the hourly tries
KEPT_DAYS = 30  # how long a sent or failed row stays in the log
PRUNE_INTERVAL = 3600.0


class OutboxWorker(Generic[Row]):
    """Subclasses say how one row is attempted (``attempt``) and, if need be, when its round began."""

    name = "outbox"

    def __init__(
        self,
        outbox: LeasedOutbox,
        node: str,
        *,
        lease: float,
        concurrency: int,
        retry_base: float = 5.0,
        horizon: float = DEFAULT_HORIZON,
    ) -> None:
        self.outbox = outbox
        self.node = node
        self.lease = lease
        self.concurrency = concurrency
        self.retry_base = retry_base
        self.horizon = horizon
        self.failed_attempts = 0
        self._pruned_at = 0.0
        self._wake = asyncio.Event()
        self._tasks = TaskSet(self.name, on_done=self.wake)

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wake.set()

    async def run(self) -> None:
        """Attempt what is due, then sleep until woken or until something may be claimable."""
        try:
            with contextlib.suppress(Exception):  # the store down: the leases run out by themselves
                await self.outbox.release_leases(self.node)
            while True:
                self._wake.clear()
                await self._prune()
                wait = await self._attempt_due()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            self._tasks.cancel()
            await self._tasks.wait()
            await self.close()

    async def close(self) -> None:
        """Release what the worker holds (subclasses)."""

    async def attempt(self, row: Row) -> None:
        """Send *row* and record the outcome (``self.outbox.record`` or :meth:`failed`)."""
        raise NotImplementedError

    def round_started(self, row: Any) -> float:
        """When *row*'s round of attempts began (its horizon counts from then)."""
        return float(row.created)

    def describe(self, row: Any) -> str:
        """*row* in a log line."""
        return str(row.id)

    async def _prune(self) -> None:
        now = time.time()
        if now - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = now
        try:
            forgotten = await self.outbox.prune(now - KEPT_DAYS * 86400)
        except Exception as exc:  # the store is down: next hour
            log.error("%s: cannot forget old rows: %r", self.name, exc)
            return
        if forgotten:
            log.info("%s: forgot %d rows last tried more than %d days ago", self.name, forgotten, KEPT_DAYS)

    async def _attempt_due(self) -> float:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return IDLE_POLL  # woken when an attempt ends
        now = time.time()
        try:
            rows = await self.outbox.claim_due(self.node, now, self.lease, free)
            for row in rows:
                self._tasks.spawn(self._guarded(row))
            if len(rows) == free:
                return 0.0  # more may be due
            next_wake = await self.outbox.next_wake(now)
        except Exception as exc:  # the store is down: the outbox waits in it
            log.error("%s: cannot read the outbox: %r", self.name, exc)
            return 5.0
        return IDLE_POLL if next_wake is None else max(0.05, min(IDLE_POLL, next_wake - time.time()))

    async def _guarded(self, row: Any) -> None:
        deadline = self.lease * 0.8
        try:
            async with asyncio.timeout(deadline):
                await self.attempt(row)
        except TimeoutError:
            await self.failed(row, f"no outcome within {deadline:.0f} s", retry=True)
        except Exception as exc:  # a fault no retry mends (a malformed row): failed, with the reason
            log.exception("%s: %s failed", self.name, self.describe(row))
            await self.failed(row, f"internal error: {exc!r}", retry=False)

    async def failed(self, row: Any, error: str, *, retry: bool, retry_after: float | None = None) -> None:
        """Record a failed attempt: another later (Kazoo's schedule, *retry_after* if longer) until the horizon,
        or, if *retry* is false or the horizon has passed, the row ``failed``."""
        self.failed_attempts += 1
        tries = row.attempts + 1
        delay = retry_delay(tries, self.retry_base, RETRY_ROUNDS, retry_after)
        give_up = not retry or time.time() + delay > self.round_started(row) + self.horizon
        await self.outbox.attempt_failed(row.id, self.node, error, None if give_up else time.time() + delay)
        if give_up:
            log.error("%s: %s failed after %d attempts: %s", self.name, self.describe(row), tries, error)
        else:
            log.warning(
                "%s: %s: attempt %d failed (%s); next in %.0f s", self.name, self.describe(row), tries, error, delay
            )
