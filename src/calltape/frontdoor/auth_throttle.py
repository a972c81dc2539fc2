"""Slowing down password guessing: too many failed logins from one source blocks it for a while."""

from __future__ import annotations

from collections import deque


class FailureThrottle:
    """Counts authentication failures per source address in a sliding window."""

    def __init__(self, limit: int = 10, window: float = 60.0, block_for: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self.block_for = block_for
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def blocked(self, source: str, now: float) -> bool:
        """True while *source* is serving a block."""
        until = self._blocked_until.get(source)
        if until is None:
            return False
        if now >= until:
            del self._blocked_until[source]
            return False
        return True

    def failure(self, source: str, now: float) -> None:
        """Record a failed attempt; enough of them within the window block the source."""
        times = self._failures.setdefault(source, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            self._blocked_until[source] = now + self.block_for
            del self._failures[source]
        if len(self._failures) > 50_000:  # forget quiet sources
            self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}

    def success(self, source: str) -> None:
        """A good login clears the source's record."""
        self._failures.pop(source, None)
