"""Slowing down password guessing: too many failed logins from one source blocks it for a while (its memory is
bounded: a guesser with many addresses cannot make it grow without end)."""

from __future__ import annotations

from collections import deque

MAX_SOURCES = 50_000  # addresses remembered at most, for failures and for blocks each


def _newest_half(until: dict[str, float]) -> dict[str, float]:
    if len(until) < MAX_SOURCES:
        return until
    return dict(sorted(until.items(), key=lambda item: item[1])[len(until) // 2 :])


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
            if len(self._blocked_until) >= MAX_SOURCES:  # blocks over: forgotten; still too many: the soonest over
                self._blocked_until = _newest_half({k: v for k, v in self._blocked_until.items() if v > now})
            self._blocked_until[source] = now + self.block_for
            del self._failures[source]
        if len(self._failures) > MAX_SOURCES:  # forget quiet sources; still too many (spoofed): the quietest half
            self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}
            if len(self._failures) > MAX_SOURCES:
                self._failures = dict(
                    sorted(self._failures.items(), key=lambda item: item[1][-1])[len(self._failures) // 2 :]
                )

    def success(self, source: str) -> None:
        """A good login clears the source's record."""
        self._failures.pop(source, None)
