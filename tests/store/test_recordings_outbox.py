"""The recordings table and its outbox, on SQLite and PostgreSQL: one claim per entry, outcomes and the entry's
removal in one transaction, failed → retry, newest-first pages."""

from __future__ import annotations

import time
from typing import Any

import pytest

from calltape.recording.media_settings import MediaSettings
from calltape.retry import retry_delay
from calltape.store.database import Database
from calltape.store.nodes import GONE_AFTER, Nodes, NodeState
from calltape.store.recordings import Recordings, RecordingState


def _row(recording_id: str, created: float, owner: str | None = None) -> dict[str, Any]:
    return {
        "id": recording_id,
        "account_id": "acc",
        "call_id": f"call-{recording_id}",
        "owner_id": owner,
        "format": "mp3",
        "name": f"call_recording_{recording_id}.mp3",
        "created": created,
        "channels": 2,
        "sample_rate": 8000,
        "spool_path": f"/spool/{recording_id}.mp3",
        "node": "n1",
        "target": {"kind": "http", "url": "http://x"},
        "doc": {"call_id": f"call-{recording_id}"},
    }


async def test_a_due_entry_is_claimed_once_and_its_outcome_removes_it(database: Database) -> None:
    store = Recordings(database)
    await store.create(_row("r1", 1.0))
    assert await store.left_recording("n1") and not await store.left_recording("n2")
    await store.finish("r1", {"state": RecordingState.PENDING, "duration_ms": 2000}, deliver=True)
    now = time.time() + 0.01
    first, _ = await store.claim_due("node-a", now, 60, 10)
    second, _ = await store.claim_due("node-b", now, 60, 10)
    assert [r.id for r in first] == ["r1"] and second == []  # held: nobody else sends it meanwhile
    await store.delivered("r1", RecordingState.STORED, b"audio")
    assert await store.blob("r1") == b"audio"
    row = await store.get("acc", "r1")
    assert (row.state, row.attempts) == (RecordingState.STORED, 1)
    assert await store.outbox_depth() == 0


async def test_failures_reschedule_then_give_up_and_retry_starts_afresh(database: Database) -> None:
    store = Recordings(database)
    await store.create(_row("r2", 1.0))
    await store.finish("r2", {"state": RecordingState.PENDING}, deliver=True)
    later = time.time() + 100
    await store.attempt_failed("r2", "HTTP 503 from x", later)
    due, next_due = await store.claim_due("n", time.time() + 1, 60, 10)
    assert due == [] and next_due == pytest.approx(later)
    await store.attempt_failed("r2", "HTTP 503 from x", None)
    row = await store.get("acc", "r2")
    assert (row.state, row.attempts, row.last_error) == (RecordingState.FAILED, 2, "HTTP 503 from x")
    assert await store.outbox_depth() == 0
    retried = await store.retry("acc", "r2")
    assert (retried.state, retried.attempts) == (RecordingState.PENDING, 0)
    assert [r.id for r in (await store.claim_due("n", time.time() + 1, 60, 10))[0]] == ["r2"]
    with pytest.raises(ValueError):
        await store.retry("acc", "r2")


async def test_lists_are_newest_first_paged_and_filtered(database: Database) -> None:
    store = Recordings(database)
    for i in range(5):
        await store.create(_row(f"p{i}", 10.0 + i, owner="u1" if i % 2 else "u2"))
    page, key = await store.list("acc", page_size=2)
    assert [r.id for r in page] == ["p4", "p3"] and key == "p2"
    page, key = await store.list("acc", page_size=2, start_key=key)
    assert [r.id for r in page] == ["p2", "p1"] and key == "p0"
    page, key = await store.list("acc", page_size=2, start_key=key)
    assert [r.id for r in page] == ["p0"] and key is None
    owned, _ = await store.list("acc", owner_id="u1")
    assert [r.id for r in owned] == ["p3", "p1"]
    window, _ = await store.list("acc", created_from=11.0, created_to=12.5)
    assert [r.id for r in window] == ["p2", "p1"]


def test_retries_are_at_least_kazoos_five_tries_5_s_apart_then_rounds_1_to_10_minutes_then_hourly() -> None:
    for _ in range(200):
        delays = [retry_delay(n, 5.0, rounds=5) for n in range(1, 15)]
        assert all(5.0 <= d <= 6.25 for d in delays[:4])  # tries 2-5, 5 s after the one before
        assert 60.0 <= delays[4] <= 75.0 and 600.0 <= delays[8] <= 750.0  # five rounds, 1 to 10 minutes apart
        assert all(60.0 <= d <= 750.0 for d in delays[4:9])
        assert all(3600.0 <= d <= 4500.0 for d in delays[9:])  # then hourly, until the horizon
    assert retry_delay(1, 5.0, 5, retry_after=120) == 120  # the receiver's Retry-After is honoured
    assert 3600.0 <= retry_delay(6, 5.0, rounds=0) <= 4500.0  # no rounds asked: hourly after the quick tries


