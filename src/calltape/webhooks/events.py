"""What happens to a recording, told to the account's ``recording_webhooks``.

Each webhook of the account (``{"url", "secret", "events"}``; no ``events``: all of them) that wants the event gets
one row in the outbox, with the body fixed now: ``{"id", "event", "timestamp", "account_id", "recording_id",
"data"}`` where ``data`` is the recording's document as the API shows it at that moment. An event that reports a
change of the recording's row (started, completed, discarded, delivered, failed, deleted) is queued in that
change's own transaction (:meth:`RecordingEvents.notice`): a crash cannot keep the change and lose its event.
Pause, resume and masks change no row; they are queued when they happen (:meth:`RecordingEvents.emit`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection

from calltape.logs import throttle
from calltape.store.documents import Doc, Documents, NotFoundError
from calltape.store.recordings import AfterChange, Recordings, as_document
from calltape.store.ttl_cache import TtlCache
from calltape.store.webhook_events import WebhookEvents, queue_in

log = logging.getLogger(__name__)

EVENTS = (
    "recording.started",
    "recording.paused",
    "recording.resumed",
    "recording.masked",
    "recording.unmasked",
    "recording.completed",
    "recording.delivered",
    "recording.failed",
    "recording.discarded",
    "recording.deleted",
)
CONFIG_TTL = 5.0  # seconds an account's webhooks are remembered


class StatusEvents(Protocol):
    """Where a recording's status changes are told."""

    async def emit(self, account_id: str, recording_id: str, event: str) -> None:
        """Tell *event* of the recording (never raises)."""

    async def notice(self, account_id: str, recording_id: str, event: str) -> AfterChange | None:
        """What queues *event* in the transaction of the change it reports; None if nobody wants it."""

    def wake(self) -> None:
        """Events were queued by a change: send them."""


async def notice(events: StatusEvents | None, account_id: str, recording_id: str, event: str) -> AfterChange | None:
    """What queues *event* in the transaction of the change it reports (None: no events, or nobody wants it)."""
    return await events.notice(account_id, recording_id, event) if events is not None else None


def wake_for(events: StatusEvents | None, told: AfterChange | None) -> None:
    """A change that queued events (*told*) was committed: the sender looks now."""
    if told is not None and events is not None:
        events.wake()


class RecordingEvents:
    """Queues webhook events; ``emit`` costs nothing more than a cached look at the account when it has none."""

    def __init__(
        self, accounts: Documents, recordings: Recordings, store: WebhookEvents, on_queued: Callable[[], None]
    ) -> None:
        self.accounts = accounts
        self.recordings = recordings
        self.store = store
        self.on_queued = on_queued
        self._webhooks = TtlCache(CONFIG_TTL)

    def forget(self) -> None:
        """Accounts changed: read their webhooks afresh."""
        self._webhooks.clear()

    async def emit(self, account_id: str, recording_id: str, event: str) -> None:
        """Queue *event* for every webhook of the account that wants it, with the recording as it is now. Never
        raises: a failure is logged, the recording goes on."""
        try:
            wanted = await self._wanted(account_id, event)
            if not wanted:
                return
            document = as_document(await self.recordings.get(account_id, recording_id))
            await self.store.queue(_rows(wanted, account_id, recording_id, event, document))
            self.on_queued()
        except Exception:
            log.exception("recording %s: the %s webhook event could not be queued", recording_id, event)

    async def notice(self, account_id: str, recording_id: str, event: str) -> AfterChange | None:
        """The work that queues *event* for the account's webhooks that want it, to be run by the store in the
        transaction of the change it reports, with the row as that change left it; None when no webhook wants it
        (or the account cannot be read: the change goes on untold, and the log says so)."""
        try:
            wanted = await self._wanted(account_id, event)
        except Exception as exc:  # the store down: once per event and interval, not once per recording
            throttle.error(
                log, ("notice", event), exc, "recording %s: the %s webhook event cannot be queued", recording_id, event
            )
            return None
        if not wanted:
            return None

        def queue(conn: Connection, row: Any) -> None:
            queue_in(conn, _rows(wanted, account_id, recording_id, event, as_document(row)))

        return queue

    def wake(self) -> None:
        """Events were queued by a change: the sender looks now."""
        self.on_queued()

    async def _wanted(self, account_id: str, event: str) -> list[dict[str, Any]]:
        hooks = await self._webhooks.get(account_id, lambda: self._load(account_id))
        return [hook for hook in hooks if _wants(hook, event)]

    async def _load(self, account_id: str) -> list[dict[str, Any]]:
        try:
            account = await self.accounts.get(account_id)
        except NotFoundError:
            return []
        hooks = account.get("recording_webhooks") or []
        return [h for h in hooks if isinstance(h, dict) and h.get("url") and h.get("secret")]


def _wants(hook: dict[str, Any], event: str) -> bool:
    events = hook.get("events")
    return not events or event in events


def _rows(hooks: list[dict[str, Any]], account_id: str, recording_id: str, event: str, document: Doc) -> list[Doc]:
    """One outbox row per webhook, each with its body fixed now."""
    now = time.time()
    rows = []
    for hook in hooks:
        event_id = uuid.uuid4().hex
        body = {
            "id": event_id,
            "event": event,
            "timestamp": now,
            "account_id": account_id,
            "recording_id": recording_id,
            "data": document,
        }
        rows.append(
            {
                "id": event_id,
                "account_id": account_id,
                "recording_id": recording_id,
                "event": event,
                "url": hook["url"],
                "secret": hook["secret"],
                "created": now,
                "payload": body,
            }
        )
    return rows
