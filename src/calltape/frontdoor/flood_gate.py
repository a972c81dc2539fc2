"""Floods, scanners and password guessing: what a stranger sends is limited per source before it is even parsed.

Sources calltape has a reason to trust pass untouched: trusted networks and edges (``exempt``), and addresses it
has lately seen a device log in from, a device known by its address call from, or sent a request to itself
(``vouch``: phones, PBXs and carriers' gateways; for an hour after the last time). Everything else — scanners
(sipvicious' ``svmap``/``svwar``), password guessers, floods — goes through a token bucket per source address
(``rate`` messages a second, ``burst`` at once) and one shared by all strangers (``total_rate``), and a source that
failed too many logins (``FailureThrottle``) has one message a second let through for its block (answered 403 with
Retry-After, so a person with a mistyped password learns why) and the rest dropped. What is dropped is not answered:
an answer costs more than the request and tells the scanner it found a SIP server. Each source's drops are logged
once per interval with a count, and counted for /metrics by reason. The state is bounded: ``max_sources`` buckets
and vouched addresses at most, the quietest forgotten first.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from calltape.frontdoor.auth_throttle import FailureThrottle
from calltape.logs import throttle

log = logging.getLogger(__name__)

RATE = 20.0  # a stranger's messages a second: a phone registering and calling needs a few
BURST = 40.0
TOTAL_RATE = 400.0  # every stranger together: a flood from many (spoofed) addresses cannot take the loop
VOUCH_FOR = 3600.0
MAX_SOURCES = 65_536
_RESPONSE = b"SIP/2.0 "


class FloodGate:
    """``admit(data, host)`` for each message off the wire: False drops it."""

    def __init__(
        self,
        exempt: Callable[[str], bool],
        failures: FailureThrottle,
        *,
        rate: float = RATE,
        burst: float = BURST,
        total_rate: float = TOTAL_RATE,
        max_sources: int = MAX_SOURCES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.exempt = exempt
        self.failures = failures
        self.rate, self.burst, self.total_rate = rate, burst, total_rate
        self.max_sources = max_sources
        self.clock = clock
        self.dropped: Counter[str] = Counter()  # by reason: blocked, rate, total
        self._exempt: dict[str, bool] = {}  # the answer of ``exempt`` per address
        self._vouched: dict[str, float] = {}  # address → until when
        self._buckets: dict[str, list[float]] = {}  # address → [tokens, when last filled]
        self._told: dict[str, float] = {}  # a blocked address → when a message of its was last let through
        self._total = [total_rate, clock()]

    def vouch(self, host: str) -> None:
        """*host* is known good (a login, a device by address, a peer calltape sent a request to)."""
        vouched = self._vouched
        if host not in vouched and len(vouched) >= self.max_sources:
            self._forget(vouched, self.clock())
        vouched[host] = self.clock() + VOUCH_FOR

    def admit(self, data: bytes, host: str) -> bool:
        """Whether to take a message from *host* (answers to our requests always pass: they are matched or not)."""
        exempt = self._exempt.get(host)
        if exempt is None:
            if len(self._exempt) >= self.max_sources:
                self._exempt.clear()
            exempt = self._exempt[host] = self.exempt(host)
        if exempt or data.startswith(_RESPONSE):
            return True
        now = self.clock()
        until = self._vouched.get(host)
        if until is not None:
            if now < until:
                return True
            del self._vouched[host]
        if self.failures.blocked(host, now):  # one message a second is let through: it is told 403, Retry-After
            told = self._told.get(host, 0.0)
            if now - told < 1.0:
                return self._drop(host, "blocked")
            if host not in self._told and len(self._told) >= self.max_sources:
                self._told.clear()
            self._told[host] = now
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._forget_full_buckets(now)
            bucket = self._buckets[host] = [self.burst, now]
        if not _take(bucket, now, self.rate, self.burst):
            return self._drop(host, "rate")
        if not _take(self._total, now, self.total_rate, self.total_rate):
            return self._drop(host, "total")
        return True

    def _drop(self, host: str, reason: str) -> bool:
        self.dropped[reason] += 1
        what = {
            "blocked": "it failed too many logins",
            "rate": f"over {self.rate:g} a second",
            "total": f"strangers together over {self.total_rate:g} a second",
        }[reason]
        throttle.log(log, logging.WARNING, ("flood", host), "SIP from %s dropped unanswered: %s", host, what)
        return False

    def _forget_full_buckets(self, now: float) -> None:
        """Drop the buckets that have filled up again (forgetting them changes nothing); if none has, the oldest."""
        self._buckets = {
            host: bucket
            for host, bucket in self._buckets.items()
            if bucket[0] + (now - bucket[1]) * self.rate < self.burst
        }
        if len(self._buckets) >= self.max_sources:
            oldest = sorted(self._buckets.items(), key=lambda item: item[1][1])[: self.max_sources // 2]
            for host, _bucket in oldest:
                del self._buckets[host]

    def _forget(self, vouched: dict[str, float], now: float) -> None:
        for host in [host for host, until in vouched.items() if until <= now]:
            del vouched[host]
        if len(vouched) >= self.max_sources:
            for host, _until in sorted(vouched.items(), key=lambda item: item[1])[: self.max_sources // 2]:
                del vouched[host]

    @property
    def sources(self) -> int:
        """Addresses the gate holds state for (bounded by ``max_sources`` each)."""
        return len(self._buckets) + len(self._vouched)


def _take(bucket: list[float], now: float, rate: float, burst: float) -> bool:
    """Refill *bucket* ([tokens, when]) for the time since, then take a token if there is one."""
    tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
    bucket[1] = now
    if tokens < 1.0:
        bucket[0] = tokens
        return False
    bucket[0] = tokens - 1.0
    return True