def test_media_settings_read_kazoos_keys_and_keep_defaults_for_bad_values() -> None:
    settings = MediaSettings.from_document(
        {"max_recording_time_limit": 600, "store_recordings": True, "call_recording": {"extension": "WAV"}}
    )
    assert (settings.max_recording_time_limit, settings.store_recordings, settings.extension) == (600, True, "wav")
    bad = MediaSettings.from_document({"max_recording_time_limit": "lots", "call_recording": "x"})
    assert bad == MediaSettings()
    kazoo = MediaSettings.from_document({"storage_retry_times": 2, "call_recording": {"storage_retry_times": 9}})
    assert kazoo.storage_retry_times == 9  # Kazoo's key wins over calltape's earlier top-level one
    assert MediaSettings.from_document({"storage_retry_times": 2}).storage_retry_times == 2


async def test_a_delivery_leased_by_a_node_that_is_gone_is_free_at_once_and_shown_stranded(
    database: Database,
) -> None:
    store, nodes = Recordings(database), Nodes(database)
    for recording_id in ("r-up", "r-killed"):
        await store.create(_row(recording_id, 1.0))
        await store.finish(recording_id, {"state": RecordingState.PENDING}, deliver=True)
    now = time.time() + 0.01
    await nodes.note(NodeState("up-node", draining=False, calls=3, started=now), now)
    await nodes.note(
        NodeState("killed-node", draining=True, calls=5, started=now - 99), now - GONE_AFTER - 1
    )  # heard of no more
    [held_up], _ = await store.claim_due("up-node", now, 600, 1)
    [held_killed], _ = await store.claim_due("killed-node", now, 600, 1)
    listed = {doc["id"]: doc for doc in await nodes.all(now)}
    assert (listed["up-node"]["up"], listed["up-node"]["calls"], listed["up-node"]["stranded"]) == (True, 3, 0)
    killed = listed["killed-node"]
    assert (killed["up"], killed["draining"], killed["calls"], killed["deliveries_leased"]) == (False, False, 0, 1)
    assert killed["stranded"] == 1
    taken, _ = await store.claim_due("other-node", now + 1, 600, 10)  # long before the 600 s lease runs out
    assert [r.id for r in taken] == [held_killed.id] != [held_up.id]
    await nodes.stopped("up-node", now + 2)  # a clean stop: what it still held is free too
    assert [r.id for r in (await store.claim_due("other-node", now + 3, 600, 10))[0]] == [held_up.id]
    assert not (await nodes.all(now + 3))[0]["up"]
    await store.create(_row("r-n1", 1.0))  # a recording of node n1, which is up: only n1 delivers it
    await store.finish("r-n1", {"state": RecordingState.PENDING}, deliver=True)
    later = time.time() + 0.01
    await nodes.note(NodeState("n1", draining=False, calls=0, started=later), later)
    assert (await store.claim_due("other-node", later, 600, 10))[0] == []
    assert [r.id for r in (await store.claim_due("n1", later, 600, 10))[0]] == ["r-n1"]


async def test_one_canary_per_waiting_receiver_is_due_now(database: Database) -> None:
    """Recordings wait for two receivers: the one that waits the longest gets a try now (its first recording),
    the other, whose next try is soon anyway, is left alone; an entry another node holds is never touched."""
    store, now = Recordings(database), time.time()
    waits = {"a1": ("http://a.example/r", 600), "a2": ("http://a.example/s", 700), "b1": ("http://b.example/r", 5)}
    for recording_id, (url, wait) in waits.items():
        await store.create({**_row(recording_id, 1.0), "target": {"kind": "http", "url": url}})
        await store.finish(recording_id, {"state": RecordingState.PENDING}, deliver=True)
        await store.attempt_failed(recording_id, "HTTP 503", now + wait)
    host = lambda target: target["url"].split("/")[2]  # noqa: E731
    assert await store.canaries(host, now, 30) == 1
    due = {row.id: row.due_at for row in await store.queue("acc")}
    assert due["a1"] == pytest.approx(now) and due["a2"] > now + 600 and due["b1"] > now + 4
    assert await store.canaries(host, now, 30) == 0  # a.example's try is due already
