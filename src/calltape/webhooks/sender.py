"""The webhook sender: POSTs the events the outbox holds, each signed, a recording's events in order per URL.

A 2xx answer is success. A receiver that is down, times out or answers 408, 425, 429 or 5xx is tried again as
recordings are (five tries 5 s apart, then 1 to 10 minutes apart, then hourly; Retry-After honoured) until the
delivery horizon; any other answer (a 3xx or 4xx) fails the event at once with the status as the reason. The body
is the same on every attempt and the event's ``id`` is the ``Idempotency-Key``; the signature's ``t`` is the time
of sending, so a receiver may refuse old timestamps. The loop is :class:`calltape.outbox_worker.OutboxWorker`'s.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from calltape.http_client import HTTP_ERRORS, HttpClient
from calltape.outbox_worker import OutboxWorker
from calltape.retry import DEFAULT_HORIZON, retry_after_seconds
from calltape.store.webhook_events import WebhookEvent, WebhookEvents
from calltape.webhooks.signature import HEADER, sign

log = logging.getLogger(__name__)

LEASE = 120.0  # an attempt is abandoned after 0.8 of this
CONCURRENCY = 32
TIMEOUT = 10.0
RETRIED_STATUSES = {408, 425, 429}


class WebhookSender(OutboxWorker[WebhookEvent]):
    """Runs until cancelled; ``wake()`` when something was queued."""

    name = "webhooks"

    def __init__(
        self, store: WebhookEvents, node: str, *, retry_base: float = 5.0, horizon: float = DEFAULT_HORIZON
    ) -> None:
        super().__init__(
            store.outbox, node, lease=LEASE, concurrency=CONCURRENCY, retry_base=retry_base, horizon=horizon
        )
        self.store = store
        self._client = HttpClient(connections=CONCURRENCY, timeout=TIMEOUT, read=TIMEOUT)

    async def close(self) -> None:
        await self._client.close()

    def describe(self, row: Any) -> str:
        return f"recording {row.recording_id}: {row.event} {row.id} to {row.url}"

    async def attempt(self, event: WebhookEvent) -> None:
        body = json.dumps(event.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "calltape-webhooks",
            "X-Calltape-Event": event.event,
            "Idempotency-Key": event.id,
            HEADER: sign(event.secret, int(time.time()), body),
        }
        try:
            answer = await self._client.request("POST", event.url, body=body, headers=headers)
        except HTTP_ERRORS as exc:
            await self.failed(event, f"{type(exc).__name__}: {exc}", retry=True)
            return
        if not answer.ok:
            retry = answer.status >= 500 or answer.status in RETRIED_STATUSES
            wish = retry_after_seconds(answer.headers.get("retry-after"))
            await self.failed(event, f"{event.url} answered {answer.status}", retry=retry, retry_after=wish)
        elif await self.store.sent(event.id, self.node):
            log.info("%s: sent", self.describe(event))
