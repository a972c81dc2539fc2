"""Failed attempts counted per key (a source address, an account) over a sliding window: what the API's sign-in and
its tokens refuse with 429 and Retry-After once too many went wrong."""

from __future__ import annotations

import time
from collections import defaultdict, deque

FAILURE_WINDOW = 60.0  # seconds a failure counts


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
        for key in keys:
            self._failures[key].append(time.monotonic())
