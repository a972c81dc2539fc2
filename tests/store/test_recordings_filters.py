"""The recordings list's ``number`` filter and an account's outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from calltape.store.database import Database
from calltape.store.recordings import Recordings, RecordingState


def _row(recording_id: str, created: float, caller: str, callee: str, account: str = "acc") -> dict[str, Any]:
    return {
        "id": recording_id,
        "account_id": account,
        "call_id": f"call-{recording_id}",
        "owner_id": None,
        "format": "mp3",
        "name": f"call_recording_{recording_id}.mp3",
        "created": created,
        "channels": 2,
        "sample_rate": 8000,
        "spool_path": f"/spool/{recording_id}.mp3",
        "node": "n1",
        "target": {"kind": "http", "url": "http://user:secret@receiver.example/r"},
        "doc": {"caller_id_number": caller, "callee_id_number": callee},
    }


async def test_number_matches_part_of_the_caller_or_the_callee(database: Database) -> None:
    store = Recordings(database)
    await store.create(_row("r1", 1.0, "+15551234", "100"))
    await store.create(_row("r2", 2.0, "200", "+15559999"))
    await store.create(_row("r3", 3.0, "300", "400"))
    await store.create(_row("r4", 4.0, "50%_", "100", account="other"))

    async def ids(number: str, **more: Any) -> list[str]:
        rows, _ = await store.list("acc", number=number, **more)
        return [r.id for r in rows]

    assert await ids("555") == ["r2", "r1"]
    assert await ids("1234") == ["r1"]
    assert await ids("100") == ["r1"]  # the callee; the other account's is not seen
    assert await ids("400", created_from=3.0) == ["r3"]
    assert await ids("%") == [] and await ids("_") == []  # LIKE's wildcards are plain characters
    assert [r.id for r in (await store.list("other", number="0%_"))[0]] == ["r4"]


async def test_the_outbox_of_an_account_lists_what_waits_soonest_first(database: Database) -> None:
    store = Recordings(database)
    for i, account in enumerate(("acc", "acc", "other")):
        await store.create(_row(f"q{i}", float(i), "1", "2", account=account))
        await store.finish(f"q{i}", {"state": RecordingState.PENDING}, deliver=True)
    await store.attempt_failed("q0", "HTTP 503 from receiver", time.time() + 60)
    queue = await store.queue("acc")
    assert [r.id for r in queue] == ["q1", "q0"]  # q0 was put back a minute later
    assert (queue[1].attempts, queue[1].last_error, queue[1].state) == (
        1,
        "HTTP 503 from receiver",
        RecordingState.PENDING,
    )
    assert queue[1].due_at > time.time() + 50 and queue[1].lease_until == 0.0
    await store.delivered("q1")
    assert [r.id for r in await store.queue("acc")] == ["q0"]
