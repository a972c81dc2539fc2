"""A recording's change and the webhook event reporting it are committed in one transaction (SQLite and
PostgreSQL), with the row as the change left it; an event that cannot be queued never holds the change back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Connection, select

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, Documents
from calltape.store.recordings import Recordings, RecordingState
from calltape.store.webhook_events import WebhookEvents
from calltape.webhooks.events import RecordingEvents

ACCOUNT = "a" * 32
QUIET = "b" * 32  # an account without webhooks


async def _events(db: Database) -> list[tuple[str, str, str]]:
    """(event, recording, the state its body shows), in the order they were queued."""
    table = schema.webhook_events
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(select(table.c.event, table.c.recording_id, table.c.payload).order_by(table.c.seq))
        ).all()
    return [(event, recording, payload["data"]["state"]) for event, recording, payload in rows]


def _row(recording_id: str, account_id: str = ACCOUNT) -> dict[str, Any]:
    return {
        "id": recording_id,
        "account_id": account_id,
        "call_id": f"call-{recording_id}",
        "format": "wav",
        "name": f"call_recording_{recording_id}.wav",
        "created": time.time(),
        "channels": 2,
        "sample_rate": 8000,
        "spool_path": f"/nonexistent/{recording_id}.wav",
        "node": "n1",
        "target": {"kind": "db"},
        "doc": {"call_id": f"call-{recording_id}"},
    }


async def test_a_change_and_its_event_are_committed_together(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    accounts = Documents(database, ACCOUNTS)
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "whsec_x"}
    await accounts.create({"id": ACCOUNT, "name": "tells", "realm": "tells.test", "recording_webhooks": [hook]})
    await accounts.create({"id": QUIET, "name": "quiet", "realm": "quiet.test"})
    recordings = Recordings(database)
    woken: list[bool] = []
    events = RecordingEvents(accounts, recordings, WebhookEvents(database), lambda: woken.append(True))

    started = await events.notice(ACCOUNT, "r1", "recording.started")
    assert started is not None
    await recordings.create(_row("r1"), after=started)
    assert await _events(database) == [("recording.started", "r1", "recording")]

    # the event is written in the change's transaction: what it queued is rolled back with it if it fails,
    # and the change itself is kept
    await recordings.create(_row("r0"))
    told = await events.notice(ACCOUNT, "r0", "recording.completed")
    assert told is not None

    def fails_after_queuing(conn: Connection, row: Any) -> None:
        told(conn, row)
        raise RuntimeError("a bug in telling of it")

    finished = {"state": RecordingState.PENDING, "duration_ms": 1000, "size": 44, "sha256": "0" * 64, "doc": {}}
    await recordings.finish("r0", finished, deliver=True, after=fails_after_queuing)
    assert (await recordings.get(ACCOUNT, "r0")).state == RecordingState.PENDING
    assert await recordings.outbox_depth() == 1
    assert await _events(database) == [("recording.started", "r1", "recording")]
    assert "could not be queued" in caplog.text

    # a recording is finished once: a second finish (its first commit's answer lost) changes and tells nothing
    assert await recordings.finish("r0", {**finished, "size": 1}, deliver=True, after=told) is None
    assert (await recordings.get(ACCOUNT, "r0")).size == 44 and await recordings.outbox_depth() == 1

    # the body shows the row as the change left it
    completed = await events.notice(ACCOUNT, "r1", "recording.completed")
    await recordings.finish("r1", finished, deliver=True, after=completed)
    delivered = await events.notice(ACCOUNT, "r1", "recording.delivered")
    await recordings.delivered("r1", RecordingState.STORED, b"RIFF", after=delivered)
    deleted = await events.notice(ACCOUNT, "r1", "recording.deleted")
    await recordings.delete(ACCOUNT, "r1", after=deleted)
    assert await _events(database) == [
        ("recording.started", "r1", "recording"),
        ("recording.completed", "r1", "pending"),
        ("recording.delivered", "r1", "stored"),
        ("recording.deleted", "r1", "stored"),  # the row as it was when it went
    ]

    # an account nobody listens to queues nothing and costs no work in the transaction
    assert await events.notice(QUIET, "r2", "recording.started") is None
    await recordings.create(_row("r2", QUIET))
    assert len(await _events(database)) == 4
