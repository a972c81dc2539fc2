"""One drift-free 20 ms clock that paces every outgoing stream of the process.

A fault in one stream stays in that stream: the clock takes it off the schedule, tells it why, and
goes on ticking for every other call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)

TICK = 0.020
RATE = 8000
# After a stall of the event loop, every missed tick is still run — one per loop turn, between the reads, so
# relayed audio is sent rather than dropped and outgoing taps keep every frame. A stall longer than this skips
# ahead: under sustained overload, catching up a whole second (tried: 1.0) kept the loop busy with ticks and
# starved call set-up (46 of 800 calls got 503 after 5 s in bench/recording); skipping sheds that load.
MAX_CATCH_UP = 0.2


class Ticking(Protocol):
    """Something that sends one frame per tick."""

    def tick(self) -> None: ...

    def failed(self, error: Exception) -> None:
        """The clock dropped this stream because ``tick`` raised *error*."""


class MediaTimeline:
    """One call's media time: samples since its media began, shared by all its legs' taps."""

    def __init__(self, origin: float) -> None:
        self.origin = origin  # loop time

    def position(self, at: float) -> int:
        """The sample position of loop time *at*."""
        return round((at - self.origin) * RATE)


class MediaClock:
    """Calls ``tick()`` on every registered stream at t0 + n·20 ms (absolute, so errors never add up)."""

    def __init__(self) -> None:
        self._streams: set[Ticking] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._next = 0.0
        self.late_skips = 0
        self.failures = 0
        self.tick_time = 0.0  # the scheduled time of the tick being run (outgoing frames' place in time)
        self.tick_number = 0  # which 20 ms slot that is, counted from the clock's first tick (skips included)
        self._epoch: float | None = None

    def add(self, stream: Ticking) -> None:
        """Start pacing *stream*."""
        self._streams.add(stream)
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._next = loop.time() + TICK
            self._handle = loop.call_at(self._next, self._tick)

    def remove(self, stream: Ticking) -> None:
        """Stop pacing *stream*."""
        self._streams.discard(stream)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        self.tick_time = self._next
        if self._epoch is None:
            self._epoch = self._next
        self.tick_number = round((self._next - self._epoch) / TICK)
        for stream in list(self._streams):
            try:
                stream.tick()
            except Exception as exc:  # one broken stream must not silence every call of the process
                self._streams.discard(stream)
                self.failures += 1
                stream.failed(exc)
        now = loop.time()
        self._next += TICK
        if now - self._next > MAX_CATCH_UP:
            self.late_skips += 1
            self._next = now + TICK
        if self._streams:
            self._handle = loop.call_at(self._next, self._tick)
        else:
            self._handle = None
