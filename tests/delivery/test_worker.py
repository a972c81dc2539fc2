"""The delivery worker in-process, against a real store (SQLite and PostgreSQL) and a real local HTTP receiver
(``tests/e2e/upload_sink.py``), on a short clock: delivered exactly once and the file deleted after the commit;
Kazoo's retry schedule; a redirect followed with the whole file; at the horizon the recording is failed and its
file kept."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from calltape.delivery.worker import DeliveryWorker
from calltape.store.database import Database
from calltape.store.recordings import Recordings, RecordingState
from tests.e2e.upload_sink import UploadSink

AUDIO = b"ID3" + bytes(range(256)) * 40  # what is delivered, byte for byte
RETRY_BASE = 0.05  # Kazoo's quick tries are 5 s apart; here 50 ms, with the same shape


async def _queue(store: Recordings, tmp_path: Path, rid: str, url: str) -> Path:
    """A finished recording of *AUDIO*, due for delivery to *url* (as the recording manager leaves it)."""
    path = tmp_path / f"{rid}.mp3"
    path.write_bytes(AUDIO)
    row = {
        "id": rid,
        "account_id": "acc",
        "call_id": f"call-{rid}",
        "format": "mp3",
        "name": f"call_recording_{rid}.mp3",
        "created": time.time() - 1.0,
        "channels": 2,
        "sample_rate": 8000,
        "spool_path": str(path),
        "node": "n1",
        "target": {"kind": "http", "url": url, "method": "put", "query": False},
        "doc": {"call_id": f"call-{rid}"},
    }
    await store.create(row)
    finished = {
        "state": RecordingState.PENDING,
        "duration_ms": 1000,
        "size": len(AUDIO),
        "sha256": hashlib.sha256(AUDIO).hexdigest(),
        "doc": {"call_id": f"call-{rid}"},
    }
    await store.finish(rid, finished, deliver=True)
    return path


async def _deliver_until(
    worker: DeliveryWorker, done: Callable[[], Awaitable[bool]], timeout: float = 10.0, linger: float = 0.0
) -> None:
    """Run *worker* until *done*, then *linger* seconds more (time for what must not happen)."""
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + timeout
        while not await done():
            assert time.monotonic() < deadline, "the worker did not get there in time"
            await asyncio.sleep(0.02)
        await asyncio.sleep(linger)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _worker(store: Recordings, horizon: float = 60.0) -> DeliveryWorker:
    return DeliveryWorker(store, "n1", _two_retries, retry_base=RETRY_BASE, horizon=horizon)


async def _state(store: Recordings, rid: str) -> RecordingState:
    return RecordingState((await store.get("acc", rid)).state)


async def test_delivered_once_byte_for_byte_and_the_file_deleted_after_the_commit(
    database: Database, tmp_path: Path
) -> None:
    store, sink = Recordings(database), UploadSink().start()
    try:
        path = await _queue(store, tmp_path, "r1", f"{sink.url}/kzr")
        worker = _worker(store)
        await _deliver_until(worker, lambda: _is(store, "r1", RecordingState.DELIVERED), linger=0.5)  # nothing more
    finally:
        sink.stop()
    [upload] = sink.attempts
    assert upload.method == "PUT" and upload.path == "/kzr/call_recording_r1.mp3" and upload.body == AUDIO
    assert "content-md5" not in upload.headers  # RFC 7231 retired it; Repr-Digest carries the check
    assert upload.headers["repr-digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(AUDIO).digest()).decode()}:"
    assert not path.exists() and await store.outbox_depth() == 0
    assert worker.delivered == 1 and worker.failed_attempts == 0 and len(worker.latencies) == 1


async def _delivered(
    database: Database, tmp_path: Path, rid: str, sink: UploadSink
) -> tuple[Recordings, UploadSink, DeliveryWorker]:
    """Queue recording *rid* for *sink* (started here, stopped once it was delivered) and run a worker until then."""
    store = Recordings(database)
    sink.start()
    try:
        await _queue(store, tmp_path, rid, f"{sink.url}/kzr")
        worker = _worker(store)
        await _deliver_until(worker, lambda: _is(store, rid, RecordingState.DELIVERED))
    finally:
        sink.stop()
    return store, sink, worker


async def test_failures_are_tried_again_on_kazoos_schedule_and_the_whole_file_each_time(
    database: Database, tmp_path: Path
) -> None:
    store, sink, worker = await _delivered(database, tmp_path, "r2", UploadSink(fail_first=3))
    assert [a.body for a in sink.attempts] == [AUDIO] * 4 and len(sink.uploads) == 1
    gaps = [b.at - a.at for a, b in zip(sink.attempts, sink.attempts[1:], strict=False)]
    assert all(gap >= RETRY_BASE * 0.9 for gap in gaps), gaps  # never sooner than the schedule says
    row = await store.get("acc", "r2")
    assert (row.attempts, row.last_error) == (4, "") and worker.failed_attempts == 3


async def test_a_redirect_is_followed_with_the_whole_file(database: Database, tmp_path: Path) -> None:
    _, sink, worker = await _delivered(database, tmp_path, "r3", UploadSink(redirect_to="/elsewhere"))
    assert [a.path for a in sink.attempts] == ["/kzr/call_recording_r3.mp3", "/elsewhere"]  # one attempt, 307
    assert [a.body for a in sink.attempts] == [AUDIO, AUDIO] and worker.failed_attempts == 0


async def test_at_the_horizon_the_recording_is_failed_and_its_file_kept(database: Database, tmp_path: Path) -> None:
    store, sink = Recordings(database), UploadSink(fail_first=1000).start()
    try:
        path = await _queue(store, tmp_path, "r4", f"{sink.url}/kzr")
        worker = _worker(store, horizon=1.5)  # 1.5 s after the hang-up
        await _deliver_until(worker, lambda: _is(store, "r4", RecordingState.FAILED))
    finally:
        sink.stop()
    row = await store.get("acc", "r4")
    assert "503" in row.last_error and row.attempts == len(sink.attempts) >= 2
    assert path.read_bytes() == AUDIO and await store.outbox_depth() == 0  # kept, and no longer queued


async def test_a_missing_spool_file_fails_at_once_and_says_so(database: Database, tmp_path: Path) -> None:
    store, sink = Recordings(database), UploadSink().start()
    try:
        path = await _queue(store, tmp_path, "r5", f"{sink.url}/kzr")
        path.unlink()
        await _deliver_until(_worker(store), lambda: _is(store, "r5", RecordingState.FAILED))
    finally:
        sink.stop()
    assert "is missing" in (await store.get("acc", "r5")).last_error and sink.attempts == []


async def test_audio_in_another_nodes_spool_is_passed_on_not_failed(database: Database, tmp_path: Path) -> None:
    """A recording of node n1 (not up: a node never heard of) reaches node n2, whose disk has no such file: it
    stays pending, freed for n1 and due again later, and says where its audio is."""
    store, sink = Recordings(database), UploadSink().start()
    try:
        path = await _queue(store, tmp_path, "r6", f"{sink.url}/kzr")
        path.unlink()  # as n2 sees n1's spool
        elsewhere = DeliveryWorker(store, "n2", _two_retries, retry_base=RETRY_BASE)

        async def passed_on() -> bool:
            return "not here" in ((await store.get("acc", "r6")).last_error or "")

        await _deliver_until(elsewhere, passed_on)
    finally:
        sink.stop()
    row = await store.get("acc", "r6")
    assert (row.state, row.attempts, sink.attempts) == (RecordingState.PENDING, 0, [])
    assert "node n1's spool" in (row.last_error or "")
    [(recording_id, due_at, lease_until, lease_owner)] = [
        (r.id, r.due_at, r.lease_until, r.lease_owner) for r in await store.queue("acc")
    ]
    assert recording_id == "r6" and due_at > time.time() + 50 and (lease_until, lease_owner) == (0.0, "")


async def test_audio_elsewhere_past_the_horizon_is_failed_and_says_so(database: Database, tmp_path: Path) -> None:
    store, sink = Recordings(database), UploadSink().start()
    try:
        path = await _queue(store, tmp_path, "r7", f"{sink.url}/kzr")  # made a second ago
        path.unlink()
        given_up = DeliveryWorker(store, "n2", _two_retries, retry_base=RETRY_BASE, horizon=0.5)
        await _deliver_until(given_up, lambda: _is(store, "r7", RecordingState.FAILED))
    finally:
        sink.stop()
    assert "is missing" in ((await store.get("acc", "r7")).last_error or "")


async def test_a_retry_that_gets_through_brings_the_uploads_waiting_for_that_receiver_forward(
    database: Database, tmp_path: Path
) -> None:
    """After an outage: the first retry that reaches the receiver makes the others waiting for it due at once (not
    at their own next retry, minutes away); those waiting for another receiver keep their time."""
    store, sink = Recordings(database), UploadSink().start()
    try:
        for rid, url in (("r8", f"{sink.url}/a"), ("r9", f"{sink.url}/b"), ("r10", "http://127.0.0.2:9/elsewhere")):
            await _queue(store, tmp_path, rid, url)
            await store.attempt_failed(rid, "HTTP 503 (the outage)", time.time() + 600)  # the next try: minutes away
        await store.pass_on("r8", "its retry falls due", time.time())  # one retry comes now

        async def both() -> bool:
            return await _is(store, "r8", RecordingState.DELIVERED) and await _is(store, "r9", RecordingState.DELIVERED)

        await _deliver_until(_worker(store), both, timeout=5.0)
    finally:
        sink.stop()
    assert sorted(upload.path.split("/")[1] for upload in sink.uploads) == ["a", "b"]
    [elsewhere] = [row for row in await store.queue("acc") if row.id == "r10"]
    assert elsewhere.due_at > time.time() + 500  # another receiver's outage: not hastened


async def _two_retries() -> int:
    return 2


async def _is(store: Recordings, rid: str, state: RecordingState) -> bool:
    return await _state(store, rid) == state
