"""A small time-limited cache of store answers (including "not found"), bounded in size.

Concurrent misses of one key share a single load: when a hot answer (the callflow of a busy number,
an account's realm) expires under load, one query goes to the store, not one per call being set up —
a herd of hundreds of queries on SQLite's single connection once held call set-up for over 5 s.
"""

from __future__ import annotations

import asyncio
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
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}
        self._generation = 0  # bumped by clear(): a load that started before it is not kept

    async def get(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """The cached answer for *key*, or the answer of the one ``load()`` in flight for it (then cached)."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load, self._generation))
            self._loading[key] = pending
        return await asyncio.shield(pending)  # a waiter given up on (a set-up timeout) leaves the load to the rest

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[Any]], generation: int) -> Any:
        try:
            value = await load()
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if generation == self._generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (self.clock() + self.ttl, value)
        return value

    def forget(self, key: Hashable) -> None:
        """Forget the answer for *key* (the next get loads it afresh; a load already under way is still shared)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every answer (this node changed what they were read from)."""
        self._entries.clear()
        self._loading.clear()  # the next get loads afresh
        self._generation += 1
