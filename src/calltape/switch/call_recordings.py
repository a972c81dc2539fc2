"""A call's ``record_call`` recordings: started now or on answer/bridge, stopped together, ended by hangup.

Each recording is a :class:`CallCapture` on the call's taps. Once a second (from its own start, so calls
differ) it writes what it took to its capture file; when it ends, the capture is encoded apart from the
event loop. Its time limit is a place on the call's timeline, so the file is cut at the exact sample. Later
recordings of one call are numbered (``_2``, ``_3``…) so nothing is overwritten, and ``stop`` ends all of
them — unlike Kazoo, which ends only the newest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from calltape.media.clock import RATE, MediaTimeline
from calltape.media.session import Tap
from calltape.recording.capture import CallCapture
from calltape.recording.manager import Recording, RecordingError, RecordingManager
from calltape.recording.metadata import CallFacts
from calltape.recording.request import RecordingRequest
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

ADVANCE_INTERVAL = 1.0


@dataclass
class _Running:
    recording: Recording
    capture: CallCapture
    timer: asyncio.TimerHandle | None = None


class CallRecordings:
    """The record_call recordings of one call."""

    def __init__(
        self,
        manager: RecordingManager,
        call_id: str,
        taps: list[Tap],
        timeline: Callable[[], MediaTimeline],
        media_started: Callable[[], bool],
        facts: Callable[[], Awaitable[CallFacts]],
    ) -> None:
        self.manager = manager
        self.call_id = call_id
        self.taps = taps
        self.timeline = timeline
        self.media_started = media_started
        self.facts = facts
        self.sequence = 0
        self._running: list[_Running] = []
        self._waiting = TaskSet(f"call-id {call_id}: recordings waiting to start")
        self._closing = TaskSet(f"call-id {call_id}: recordings closing")
        self._said_not_stored = False
        self.masked = False
        self._ended = False
        self._loop = asyncio.get_running_loop()

    async def start(self, request: RecordingRequest, when: asyncio.Event | None = None) -> None:
        """Start a recording now, or (*when* given) once it is set — unless the call ends first."""
        if when is None:
            await self._start(request)
            return
        self._waiting.spawn(self._start_after(request, when))

    async def _start_after(self, request: RecordingRequest, when: asyncio.Event) -> None:
        await when.wait()
        if not self._ended:
            await self._start(request)

    async def _start(self, request: RecordingRequest) -> None:
        self.sequence += 1
        try:
            recording = await self.manager.open(await self.facts(), request, caller_only=False, sequence=self.sequence)
        except Exception as exc:  # a full disk, the store down: the call goes on, and the log says why
            reason = str(exc) if isinstance(exc, RecordingError) else repr(exc)
            log.error("call-id %s: recording not made: %s", self.call_id, reason)
            return
        if recording is None:
            if not self._said_not_stored:
                self._said_not_stored = True
                log.info(
                    "call-id %s: recording not made: no url, no storage plan, and store_recordings is false",
                    self.call_id,
                )
            return
        if self._ended:  # the call ended while the file was being opened
            assert recording.capture is not None
            recording.capture.close()
            self.manager.close_capture(recording, 0, 0, None, recording.facts, "")
            return
        start = self._now() if self.media_started() else None
        assert recording.capture is not None
        capture = CallCapture(
            recording.capture,
            limit_samples=int(recording.limit_seconds * RATE),
            on_stop=lambda reason: self._stop_soon(running, reason),
            start=start,
        )
        capture.masked = self.masked
        running = _Running(recording, capture)
        self.taps.append(running.capture)
        self._running.append(running)
        running.timer = self._loop.call_later(ADVANCE_INTERVAL, self._advance, running)
        log.info("call-id %s: recording %s started (%s)", self.call_id, recording.name, recording.fmt)

    def _stop_soon(self, running: _Running, reason: str) -> None:
        """The recorder stopped by itself (inside a tap call): end it once the frame is handled."""
        self._loop.call_soon(self._stop_one, running, reason)

    def _now(self) -> int:
        return self.timeline().position(self._loop.time())

    def _advance(self, running: _Running) -> None:
        """Once a second: the capture goes to disk, and the time limit is checked even if no frame came."""
        running.timer = None
        if running.capture.finished:
            return
        running.capture.flush(self._now())
        if not running.capture.finished:
            running.timer = self._loop.call_later(ADVANCE_INTERVAL, self._advance, running)

    @property
    def running(self) -> bool:
        """True while a recording runs."""
        return bool(self._running)

    def mask(self, masked: bool) -> None:
        """Masked recordings take silence instead of the call's audio (and recordings started later too)."""
        self.masked = masked
        for running in self._running:
            running.capture.masked = masked

    async def stop(self) -> None:
        """End every recording of the call (``record_call`` with ``action: stop``)."""
        for running in list(self._running):
            self._stop_one(running, "")

    def end(self) -> None:
        """The call ended: every recording ends, and none starts any more."""
        self._ended = True
        self._waiting.cancel()
        for running in list(self._running):
            self._stop_one(running, "")

    def _stop_one(self, running: _Running, reason: str) -> None:
        if running not in self._running:
            return
        self._running.remove(running)
        if running.timer is not None:
            running.timer.cancel()
        if running.capture in self.taps:
            self.taps.remove(running.capture)
        running.capture.finish(self._now())
        note = running.capture.error or (reason if reason != "time_limit" else "")
        if reason == "time_limit":
            log.info("call-id %s: recording %s reached its time limit", self.call_id, running.recording.name)
        self._closing.spawn(self._close(running, note))

    async def _close(self, running: _Running, note: str) -> None:
        try:
            facts = await self.facts()
        except Exception as exc:  # the store is down: the recording is closed with what is known
            log.warning("call-id %s: call facts unavailable for the recording: %r", self.call_id, exc)
            facts = running.recording.facts
        capture = running.capture
        self.manager.close_capture(
            running.recording, capture.frames_received, capture.not_captured, capture.started_at, facts, note
        )
