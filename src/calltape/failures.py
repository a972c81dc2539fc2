"""Failed attempts counted per key (a source address, an account) over a sliding window: what the API's sign-in and
tokens and the receiver's tokens refuse with 429 and Retry-After once too many went wrong. The table is bounded: a
guesser with ever new addresses makes it forget the quietest keys, not grow."""

from __future__ import annotations

import time
from collections import defaultdict, deque

FAILURE_WINDOW = 60.0  # seconds a failure counts
MAX_KEYS = 50_000


class SignInThrottle:
    """Counts failures per key over a sliding window."""

    def __init__(self, window: float = FAILURE_WINDOW) -> None:
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, keys: dict[str, int]) -> float:
        """Seconds until another try is allowed for every key (each allowed so many failures; 0: now)."""
        now, wait = time.monotonic(), 0.0
        for key, allowed in keys.items():
            times = self._failures.get(key)
            while times and times[0] <= now - self.window:
                times.popleft()
            if times is not None and not times:
                del self._failures[key]  # forgotten once its window is over: the table does not grow
            elif times is not None and len(times) >= allowed:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, keys: dict[str, int]) -> None:
        """One more failure for each key."""
        now = time.monotonic()
        if len(self._failures) >= MAX_KEYS:
            self._forget(now)
        for key in keys:
            self._failures[key].append(now)

    def _forget(self, now: float) -> None:
        """Keys whose window is over go; if that is not enough, the half whose last failure is oldest."""
        recent = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}
        if len(recent) >= MAX_KEYS:
            recent = dict(sorted(recent.items(), key=lambda item: item[1][-1])[len(recent) // 2 :])
        self._failures = defaultdict(deque, recent)
