"""Logging that stays readable under attack: repeated events are logged once per key per interval, with a count.

A flood of bad logins, malformed messages or silent calls becomes one line every ``interval`` seconds
per source (or per reason) — "… (and 523 more like this in the last 10 s)" — instead of one per event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable

DEFAULT_INTERVAL = 10.0
MAX_KEYS = 10_000


class LogThrottle:
    """Remembers, per key, when it last logged and how many events it has held back since."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._keys: dict[Hashable, tuple[float, int]] = {}

    def log(
        self,
        logger: logging.Logger,
        level: int,
        key: Hashable,
        message: str,
        *args: object,
        exc_info: BaseException | None = None,
    ) -> bool:
        """Log *message* unless *key* was logged less than ``interval`` ago (then count it). True if logged."""
        if not logger.isEnabledFor(level):
            return False
        now = self.clock()
        last = self._keys.get(key)
        if last is not None and now - last[0] < self.interval:
            self._keys[key] = (last[0], last[1] + 1)
            return False
        if len(self._keys) >= MAX_KEYS:
            self._forget(now)
        held_back = last[1] if last is not None else 0
        if held_back:
            message += f" (and {held_back} more like this in the last {now - last[0]:.0f} s)"  # type: ignore[index]
        self._keys[key] = (now, 0)
        logger.log(level, message, *args, exc_info=exc_info)
        return True

    def error(self, logger: logging.Logger, key: Hashable, error: BaseException, message: str, *args: object) -> bool:
        """An unexpected *error* with its traceback, once per (key, kind of error) and interval."""
        return self.log(logger, logging.ERROR, (key, type(error)), message, *args, exc_info=error)

    def _forget(self, now: float) -> None:
        self._keys = {k: v for k, v in self._keys.items() if now - v[0] < self.interval}
        if len(self._keys) >= MAX_KEYS:  # a flood from many sources: start afresh rather than grow
            self._keys.clear()


#: The process's throttle (one memory of what was logged lately, shared by every part).
throttle = LogThrottle()
