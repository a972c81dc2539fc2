"""The delivery worker: takes due recordings from the outbox in the store and moves each to its target.

Every attempt is recorded on the recording's row (attempts, last error). A failure is tried again at
least as Kazoo does: five tries 5 s apart, then ``storage_retry_times`` rounds (system_config media
``call_recording.storage_retry_times``, default 5) 1 to 10 minutes apart, then on every hour — each wait
up to a quarter longer, or later if the receiver asks with Retry-After — until the delivery horizon
(``--delivery-horizon``, default 24 h after the hang-up). Only then is the recording ``failed``: kept on
disk, and ``POST …/retry`` starts a fresh round. Nothing is dropped. Because the outbox is in the store, a
restart resumes every pending delivery, and the outcome of a confirmed delivery is committed in the same
transaction that removes its outbox entry, so it is never sent again. The spool file is deleted only after
that commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from calltape.at_rest.keyring import KeyUnavailableError
from calltape.at_rest.sealed import is_sealed, seal_of
from calltape.delivery.http import UploadError
from calltape.delivery.targets import target_from_dict
from calltape.http_client import HttpClient
from calltape.logs import throttle
from calltape.prometheus import histogram
from calltape.retry import DEFAULT_HORIZON, retry_delay
from calltape.store.recordings import DueRecording, Recordings
from calltape.tasks import TaskSet
from calltape.webhooks.events import StatusEvents, notice, wake_for

log = logging.getLogger(__name__)

LEASE = 600.0  # longer than one attempt can take: a node that died holding an entry frees it after this
IDLE_POLL = 30.0  # look at the outbox at least this often (another node may have queued or freed work)
CANARY_EVERY = 30.0  # a receiver recordings wait for is tried at least this often (one of them), however long
# their own waits have grown: once it takes uploads again, the rest follow at once (``hasten``)
BATCH = 64
#: Hang-up → delivered (seconds): a healthy node delivers in well under a second; retries take minutes.
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
LATENCY_METRIC = "calltape_recording_delivery_latency_seconds"
ELSEWHERE_RETRY = 60.0  # seconds before a recording whose audio is on another node is looked at again
KEY_WAIT_BASES = 6  # a recording whose key is not in the keyring is looked at again after this many retry bases


class DeliveryWorker:
    """Runs until cancelled; ``wake()`` when something was queued."""

    def __init__(
        self,
        store: Recordings,
        node: str,
        retry_times: Callable[[], Awaitable[int]],
        *,
        retry_base: float = 5.0,
        horizon: float = DEFAULT_HORIZON,
        concurrency: int = 64,
        events: StatusEvents | None = None,
    ) -> None:
        self.store = store
        self.events = events  # the account's webhooks hear of each delivery and each give-up
        self.node = node
        self.retry_times = retry_times
        self.retry_base = retry_base
        self.horizon = horizon
        self._wake = asyncio.Event()
        self._concurrency = concurrency
        self._backlog = False  # the last look at the outbox left due entries for want of room
        self._canaries_at = time.time() + CANARY_EVERY  # when a receiver that recordings wait for is tried next
        self._tasks = TaskSet("delivery", on_done=self._delivery_ended)
        # room above the cap: recordings finishing together are leased before any of them is counted as running
        self._client = HttpClient(connections=concurrency + BATCH)
        self.delivered = 0
        self.failed_attempts = 0
        self.latencies: deque[float] = deque(maxlen=1000)  # seconds from a recording's end to its delivery
        # the same, every delivery since the start (/metrics; with --workers, every worker's)
        self.latency = histogram(LATENCY_METRIC, "Hangup to delivery, every delivery since the start.", BUCKETS)

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wake.set()

    def lease_now(self) -> tuple[str, float] | None:
        """(this node, the lease) if a recording finishing now can be delivered at once: it is then queued
        already held by this node and handed to :meth:`deliver_now`, with no claim from the outbox."""
        return (self.node, LEASE) if len(self._tasks) < self._concurrency else None

    def deliver_now(self, row: DueRecording) -> None:
        """Deliver *row*, queued with the lease :meth:`lease_now` gave."""
        self._tasks.spawn(self._deliver(row))

    def _delivery_ended(self) -> None:
        if self._backlog:  # room for an entry that is waiting
            self.wake()

    async def run(self) -> None:
        """Deliver what is due, then sleep until woken or the next entry falls due."""
        try:
            while True:
                self._wake.clear()
                if time.time() >= self._canaries_at:
                    await self._send_canaries()
                next_due = await self._deliver_due()
                wait = IDLE_POLL if next_due is None else max(0.05, min(IDLE_POLL, next_due - time.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            await self.close()

    async def _send_canaries(self) -> None:
        """One recording per receiver that others wait for is due now (at most every CANARY_EVERY seconds)."""
        now = time.time()
        self._canaries_at = now + CANARY_EVERY
        try:
            await self.store.canaries(place_of, now, CANARY_EVERY)
        except Exception as exc:  # the store is down: the outbox waits in it
            log.error("delivery: cannot look at the waiting recordings: %r", exc)

    async def settle(self, timeout: float) -> None:
        """Wait at most *timeout* seconds for the deliveries under way to end (a draining node)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tasks.wait(), timeout)

    async def close(self) -> None:
        """Stop: attempts under way are abandoned (their entries stay in the outbox for the next start)."""
        self._tasks.cancel()
        await self._tasks.wait()
        await self._client.close()

    async def _deliver_due(self) -> float | None:
        free = self._concurrency - len(self._tasks)
        self._backlog = free <= 0
        if self._backlog:
            return None  # woken again when a delivery ends
        try:
            rows, next_due = await self.store.claim_due(self.node, time.time(), LEASE, min(free, BATCH))
        except Exception as exc:  # the store is down: the outbox waits in it
            log.error("delivery: cannot read the outbox: %r", exc)
            return time.time() + 5.0
        for row in rows:
            self._tasks.spawn(self._deliver(row))
        self._backlog = len(rows) == min(free, BATCH)  # a full batch: more may be due
        return time.time() if self._backlog else next_due

    async def _deliver(self, row: DueRecording) -> None:
        try:
            await self._attempt(row)
        except Exception as exc:  # recorded if the store lets us; else the lease runs out and it is tried again
            log.error("call-id %s: delivery of recording %s failed: %r", row.call_id, row.id, exc)
            try:
                await self._failed(row, f"internal error: {exc!r}", None)
            except Exception as again:
                log.error(
                    "call-id %s: recording %s: outcome not recorded (%r); retried after %.0f s",
                    row.call_id,
                    row.id,
                    again,
                    LEASE,
                )

    async def _attempt(self, row: DueRecording) -> None:
        path = Path(row.spool_path)
        try:
            target = target_from_dict(row.target)
        except (ValueError, KeyError, TypeError) as exc:  # written by another version: no attempt can succeed
            await self._failed(row, f"cannot deliver to {row.target!r}: {exc}", None, final=True)
            return
        elsewhere = row.node != self.node and time.time() < row.created + self.horizon  # and not given up on yet
        if not path.exists() and elsewhere:  # in another node's spool: that node delivers it when it is up
            reason = f"the audio is in node {row.node}'s spool ({path}), not here"
            throttle.log(
                log,
                logging.WARNING,
                ("elsewhere", row.node),
                "call-id %s: recording %s: %s",
                row.call_id,
                row.id,
                reason,
            )
            await self.store.pass_on(row.id, reason, time.time() + ELSEWHERE_RETRY)
            return
        if not path.exists():
            await self._failed(row, f"the spool file {path} is missing", None, final=True)
            return
        try:
            if is_sealed(path):  # its key must open it before anything is sent (finding the key may read a file)
                await asyncio.to_thread(seal_of, path)
        except KeyUnavailableError as exc:  # kept, and looked at again (no attempt counted, never given up on)
            reason = f"waits for its key: {exc}"
            line = "call-id %s: recording %s %s"  # one line per missing key and interval, however many wait
            throttle.log(log, logging.WARNING, ("no-key", str(exc)), line, row.call_id, row.id, reason)
            await self.store.pass_on(row.id, reason, time.time() + KEY_WAIT_BASES * self.retry_base)
            self.wake()  # the loop's next look is then no later than this recording's
            return
        try:
            sent = await target.send(row, path, self._client)
        except UploadError as exc:
            await self._failed(row, str(exc), exc.retry_after)
            return
        except OSError as exc:
            await self._failed(row, f"{type(exc).__name__}: {exc}", None)
            return
        told = await notice(self.events, row.account_id, row.id, "recording.delivered")
        await self.store.delivered(row.id, sent.state, sent.audio, after=told)
        wake_for(self.events, told)
        await asyncio.to_thread(path.unlink, missing_ok=True)  # freeing a file's blocks may wait on the disk
        ended = row.created + row.duration_ms / 1000  # the audio's end: a few ms late at most (frames are placed)
        self.delivered += 1
        latency = max(0.0, time.time() - ended)
        self.latencies.append(latency)
        self.latency.observe(latency)
        log.info(
            "call-id %s: recording %s delivered to %s (attempt %d)", row.call_id, row.name, sent.where, row.attempts + 1
        )
        if row.attempts:  # a retry got through: the recordings waiting for the same receiver need not wait longer
            place = place_of(row.target)
            hastened = await self.store.hasten(lambda target: place_of(target) == place, time.time())
            if hastened:
                log.info("delivery: %s takes uploads again: %d waiting recordings are due now", place, hastened)
                self.wake()

    async def _failed(self, row: DueRecording, error: str, retry_after: float | None, *, final: bool = False) -> None:
        retries = row.attempts  # attempts before this one: this failure is attempt row.attempts + 1
        self.failed_attempts += 1
        delay = retry_delay(retries + 1, self.retry_base, await self.retry_times(), retry_after)
        round_started = max(row.created + row.duration_ms / 1000, float(row.doc.get("retried_at") or 0))
        if final or time.time() + delay > round_started + self.horizon:
            told = await notice(self.events, row.account_id, row.id, "recording.failed")
            await self.store.attempt_failed(row.id, error, None, after=told)
            wake_for(self.events, told)
            log.error(
                "call-id %s: recording %s not delivered after %d attempts (%s); kept at %s, state failed",
                row.call_id,
                row.name,
                retries + 1,
                error,
                row.spool_path,
            )
            return
        await self.store.attempt_failed(row.id, error, time.time() + delay)
        log.warning(
            "call-id %s: recording %s: attempt %d failed (%s); next in %.0f s",
            row.call_id,
            row.name,
            retries + 1,
            error,
            delay,
        )
        self.wake()


def place_of(target: dict[str, Any]) -> str:
    """Where a delivery goes, as far as an outage goes: its kind and its URL's host and port (``http`` targets),
    or its kind alone (a storage plan's)."""
    return f"{target.get('kind', '')}:{urlsplit(str(target.get('url') or '')).netloc}"
