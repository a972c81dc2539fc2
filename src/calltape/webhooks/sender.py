"""The webhook sender: POSTs the events the outbox holds, each signed, a recording's events in order per URL.

A 2xx answer is success. A receiver that is down, times out or answers 408, 425, 429 or 5xx is tried again as
recordings are (five tries 5 s apart, then 1 to 10 minutes apart, then hourly; Retry-After honoured) until the
delivery horizon; any other answer (a 3xx or 4xx) fails the event at once with the status as the reason. The body
and its signature are the same on every attempt; the event's ``id`` is the ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import httpx

from calltape.retry import DEFAULT_HORIZON, retry_after_seconds, retry_delay
from calltape.store.webhook_events import WebhookEvent, WebhookEvents
from calltape.tasks import TaskSet
from calltape.webhooks.signature import HEADER, sign

log = logging.getLogger(__name__)

LEASE = 120.0  # longer than one attempt can take
IDLE_POLL = 30.0
BATCH = 32
TIMEOUT = 10.0
RETRY_ROUNDS = 5
RETRIED_STATUSES = {408, 425, 429}


class WebhookSender:
    """Runs until cancelled; ``wake()`` when something was queued."""

    def __init__(
        self, store: WebhookEvents, node: str, *, retry_base: float = 5.0, horizon: float = DEFAULT_HORIZON
    ) -> None:
        self.store = store
        self.node = node
        self.retry_base = retry_base
        self.horizon = horizon
        self._wake = asyncio.Event()
        self._tasks = TaskSet("webhooks", on_done=self.wake)  # a sent event may free its recording's next one
        self._client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wake.set()

    async def run(self) -> None:
        """Send what is due, then sleep until woken or the next event falls due."""
        try:
            while True:
                self._wake.clear()
                wait = await self._send_due()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            self._tasks.cancel()
            await self._tasks.wait()
            await self._client.aclose()

    async def _send_due(self) -> float:
        try:
            due = await self.store.claim_due(self.node, time.time(), LEASE, BATCH)
            for event in due:
                self._tasks.spawn(self._attempt(event))
            if len(due) == BATCH:
                return 0.0
            next_due = await self.store.next_due()
        except Exception as exc:  # the store is down: the outbox waits in it
            log.error("webhooks: cannot read the outbox: %r", exc)
            return 5.0
        return IDLE_POLL if next_due is None else max(0.05, min(IDLE_POLL, next_due - time.time()))

    async def _attempt(self, event: WebhookEvent) -> None:
        body = json.dumps(event.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "calltape-webhooks",
            "X-Calltape-Event": event.event,
            "Idempotency-Key": event.id,
            HEADER: sign(event.secret, int(event.payload["timestamp"]), body),
        }
        try:
            response = await self._client.post(event.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            await self._failed(event, f"{type(exc).__name__}: {exc}", retry=True, retry_after=None)
            return
        if response.is_success:
            await self.store.sent(event.id)
            log.info("recording %s: %s sent to %s", event.recording_id, event.event, event.url)
            return
        retry = response.status_code >= 500 or response.status_code in RETRIED_STATUSES
        error = f"{event.url} answered {response.status_code}"
        await self._failed(
            event, error, retry=retry, retry_after=retry_after_seconds(response.headers.get("retry-after"))
        )

    async def _failed(self, event: WebhookEvent, error: str, *, retry: bool, retry_after: float | None) -> None:
        tries = event.attempts + 1
        delay = retry_delay(tries, self.retry_base, RETRY_ROUNDS, retry_after)
        if not retry or time.time() + delay > event.created + self.horizon:
            await self.store.attempt_failed(event.id, error, None)
            log.error(
                "recording %s: %s to %s failed after %d attempts: %s",
                event.recording_id,
                event.event,
                event.url,
                tries,
                error,
            )
            return
        await self.store.attempt_failed(event.id, error, time.time() + delay)
        log.warning(
            "recording %s: %s to %s: attempt %d failed (%s); next in %.0f s",
            event.recording_id,
            event.event,
            event.url,
            tries,
            error,
            delay,
        )
