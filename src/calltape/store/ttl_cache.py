"""A small time-limited cache of store answers (including "not found"), bounded in size."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


class TtlCache:
    """Answers kept for ``ttl`` seconds; at ``max_entries`` it starts afresh rather than grow."""

    def __init__(self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """The cached answer for *key*, or ``await load()`` (then cached)."""
        now = self.clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        """Forget every answer (this node changed what they were read from)."""
        self._entries.clear()
