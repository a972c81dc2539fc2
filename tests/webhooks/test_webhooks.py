"""Recording webhooks: the signature against a vector made with openssl, a recording's events claimed in order per
URL, and the sender's answers to what a real HTTP receiver says (2xx, 5xx then 2xx, 4xx)."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from calltape.store.database import Database
from calltape.store.webhook_events import WebhookEvents
from calltape.webhooks.sender import WebhookSender
from calltape.webhooks.signature import sign, verify

SECRET = "whsec_0123456789abcdef"


def test_the_signature_matches_openssl() -> None:
    # printf '1796580000.{"event":"recording.completed"}' | openssl dgst -sha256 -hmac whsec_0123456789abcdef
    body = b'{"event":"recording.completed"}'
    expected = "c745cbeb5146078e3e0eec8d40472c7e1d58c6b634e287f68a0a65159278bdfa"
    assert sign(SECRET, 1796580000, body) == f"t=1796580000,v1={expected}"
    assert verify(SECRET, f"t=1796580000,v1=0,v1={expected}", body)  # any v1 (a rotated secret's) may match
    assert not verify(SECRET, f"t=1796580001,v1={expected}", body)
    assert not verify(SECRET, f"t=1796580000,v1={expected}", body + b" ")
    assert not verify("whsec_another-secret", f"t=1796580000,v1={expected}", body)
    assert not verify(SECRET, f"v1={expected}", body)


def _event(
    recording: str, event: str, url: str = "http://127.0.0.1:9/h", created: float | None = None
) -> dict[str, Any]:
    event_id = uuid.uuid4().hex
    now = created if created is not None else time.time()
    payload = {"id": event_id, "event": event, "timestamp": now, "recording_id": recording, "data": {}}
    return {"id": event_id, "account_id": "a" * 32, "recording_id": recording, "event": event, "url": url} | {
        "secret": SECRET,
        "created": now,
        "payload": payload,
    }


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[WebhookEvents]:
    db = Database(f"sqlite:///{tmp_path / 'calltape.db'}")
    await db.open()
    yield WebhookEvents(db)
    await db.close()


async def test_a_recordings_events_are_claimed_one_at_a_time_in_order_per_url(store: WebhookEvents) -> None:
    outbox = store.outbox
    started, completed = _event("r1", "recording.started"), _event("r1", "recording.completed")
    other_url = _event("r1", "recording.started", url="http://127.0.0.1:9/other")
    other_recording = _event("r2", "recording.started")
    await store.queue([started, completed, other_url, other_recording])
    now = time.time()
    claimed = await outbox.claim_due("n", now, 60, 10)
    assert sorted(e.id for e in claimed) == sorted([started["id"], other_url["id"], other_recording["id"]])
    assert await outbox.claim_due("n", now, 60, 10) == []  # leased, and the next waits for the first
    assert 59 < (await outbox.next_wake(now) or 0) - now <= 60  # nothing before a lease runs out: no busy loop
    assert not await outbox.attempt_failed(started["id"], "another-node", "down", None)  # not its lease: ignored
    assert await outbox.attempt_failed(started["id"], "n", "down", now + 30)  # due again in 30 s: still first
    assert await outbox.claim_due("n", now, 60, 10) == []
    assert 29 < (await outbox.next_wake(now) or 0) - now <= 30
    assert [e.id for e in await outbox.claim_due("n", now + 31, 60, 10)] == [started["id"]]
    assert await store.sent(started["id"], "n")
    assert [e.id for e in await outbox.claim_due("n", now + 31, 60, 10)] == [completed["id"]]
    await outbox.release_leases("n")  # a restart: what it held is free again
    assert {e.id for e in await outbox.claim_due("n2", now + 31, 60, 10)} == {
        completed["id"],
        other_url["id"],
        other_recording["id"],
    }


class _Receiver(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.answers.pop(0) if self.answers else 204
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("answers", "state", "attempts", "error"),
    [
        ([], "sent", 1, ""),
        ([503, 429], "sent", 3, ""),  # tried again, Retry-After honoured; success clears the error
        ([410], "failed", 1, "answered 410"),  # a refusal: no retry
    ],
)
async def test_the_sender_retries_what_can_succeed_and_fails_what_cannot(
    store: WebhookEvents, answers: list[int], state: str, attempts: int, error: str
) -> None:
    _Receiver.answers, _Receiver.bodies = list(answers), []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = WebhookSender(store, "n", retry_base=0.05)
    task = asyncio.create_task(sender.run())
    try:
        event = _event("r1", "recording.completed", url=f"http://127.0.0.1:{server.server_address[1]}/h")
        await store.queue([event])
        sender.wake()
        deadline = time.monotonic() + 10
        while (row := await store.get("a" * 32, event["id"])).state == "pending":
            assert time.monotonic() < deadline, row
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.shutdown()
    assert (row.state, row.attempts) == (state, attempts)
    assert (error in row.last_error) if state == "failed" else row.last_error == ""
    assert len(set(_Receiver.bodies)) == 1 and len(_Receiver.bodies) == attempts  # the same body every time
