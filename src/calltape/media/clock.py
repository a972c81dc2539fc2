"""One drift-free 20 ms clock that paces every outgoing stream of the process."""

from __future__ import annotations

import asyncio
from typing import Protocol

TICK = 0.020
MAX_LATE = 0.2  # after a stall longer than this, skip ahead instead of sending a burst


class Ticking(Protocol):
    """Something that sends one frame per tick."""

    def tick(self) -> None: ...


class MediaClock:
    """Calls ``tick()`` on every registered stream at t0 + n·20 ms (absolute, so errors never add up)."""

    def __init__(self) -> None:
        self._streams: set[Ticking] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._next = 0.0
        self.late_skips = 0

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
        for stream in list(self._streams):
            stream.tick()
        now = loop.time()
        self._next += TICK
        if now - self._next > MAX_LATE:
            self.late_skips += 1
            self._next = now + TICK
        if self._streams:
            self._handle = loop.call_at(self._next, self._tick)
        else:
            self._handle = None
