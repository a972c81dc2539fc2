"""When to try again: the schedule every outbox uses (recording deliveries, e-mails, webhook events) — Kazoo's
five quick tries, then ``storage_retry_times`` rounds, then hourly, until a horizon after the event."""

from __future__ import annotations

import random

from calltape.digits import is_number

QUICK_TRIES = 5  # Kazoo's: five tries, one retry base (5 s) apart
ROUND_FIRST, ROUND_MOST = 12.0, 120.0  # storage_retry_times rounds: 1 to 10 minutes apart (in retry bases)
LATER = 720.0  # then once an hour (in retry bases)
DEFAULT_HORIZON = 86400.0  # seconds after the hang-up before a recording that cannot be delivered is failed


def retry_delay(retry: int, base: float, rounds: int, retry_after: float | None = None) -> float:
    """Seconds before retry number *retry* (1, 2, …): *base* until there were QUICK_TRIES tries, then *rounds*
    waits from 12·base doubling to 120·base (1 to 10 minutes at the default 5 s), then 720·base (an hour);
    each up to 25 % more, or the receiver's Retry-After if longer."""
    if retry < QUICK_TRIES:
        delay = base
    elif retry < QUICK_TRIES + rounds:
        delay = min(ROUND_FIRST * base * 2 ** (retry - QUICK_TRIES), ROUND_MOST * base)
    else:
        delay = LATER * base
    delay *= random.uniform(1.0, 1.25)
    return max(delay, retry_after) if retry_after is not None else delay


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's seconds, if it gave a number."""
    if value and is_number(value.strip()):
        return float(value.strip())
    return None
