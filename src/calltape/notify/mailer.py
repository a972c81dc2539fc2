"""The mailer: sends the notifications the outbox holds, through system_config ``smtp_client``'s relay.

The loop, its leases, deadlines and retry schedule are :class:`calltape.outbox_worker.OutboxWorker`'s: a failure is
tried again as recordings are (five tries 5 s apart, then 1 to 10 minutes apart, then hourly) until the delivery
horizon (``--delivery-horizon``, 24 h by default); a refusal no retry can mend (every recipient refused with a 5xx)
fails at once. A failed notification stays in the SMTP log with its reason, and
``POST …/notifications/smtplog/{id}/retry`` sends it again. Every e-mail of a notification carries the same
Message-ID, so a resend after a crash between sending and recording it can be recognised by the receiver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from calltape.notify.smtp import SMTP_CONFIG, SmtpClientConfig, SmtpError, send
from calltape.outbox_worker import OutboxWorker
from calltape.retry import DEFAULT_HORIZON
from calltape.store.notifications import Notification, Notifications
from calltape.store.system_configs import SystemConfigs

log = logging.getLogger(__name__)

LEASE = 300.0  # an attempt is abandoned after 0.8 of this
CONCURRENCY = 8  # SMTP connections at once: relays refuse more with 421


class Mailer(OutboxWorker[Notification]):
    """Runs until cancelled; ``queue`` keeps a notification and wakes it."""

    name = "mailer"

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
        super().__init__(
            store.outbox, node, lease=LEASE, concurrency=CONCURRENCY, retry_base=retry_base, horizon=horizon
        )
        self.store = store
        self.configs = configs
        self.after_sent = after_sent
        self.sent = 0

    async def queue(self, account_id: str, template_id: str, call_id: str, doc: dict[str, Any]) -> str:
        """Keep a notification in the outbox and send it now; its id."""
        notification_id = await self.store.queue(account_id, template_id, call_id, doc)
        self.wake()
        return notification_id

    def round_started(self, row: Any) -> float:
        return max(float(row.created), float(row.doc.get("retried_at") or 0))

    def describe(self, row: Any) -> str:
        return f"call-id {row.call_id or '-'}: {row.template_id} e-mail {row.id}"

    async def attempt(self, notification: Notification) -> None:
        config = await self._config()
        message = await asyncio.to_thread(build_message, notification, config.default_from)
        try:
            sent = await send(config, message)
        except SmtpError as exc:
            await self.failed(notification, str(exc), retry=not exc.permanent)
            return
        refused = "; ".join(f"{who}: {why}" for who, why in sent.refused.items())
        if not await self.store.sent(
            notification, self.node, sent.receipt, message["From"], refused and f"refused {refused}"
        ):
            log.warning("%s: sent, but another node holds it now (its lease ran out)", self.describe(notification))
            return
        self.sent += 1
        log.info("%s sent to %s (%s)", self.describe(notification), message["To"], sent.receipt)
        if self.after_sent is not None:
            await self.after_sent(notification)

    async def _config(self) -> SmtpClientConfig:
        stored = await self.configs.get(SMTP_CONFIG) or {}
        try:
            return SmtpClientConfig.model_validate(stored)
        except ValidationError as exc:  # the API checks it on save; a hand-edited row falls back to the defaults
            fields = ", ".join(".".join(map(str, error["loc"])) for error in exc.errors())
            log.error("system_config %s is not valid (%s): using the defaults", SMTP_CONFIG, fields)
            return SmtpClientConfig()


def build_message(notification: Notification, default_from: str) -> EmailMessage:
    """The e-mail: plain text and the attachments that are still on disk (one gone since is left out)."""
    doc = notification.doc
    message = EmailMessage()
    message["From"] = _one_line(doc["emails"].get("from") or default_from)
    message["To"] = _one_line(", ".join(doc["emails"]["to"]))
    message["Subject"] = _one_line(doc["subject"])
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


def _one_line(value: str) -> str:
    """A header value: line breaks (from a box name or a caller ID) become spaces."""
    return " ".join(str(value).split())
