"""The mailer: sends the notifications the outbox holds, through system_config ``smtp_client``'s relay.

Each attempt is recorded on its row. A failure is tried again as recordings are (five tries 5 s apart, then
1 to 10 minutes apart, then hourly) until the delivery horizon (``--delivery-horizon``, 24 h by default); a
refusal no retry can mend (every recipient refused with a 5xx) fails at once. A failed notification stays in the
SMTP log with its reason, and ``POST …/notifications/smtplog/{id}/retry`` sends it again. Every e-mail of a
notification carries the same Message-ID, so a resend after a crash between sending and recording it can be
recognised by the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from calltape.notify.smtp import SMTP_CONFIG, SmtpClientConfig, SmtpError, send
from calltape.retry import DEFAULT_HORIZON, retry_delay
from calltape.store.notifications import Notification, Notifications
from calltape.store.system_configs import SystemConfigs
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

LEASE = 300.0  # longer than one attempt can take
IDLE_POLL = 30.0
BATCH = 16
RETRY_ROUNDS = 5  # Kazoo's storage_retry_times default: rounds 1 to 10 minutes apart before the hourly tries


class Mailer:
    """Runs until cancelled; ``wake()`` when something was queued."""

    def __init__(
        self,
        store: Notifications,
        configs: SystemConfigs,
        node: str,
        *,
        retry_base: float = 5.0,
        horizon: float = DEFAULT_HORIZON,
        after_sent: Callable[[Notification], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.configs = configs
        self.node = node
        self.retry_base = retry_base
        self.horizon = horizon
        self.after_sent = after_sent
        self.sent = 0
        self.failed_attempts = 0
        self._wake = asyncio.Event()
        self._tasks = TaskSet("mailer")

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wake.set()

    async def queue(self, account_id: str, template_id: str, call_id: str, doc: dict[str, Any]) -> str:
        """Keep a notification in the outbox and send it now; its id."""
        notification_id = await self.store.queue(account_id, template_id, call_id, doc)
        self.wake()
        return notification_id

    async def run(self) -> None:
        """Send what is due, then sleep until woken or the next notification falls due."""
        try:
            while True:
                self._wake.clear()
                wait = await self._send_due()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            self._tasks.cancel()
            await self._tasks.wait()

    async def _send_due(self) -> float:
        """Start sending what is due; seconds until the next look."""
        try:
            due = await self.store.claim_due(self.node, time.time(), LEASE, BATCH)
            for notification in due:
                self._tasks.spawn(self._attempt(notification))
            if len(due) == BATCH:
                return 0.0
            next_due = await self.store.next_due()
        except Exception as exc:  # the store is down: the outbox waits in it
            log.error("mailer: cannot read the outbox: %r", exc)
            return 5.0
        return IDLE_POLL if next_due is None else max(0.05, min(IDLE_POLL, next_due - time.time()))

    async def _attempt(self, notification: Notification) -> None:
        config = await self._config()
        try:
            message = await asyncio.to_thread(build_message, notification, config.default_from)
            sent = await send(config, message)
        except SmtpError as exc:
            await self._failed(notification, str(exc), exc.permanent)
            return
        except OSError as exc:  # an attachment could not be read
            await self._failed(notification, f"{type(exc).__name__}: {exc}", False)
            return
        refused = "; ".join(f"{who}: {why}" for who, why in sent.refused.items())
        await self.store.sent(notification.id, sent.receipt, message["From"], f"refused {refused}" if refused else "")
        self.sent += 1
        log.info(
            "call-id %s: %s e-mail %s sent to %s (%s)",
            notification.call_id or "-",
            notification.template_id,
            notification.id,
            message["To"],
            sent.receipt,
        )
        if self.after_sent is not None:
            await self.after_sent(notification)

    async def _failed(self, notification: Notification, error: str, permanent: bool) -> None:
        self.failed_attempts += 1
        tries = notification.attempts + 1
        delay = retry_delay(tries, self.retry_base, RETRY_ROUNDS)
        started = max(notification.created, float(notification.doc.get("retried_at") or 0))
        if permanent or time.time() + delay > started + self.horizon:
            await self.store.attempt_failed(notification.id, error, None)
            log.error(
                "call-id %s: %s e-mail %s not sent after %d attempts (%s): failed",
                notification.call_id or "-",
                notification.template_id,
                notification.id,
                tries,
                error,
            )
            return
        await self.store.attempt_failed(notification.id, error, time.time() + delay)
        log.warning(
            "call-id %s: %s e-mail %s: attempt %d failed (%s); next in %.0f s",
            notification.call_id or "-",
            notification.template_id,
            notification.id,
            tries,
            error,
            delay,
        )
        self.wake()

    async def _config(self) -> SmtpClientConfig:
        stored = await self.configs.get(SMTP_CONFIG) or {}
        try:
            return SmtpClientConfig.model_validate(stored)
        except ValidationError as exc:  # the API checks it on save; a hand-edited row falls back to the defaults
            log.error("system_config %s is not valid (%s): using the defaults", SMTP_CONFIG, exc)
            return SmtpClientConfig()


def build_message(notification: Notification, default_from: str) -> EmailMessage:
    """The e-mail: plain text and the attachments that are still on disk (one gone since is left out)."""
    doc = notification.doc
    message = EmailMessage()
    message["From"] = doc["emails"].get("from") or default_from
    message["To"] = ", ".join(doc["emails"]["to"])
    message["Subject"] = doc["subject"]
    message["Date"] = formatdate(notification.created)
    message["Message-ID"] = f"<{notification.id}@calltape>"
    message.set_content(doc["rendered_templates"]["text/plain"])
    for attachment in doc.get("attachments", []):
        path = Path(attachment["path"])
        if not path.exists():
            log.warning("e-mail %s: attachment %s is gone, sent without it", notification.id, path)
            continue
        maintype, subtype = str(attachment["content_type"]).split("/", 1)
        message.add_attachment(path.read_bytes(), maintype, subtype, filename=attachment["filename"])
    return message
