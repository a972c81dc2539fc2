"""A call's recordings (``recording/call_recordings.py``) in-process, with a real recording manager and store: a
``record_call`` waits for the answer or the bridge it asks for (and never starts if the call ends first), its
label is the recording's origin, and ``stop`` ends every recording of the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from calltape.media.clock import MediaTimeline
from calltape.media.taps import Taps
from calltape.recording.call_recordings import CallRecordings
from calltape.recording.capture import CallCapture
from calltape.recording.manager import RecordingManager
from calltape.recording.metadata import CallFacts
from calltape.recording.request import RecordingRequest
from calltape.store.database import Database
from calltape.store.recordings import Recordings
from calltape.store.system_configs import SystemConfigs
from calltape.switch.digits import DigitBus


@dataclass
class Call:
    """What a call hands its recordings: its taps, its timeline and the events of its life."""

    recordings: CallRecordings
    taps: Taps
    answered: asyncio.Event
    bridged: asyncio.Event
    ended: asyncio.Event
    store: Recordings


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[Call]:
    db = Database(f"sqlite:///{tmp_path / 'calltape.db'}")
    await db.open()
    store = Recordings(db)
    manager = RecordingManager(store, SystemConfigs(db), tmp_path / "spool")
    taps, timeline = Taps(), MediaTimeline(asyncio.get_running_loop().time())
    answered, bridged, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def facts() -> CallFacts:
        return CallFacts(call_id="call-1", account_id="acc")

    recordings = CallRecordings(
        manager, "call-1", taps, lambda: timeline, lambda: False, facts, DigitBus(), answered, bridged, ended
    )
    yield Call(recordings, taps, answered, bridged, ended, store)
    recordings.end()
    await manager.drain(5)
    await db.close()


async def _never_recorded(call: Call) -> None:
    """Nothing started: given time to, no capture joined the taps and no row was written."""
    await asyncio.sleep(0.3)
    assert not call.recordings.running and _captures(call) == [] and await _rows(call) == []


async def _until_recording(call: Call, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(_captures(call)) < count:
        assert time.monotonic() < deadline, "the recording never started"
        await asyncio.sleep(0.01)


def _captures(call: Call) -> list[CallCapture]:
    return [tap for tap in call.taps if isinstance(tap, CallCapture)]


async def _rows(call: Call, state: str | None = None) -> list[dict[str, object]]:
    deadline = time.monotonic() + 5
    while True:
        found, _ = await call.store.list("acc")
        rows = [dict(row._mapping) for row in found]
        if state is None or (rows and all(row["state"] == state for row in rows)):
            return rows
        assert time.monotonic() < deadline, [(row["state"], row["last_error"], row["doc"]) for row in rows]
        await asyncio.sleep(0.02)


async def test_record_on_answer_starts_only_once_the_call_is_answered(call: Call) -> None:
    await call.recordings.record_call(RecordingRequest(url="http://r.example/x"), on_answer=True)
    call.bridged.set()  # a bridge is not an answer
    await asyncio.sleep(0.05)
    assert _captures(call) == [] and call.recordings.describe() == []  # asked for, not yet recording
    call.answered.set()
    await _until_recording(call)
    assert len(_captures(call)) == 1 and call.recordings.describe()[0]["state"] == "recording"


async def test_record_on_bridge_waits_for_the_bridge_not_the_answer(call: Call) -> None:
    await call.recordings.record_call(RecordingRequest(url="http://r.example/x"), on_bridge=True)
    call.answered.set()
    await asyncio.sleep(0.05)
    assert _captures(call) == []
    call.bridged.set()
    await _until_recording(call)
    assert len(_captures(call)) == 1


async def test_a_call_that_ends_before_its_answer_is_never_recorded(call: Call) -> None:
    await call.recordings.record_call(RecordingRequest(url="http://r.example/x"), on_answer=True)
    call.recordings.end()
    call.answered.set()
    await _never_recorded(call)
    await call.recordings.record_call(RecordingRequest(url="http://r.example/x"), on_answer=True)  # after the end
    assert not call.recordings.running


async def test_the_label_is_the_origin_and_stop_ends_every_recording(call: Call) -> None:
    await call.recordings.record_call(RecordingRequest(url="http://r.example/x", label="sales line"))
    await call.recordings.record_call(RecordingRequest(url="http://r.example/y"))
    assert len(_captures(call)) == 2
    await call.recordings.stop()
    assert not call.recordings.running and _captures(call) == []
    rows = await _rows(call, "discarded")  # no media ever flowed: nothing to deliver, and the row says why
    assert sorted(str(row["name"]) for row in rows) == ["call_recording_call-1.mp3", "call_recording_call-1_2.mp3"]
    origins = {str(row["name"]): row["doc"].get("origin") for row in rows}  # type: ignore[attr-defined]
    assert origins["call_recording_call-1.mp3"] == "callflow : sales line"
    assert origins["call_recording_call-1_2.mp3"] != "callflow : sales line"  # its own: no label
    assert all("no audio" in row["doc"]["discarded"] for row in rows)  # type: ignore[index]


async def test_a_stop_before_the_answer_means_the_recording_never_starts(call: Call) -> None:
    await call.recordings.record_call(RecordingRequest(url="http://r.example/x"), on_answer=True)
    assert call.recordings.running  # asked for: a toggle now would stop it, not start a second one
    await call.recordings.stop()
    assert not call.recordings.running
    call.answered.set()
    await _never_recorded(call)


async def test_a_toggle_while_the_announcement_plays_stops_the_recording_instead_of_starting_a_second(
    call: Call,
) -> None:
    telling = asyncio.Event()
    said = asyncio.Event()

    async def announce(prompt: str) -> bool:
        telling.set()
        await said.wait()
        return True

    call.recordings.announcer = announce
    call.answered.set()
    request = RecordingRequest(url="http://r.example/x", announce="tts://This call is recorded.")
    first = asyncio.create_task(call.recordings.record_call(request))
    await telling.wait()
    assert call.recordings.running  # being announced: on, for a toggle
    await call.recordings.stop()  # what a toggle does when it is on
    assert not call.recordings.running  # off at once, though the announcement is still being said
    said.set()
    await first
    await _never_recorded(call)
    await call.recordings.record_call(request)  # the next toggle: told already (in full), so it starts at once
    assert len(_captures(call)) == 1
