"""The mailer against a real SMTP server (aiosmtpd) and a real SQLite store: an e-mail is sent with its
attachment and its receipt logged; a relay that is down is tried again until it takes it; a refusal no retry can
mend fails at once with the reason; logins and TLS are as ``smtp_client`` says."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calltape.notify.mailer import Mailer
from calltape.notify.smtp import SMTP_CONFIG
from calltape.store.database import Database
from calltape.store.notifications import Notification, Notifications
from calltape.store.system_configs import SystemConfigs
from tests.e2e.sipp_runner import free_port
from tests.notify.smtp_server import Inbox, start_smtp

ACCOUNT = "a" * 32


@dataclass
class Outbox:
    mailer: Mailer
    store: Notifications
    configs: SystemConfigs
    port: int
    after: list[Notification]

    async def configure(self, **smtp: Any) -> None:
        await self.configs.put(SMTP_CONFIG, {"relay": "127.0.0.1", "port": self.port, **smtp})

    async def wait_state(self, notification_id: str, state: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while (row := await self.store.get(ACCOUNT, notification_id)).state != state or (
            state == "pending" and row.attempts == 0
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{notification_id} is {row.state} after {row.attempts} attempts: {row.last_error}")
            await asyncio.sleep(0.02)
        return row


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    db = Database(f"sqlite:///{tmp_path / 'calltape.db'}")
    await db.open()
    after: list[Notification] = []

    async def note(sent: Notification) -> None:
        after.append(sent)

    store, configs = Notifications(db), SystemConfigs(db)
    mailer = Mailer(store, configs, "node-1", retry_base=0.05, after_sent=note)
    task = asyncio.create_task(mailer.run())
    yield Outbox(mailer, store, configs, free_port(socket.SOCK_STREAM), after)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await db.close()


def _email(to: list[str], attachment: Path | None = None) -> dict[str, Any]:
    attachments = [{"path": str(attachment), "filename": "m.wav", "content_type": "audio/wav"}] if attachment else []
    return {
        "emails": {"to": to},
        "subject": "New voicemail from Ada (100)",
        "rendered_templates": {"text/plain": "You have a new voicemail from Ada (100)."},
        "attachments": attachments,
        "after_sent": {"move_to_deleted": {"vmbox_id": "b", "message_id": "m"}},
    }


async def _in_thread(call: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(call)


async def test_an_email_is_sent_with_its_attachment_and_the_receipt_is_logged(outbox: Outbox, tmp_path: Path) -> None:
    audio = tmp_path / "m.wav"
    audio.write_bytes(bytes(range(256)) * 40)
    inbox = Inbox()
    server = start_smtp(outbox.port, inbox)
    try:
        await outbox.configure(default_from="vm@calltape.example.com")
        queued = await outbox.mailer.queue(ACCOUNT, "voicemail_to_email", "call-1", _email(["ada@example.com"], audio))
        [got] = await _in_thread(lambda: inbox.wait_for(1))
        row = await outbox.wait_state(queued, "sent")
    finally:
        server.stop()
    assert got.mail_from == "vm@calltape.example.com" and got.rcpt_tos == ["ada@example.com"]
    assert got.message["Subject"] == "New voicemail from Ada (100)"
    assert got.message["Message-ID"] == f"<{queued}@calltape>"  # the same on every attempt
    assert got.message.get_body(("plain",)).get_content().strip() == "You have a new voicemail from Ada (100)."  # type: ignore[union-attr]
    [part] = list(got.message.iter_attachments())
    assert part.get_filename() == "m.wav" and part.get_content_type() == "audio/wav"
    assert part.get_content() == audio.read_bytes()
    assert row.attempts == 1 and row.last_error == "" and row.doc["receipt"] == "2.0.0 Ok: queued as Q1"
    assert row.doc["emails"]["from"] == "vm@calltape.example.com"
    deadline = time.monotonic() + 5
    while not outbox.after and time.monotonic() < deadline:  # it runs just after the outcome is recorded
        await asyncio.sleep(0.02)
    assert [n.id for n in outbox.after] == [queued]  # what comes after sending ran (delete_after_notify)


async def test_a_relay_that_is_down_is_tried_again_until_it_takes_the_email(outbox: Outbox) -> None:
    await outbox.configure()
    queued = await outbox.mailer.queue(ACCOUNT, "voicemail_full", "", _email(["ada@example.com"]))
    row = await outbox.wait_state(queued, "pending")  # an attempt failed: still pending, with the reason
    assert "127.0.0.1" in row.last_error and row.due_at > row.created
    inbox = Inbox()
    server = start_smtp(outbox.port, inbox)
    try:
        row = await outbox.wait_state(queued, "sent")
    finally:
        server.stop()
    assert row.attempts >= 2 and len(inbox.received) == 1


async def test_every_recipient_refused_fails_at_once_and_a_retry_sends_it_again(outbox: Outbox) -> None:
    inbox = Inbox(refuse={"gone@example.com"})
    server = start_smtp(outbox.port, inbox)
    try:
        await outbox.configure()
        queued = await outbox.mailer.queue(ACCOUNT, "voicemail_to_email", "c", _email(["gone@example.com"]))
        row = await outbox.wait_state(queued, "failed")
        assert row.attempts == 1 and "550" in row.last_error and "gone@example.com" in row.last_error
        inbox.refuse.clear()  # the address was mended
        await outbox.store.retry(ACCOUNT, queued)
        outbox.mailer.wake()
        row = await outbox.wait_state(queued, "sent")
    finally:
        server.stop()
    assert len(inbox.received) == 1


async def test_one_refused_recipient_of_two_is_logged_and_the_other_gets_it(outbox: Outbox) -> None:
    inbox = Inbox(refuse={"gone@example.com"})
    server = start_smtp(outbox.port, inbox)
    try:
        await outbox.configure()
        queued = await outbox.mailer.queue(
            ACCOUNT, "voicemail_to_email", "c", _email(["gone@example.com", "ada@x.org"])
        )
        row = await outbox.wait_state(queued, "sent")
    finally:
        server.stop()
    assert inbox.received[0].rcpt_tos == ["ada@x.org"] and "gone@example.com: 550" in row.last_error


@pytest.mark.parametrize(
    ("smtp", "credentials", "outcome"),
    [
        ({"auth": "always", "username": "vm", "password": "s3cret", "tls": "never"}, ("vm", "s3cret"), "vm"),
        ({"auth": "if_available", "username": "vm", "password": "s3cret", "tls": "never"}, ("vm", "s3cret"), "vm"),
        ({"auth": "if_available", "username": "vm", "password": "s3cret", "tls": "never"}, None, None),  # no AUTH
        ({"auth": "if_available", "username": "vm", "password": "s3cret"}, ("vm", "s3cret"), None),  # no TLS: none
        ({"auth": "never", "username": "vm", "password": "s3cret"}, None, None),
        ({"auth": "always", "username": "vm", "password": "wrong", "tls": "never"}, ("vm", "s3cret"), "535"),
        ({"auth": "always", "username": "vm", "password": "s3cret", "tls": "never"}, None, "offers no AUTH"),
        ({"auth": "always", "username": "vm", "password": "s3cret"}, ("vm", "s3cret"), "not sent in the clear"),
        ({"tls": "always"}, None, "STARTTLS"),  # required, and this server does not offer it
    ],
)
async def test_login_and_tls_as_smtp_client_says(
    outbox: Outbox, smtp: dict[str, Any], credentials: tuple[str, str] | None, outcome: str | None
) -> None:
    inbox = Inbox()
    server = start_smtp(outbox.port, inbox, credentials)
    try:
        await outbox.configure(**smtp)
        queued = await outbox.mailer.queue(ACCOUNT, "voicemail_to_email", "c", _email(["ada@example.com"]))
        sent = outcome is None or outcome == "vm"
        row = await outbox.wait_state(queued, "sent" if sent else "pending")
    finally:
        server.stop()
    if sent:
        assert inbox.received[0].login == outcome
    else:
        assert outcome in row.last_error and not inbox.received
