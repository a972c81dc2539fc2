"""Recording what the caller says (voicemail, ``record_caller``): the A-leg's incoming frames into a spool.

It stops by itself after ``max_seconds`` or once the caller has been silent for ``silence_seconds``;
whoever runs it also stops it on a key or when the call ends. The silence that ended it is not kept.
Frames are written one after another as they come; a gap in their positions (loss, a pause) is written as
silence, and a frame that comes after its place was passed (reordered by the network) is left out.
"""

from __future__ import annotations

import asyncio
import audioop
from dataclasses import dataclass
from typing import Protocol

from calltape.media.g711 import G711
from calltape.media.taps import FrameBatch, TapDirection, Taps
from calltape.recording.spool import AudioSpool

FRAME_SECONDS = 0.02
FRAME_SAMPLES = 160
MAX_GAP_FRAMES = 500  # a longer gap (10 s) is written as this much silence
SILENCE_LEVEL = 300  # peak amplitude below which a 20 ms frame counts as silence


class KeyPresses(Protocol):
    """The call's DTMF: each subscriber gets every key pressed from then on."""

    def subscribe(self) -> asyncio.Queue[str]: ...
    def unsubscribe(self, queue: asyncio.Queue[str]) -> None: ...


@dataclass(frozen=True)
class Recorded:
    """What ``record_caller`` took: its length, and what ended it (a key, silence, the time limit, hangup)."""

    seconds: float
    ended_by: str
    key: str | None = None


class CallerRecorder:
    """A tap: ``recorder(side, pcm, position)`` for every frame the caller sends (*side*: the caller's side of
    the call's taps, "in" unless a transferee took the caller's place)."""

    def __init__(
        self,
        spool: AudioSpool,
        max_seconds: float,
        silence_seconds: float | None,
        threshold: int = SILENCE_LEVEL,
        side: TapDirection = TapDirection.IN,
    ) -> None:
        self.spool = spool
        self.side = side
        self.threshold = threshold
        self.max_frames = int(max_seconds / FRAME_SECONDS)
        self.silence_frames = int(silence_seconds / FRAME_SECONDS) if silence_seconds else None
        self.taken = 0  # frames taken so far
        self.last_sound = 0  # frames recorded up to the last one that was not silent
        self.stopped = asyncio.Event()
        self.reason = ""
        self.left_out = 0  # frames that came after their place was written
        self._quiet: list[bytes] = []
        self._next: int | None = None  # the position the next frame should have

    def __call__(self, direction: TapDirection, payload: bytes, position: int, codec: G711) -> None:
        if direction is not self.side or self.stopped.is_set():
            return
        if self._next is not None:
            if position < self._next:
                self.left_out += 1
                return
            gap = min((position - self._next) // FRAME_SAMPLES, MAX_GAP_FRAMES)
            for _ in range(gap):
                self._take(bytes(2 * FRAME_SAMPLES))
                if self.stopped.is_set():
                    return
        self._next = position + len(payload)
        self._take(codec.decode(payload))

    def frames(self, direction: TapDirection, batch: FrameBatch, codec: G711) -> None:
        for position, payload in batch.frames():
            self(direction, payload, position, codec)

    def _take(self, pcm: bytes) -> None:
        self.taken += 1  # per frame: silence is judged frame by frame (one call records at a time)
        if audioop.max(pcm, 2) >= self.threshold:
            for quiet in self._quiet:  # a pause inside the message: it stays
                self.spool.write(quiet)
            self._quiet.clear()
            self.spool.write(pcm)
            self.last_sound = self.taken
        else:
            self._quiet.append(pcm)  # held back until sound follows: trailing silence is cut
        if self.taken >= self.max_frames:
            self.stop("time_limit")
        elif self.silence_frames and self.taken - self.last_sound >= self.silence_frames:
            self.stop("silence")

    def stop(self, reason: str) -> None:
        """Stop taking frames (a pause before a key or a hangup is kept; one that ran into the limit is cut)."""
        if self.stopped.is_set():
            return
        self.reason = reason
        if reason != "silence":
            for quiet in self._quiet:
                self.spool.write(quiet)
        self._quiet.clear()
        self.stopped.set()


async def record_until_done(
    recorder: CallerRecorder, taps: Taps, keys: KeyPresses, call_ended: asyncio.Event, stop_keys: str
) -> str | None:
    """Run *recorder* on the call's *taps* until a key of *stop_keys* (which is returned), its own end (silence,
    the time limit) or the call's; what came before the key or the hangup is in the recording."""
    pressed_keys = keys.subscribe()
    taps.append(recorder)
    try:
        pressed = asyncio.ensure_future(_first_of(pressed_keys, stop_keys))
        others = [asyncio.ensure_future(recorder.stopped.wait()), asyncio.ensure_future(call_ended.wait())]
        await asyncio.wait([pressed, *others], return_when=asyncio.FIRST_COMPLETED)
        for task in (pressed, *others):
            task.cancel()
        taps.settle()
        if pressed.done() and not pressed.cancelled():
            recorder.stop("key")
            return pressed.result()
        recorder.stop("hangup" if call_ended.is_set() else recorder.reason or "hangup")
        return None
    finally:
        if recorder in taps:
            taps.remove(recorder)
        keys.unsubscribe(pressed_keys)


async def _first_of(keys: asyncio.Queue[str], wanted: str) -> str:
    """The first key in *wanted* pressed."""
    while True:
        key = await keys.get()
        if key in wanted:
            return key
