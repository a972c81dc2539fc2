"""A call's recordings, all of them: ``record_call`` (both sides, captured and encoded apart), ``record_caller``
and voicemail (what the caller says, until a key, silence, the limit or hangup), and the automatic recordings
an account's or device's ``call_recording`` settings ask for. The call model asks this one object; it knows
nothing of SIP or callflows.

A ``record_call`` recording starts now or on answer/bridge; they stop together and end by hangup.
Each is a :class:`CallCapture` on the call's taps. Once a second (from its own start, so calls
differ) it writes what it took to its capture file; when it ends, the capture is encoded apart from the
event loop. Its time limit is a place on the call's timeline, so the file is cut at the exact sample. Later
recordings of one call are numbered (``_2``, ``_3``…) so nothing is overwritten, and ``stop`` ends all of
them — unlike Kazoo, which ends only the newest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from calltape.media.clock import RATE, MediaTimeline
from calltape.media.dtmf import EVENTS
from calltape.media.taps import TapDirection, Taps
from calltape.recording.automatic_recordings import AutomaticRecordings
from calltape.recording.caller_recorder import SILENCE_LEVEL, CallerRecorder, KeyPresses, Recorded, record_until_done
from calltape.recording.capture import CallCapture
from calltape.recording.manager import RecordingManager
from calltape.recording.metadata import CallFacts
from calltape.recording.open_recording import Recording, RecordingError
from calltape.recording.request import RecordingRequest
from calltape.recording.spool import AudioSpool
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

ADVANCE_INTERVAL = 1.0


@dataclass
class _Running:
    recording: Recording
    capture: CallCapture
    follow_transfer: bool = True
    timer: asyncio.TimerHandle | None = None


class CallRecordings:
    """The recordings of one call (*manager* None: only voicemail, which writes its own file, can record)."""

    def __init__(
        self,
        manager: RecordingManager | None,
        call_id: str,
        taps: Taps,
        timeline: Callable[[], MediaTimeline],
        media_started: Callable[[], bool],
        facts: Callable[[], Awaitable[CallFacts]],
        keys: KeyPresses,
        answered: asyncio.Event,
        bridged: asyncio.Event,
        call_ended: asyncio.Event,
    ) -> None:
        self.manager = manager
        self.call_id = call_id
        self.taps = taps
        self.party_side = TapDirection.IN  # the side of the taps the caller speaks on (a transferee keeps its own)
        self.timeline = timeline
        self.media_started = media_started
        self.facts = facts
        self.keys = keys
        self.answered = answered
        self.bridged = bridged
        self.call_ended = call_ended
        self.sequence = 0
        self._running: list[_Running] = []
        self._waiting = TaskSet(f"call-id {call_id}: recordings waiting to start")
        self._closing = TaskSet(f"call-id {call_id}: recordings closing")
        self._said_not_stored = False
        self.automatic = AutomaticRecordings(self.record_call, answered, self._waiting.spawn)
        self.masked = False
        self.paused = False
        # consent: the call's parties are told once, before the first recording that asks for it starts
        self.announcer: Callable[[str], Awaitable[bool]] | None = None  # the call's: plays to every party now
        self.beeper: Callable[[], Awaitable[None]] | None = None  # the call's: a beep to every party now
        self._beeping = False
        self.bridging = False  # a bridge being made tells them itself, between its answer and its bridge
        self.told = asyncio.Event()
        self._told_ok = False  # the announcement was played (else recordings waiting for it do not start)
        self._stops = 0  # stops so far: a recording still waiting to start when one comes never starts
        # recordings asked for that wait for their announcement, the answer or the bridge (one token each; a stop
        # forgets them all at once, and each one's own end forgets it)
        self._waiting_to_start: set[object] = set()
        self.announcement: str | None = None  # what is (or was) said
        self._telling = False
        self._ended = False
        self._loop = asyncio.get_running_loop()

    # ---- record_call -----------------------------------------------------------------------------

    async def record_call(self, request: RecordingRequest, *, on_answer: bool = False, on_bridge: bool = False) -> None:
        """Start recording what the caller says and hears: now, or once the call is answered or bridged."""
        event = self.answered if on_answer else self.bridged if on_bridge else None
        await self.start(request, None if event is None or event.is_set() else event)

    async def start(self, request: RecordingRequest, when: asyncio.Event | None = None) -> None:
        """Start a recording now, or (*when* given) once it is set — unless the call ends or a stop comes first.
        Until it starts it counts as running: a toggle meanwhile stops it rather than start a second one."""
        if self.manager is None:
            log.warning("call-id %s: recording is not available on this server", self.call_id)
            return
        if self._ended:  # a metaflow or the API, just after the hangup
            return
        stops = self._stops
        if request.announce and not self.told.is_set():
            self.announcement = self.announcement or request.announce
            if when is None and self.answered.is_set() and not self.bridging:
                token = object()  # now: the flow goes on once it has been said
                self._waiting_to_start.add(token)
                try:
                    await self._start_after_telling(request, None, stops)
                finally:
                    self._waiting_to_start.discard(token)
            else:
                self._start_later(self._start_after_telling(request, when, stops))
            return
        if when is None:
            await self._start(request)
            return
        self._start_later(self._start_after(request, when, stops))

    def _start_later(self, starting: Coroutine[Any, Any, None]) -> None:
        task = self._waiting.spawn(starting)
        self._waiting_to_start.add(task)
        task.add_done_callback(self._waiting_to_start.discard)

    async def _start_after_telling(self, request: RecordingRequest, when: asyncio.Event | None, stops: int) -> None:
        """Consent: once answered, the parties hear the announcement, and only then does the recording start
        (unless a stop came since it was asked for: *stops* then)."""
        for event in (when, self.answered):
            if event is not None:
                await event.wait()
        if self.bridging:  # the bridge being made tells both sides before it bridges them
            await self.told.wait()
        elif self.announcer is not None:
            await self.tell(self.announcer)
        if not self._told_ok:  # consent could not be asked: no recording rather than one nobody was told of
            log.error("call-id %s: recording not started: its announcement could not be played", self.call_id)
            return
        if not self._ended and self._stops == stops:
            await self._start(request)

    async def _beep_every(self, interval: float) -> None:
        """Consent, as Asterisk's MixMonitor B(): every *interval* seconds while a recording runs, every party hears
        a beep (and the recording has it, in what the caller hears)."""
        try:
            while not self._ended:
                await asyncio.sleep(interval)
                if not self._running or self._ended:
                    return
                assert self.beeper is not None
                try:
                    await self.beeper()
                except Exception:
                    if not self._ended:  # the call ending meanwhile is no fault
                        log.exception("call-id %s: the recording beep could not be played", self.call_id)
                    return
        finally:
            self._beeping = False

    async def tell(self, play: Callable[[str], Awaitable[bool]]) -> None:
        """Play the announcement a recording waits for with *play* (True if it was played), once per call; others
        wait until it is done."""
        if self.told.is_set() or self.announcement is None:
            return
        if self._telling:
            await self.told.wait()
            return
        self._telling = True
        try:
            log.info("call-id %s: telling the parties they are recorded", self.call_id)
            self._told_ok = await play(self.announcement)
        finally:
            self.told.set()

    async def _start_after(self, request: RecordingRequest, when: asyncio.Event, stops: int) -> None:
        await when.wait()
        if not self._ended and self._stops == stops:  # a stop before the answer (or bridge) is a stop of this one
            await self._start(request)

    async def _start(self, request: RecordingRequest) -> None:
        assert self.manager is not None
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
            masked=self.masked,
            paused=self.paused,
        )
        running = _Running(recording, capture, request.follow_transfer)
        self.taps.append(running.capture)
        self._running.append(running)
        running.timer = self._loop.call_later(ADVANCE_INTERVAL, self._advance, running)
        if request.beep_interval and not self._beeping and self.beeper is not None:
            self._beeping = True
            self._waiting.spawn(self._beep_every(request.beep_interval))
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
        self.taps.settle()
        running.capture.flush(self._now())
        if not running.capture.finished:
            running.timer = self._loop.call_later(ADVANCE_INTERVAL, self._advance, running)

    @property
    def running(self) -> bool:
        """True while a recording runs or waits to start (its announcement, the answer, the bridge)."""
        return bool(self._running or self._waiting_to_start)

    def describe(self) -> list[dict[str, Any]]:
        """The recordings running now, as the channels API shows them."""
        return [
            {
                "recording_id": running.recording.id,
                "name": running.recording.name,
                "format": running.recording.fmt,
                "state": "paused" if running.capture.paused else "masked" if running.capture.masked else "recording",
                "started_at": running.capture.started_at,
                "follows_transfer": running.follow_transfer,
            }
            for running in self._running
        ]

    def mask(self, masked: bool) -> None:
        """Masked recordings take silence instead of the call's audio (and recordings started later too)."""
        self.masked = masked
        self._switch(masked, "masked", "recording.masked", "recording.unmasked")

    def pause(self, paused: bool) -> None:
        """Paused recordings capture nothing; each file leaves the time out or keeps it silent, as its
        ``pause_behavior`` says (recordings started meanwhile begin paused)."""
        self.paused = paused
        self._switch(paused, "paused", "recording.paused", "recording.resumed")

    def _switch(self, on: bool, state: str, on_event: str, off_event: str) -> None:
        self.taps.settle()  # what came before is on the other side of the switch
        now = self._now()
        for running in self._running:
            capture = running.capture
            if getattr(capture, state) == on:
                continue
            if state == "paused":
                capture.set_paused(on, now)
            else:
                capture.set_masked(on, now)
            if self.manager is not None:
                self.manager.emit_soon(running.recording, on_event if on else off_event)

    async def stop(self) -> None:
        """End every recording of the call (``record_call`` with ``action: stop``), and those waiting to start."""
        self._stops += 1
        self._waiting_to_start.clear()  # they never start (an announcement being said is still said in full)
        for running in list(self._running):
            self._stop_one(running, "")

    def transferred(self) -> None:
        """The caller was transferred: a recording asked not to follow (``should_follow_transfer: false``) ends
        here; the others go on, the new party in the same channel."""
        for running in list(self._running):
            if not running.follow_transfer:
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
        assert self.manager is not None
        try:
            facts = await self.facts()
        except Exception as exc:  # the store is down: the recording is closed with what is known
            log.warning("call-id %s: call facts unavailable for the recording: %r", self.call_id, exc)
            facts = running.recording.facts
        capture = running.capture
        self.manager.close_capture(
            running.recording, capture.frames_received, capture.not_captured, capture.started_at, facts, note
        )

    # ---- record_caller and voicemail ---------------------------------------------------------------

    async def record_caller_to(
        self, request: RecordingRequest, silence_seconds: float | None, silence_threshold: int = SILENCE_LEVEL
    ) -> Recorded:
        """``record_caller``: the caller until any key, silence, the limit or hangup; then delivered."""
        manager = self.manager
        recording = None
        if manager is not None:
            try:
                recording = await manager.open(await self.facts(), request, caller_only=True)
            except RecordingError as exc:
                log.error("call-id %s: record_caller: %s", self.call_id, exc)
                return Recorded(0.0, "not recorded")
        if manager is None or recording is None:
            log.info("call-id %s: record_caller: no url and nowhere to store the recording, not recorded", self.call_id)
            return Recorded(0.0, "not stored")
        started_at = time.time()
        spool = recording.spool
        assert spool is not None  # a caller-only recording is written as it comes
        try:
            recorded = await self.record_caller(
                spool, recording.limit_seconds, silence_seconds, EVENTS, silence_threshold
            )
        finally:  # whatever happens, what was recorded is finished and delivered
            manager.close(recording, spool.samples, started_at, recording.facts, "")
        return recorded

    async def record_caller(
        self,
        spool: AudioSpool,
        max_seconds: float,
        silence_seconds: float | None,
        stop_keys: str,
        silence_threshold: int = SILENCE_LEVEL,
    ) -> Recorded:
        """What the caller says into *spool* until a key of *stop_keys*, silence, *max_seconds* or hangup."""
        recorder = CallerRecorder(spool, max_seconds, silence_seconds, silence_threshold, self.party_side)
        key = await record_until_done(recorder, self.taps, self.keys, self.call_ended, stop_keys)
        log.info("call-id %s: recorded %.1f s of the caller (%s)", self.call_id, spool.seconds, recorder.reason)
        return Recorded(spool.seconds, recorder.reason, key)
