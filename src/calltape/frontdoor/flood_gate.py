"""Floods, scanners and password guessing: what a stranger sends is limited per source before it is even parsed.

Sources calltape has a reason to trust pass untouched: trusted networks and edges (``exempt``), connections calltape
opened itself (the transport does not ask), and addresses it has lately seen a device log in from, a device known
by its address call from, or sent a request to itself (``vouch``: phones, PBXs and carriers' gateways; for an hour
after the last time). Everything else — scanners (sipvicious' ``svmap``/``svwar``), password guessers, floods,
answers nobody asked for — goes through a token bucket per source address (``rate`` messages a second, ``burst`` at
once) and, over UDP (where a source can be spoofed), one shared by all strangers (``total_rate``). A source that
failed too many logins (``FailureThrottle``), vouched for or not, has one message a second let through for its
block (answered 403 with Retry-After, so a person with a mistyped password learns why) and the rest dropped — but
for the answers and in-dialog requests of a vouched address (the calls under way of the other phones behind an
office's NAT go on). What
is dropped over UDP is not answered: an answer costs more than the request and tells the scanner it found a SIP
server; a stream's connection is closed instead. Drops are logged once per source per interval with a count — at
most ``LOGGED_SOURCES`` sources an interval, the rest in one line, so that a flood from spoofed addresses cannot
flood the log — and counted for /metrics by reason. The state is bounded: ``max_sources`` buckets and vouched
addresses at most, the quietest forgotten first.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable

from calltape.frontdoor.auth_throttle import FailureThrottle
from calltape.logs import DEFAULT_INTERVAL, throttle

log = logging.getLogger(__name__)

RATE = 20.0  # a stranger's messages a second: a phone registering and calling needs a few
BURST = 40.0
TOTAL_RATE = 400.0  # every stranger together: a flood from many (spoofed) addresses cannot take the loop
VOUCH_FOR = 3600.0
MAX_SOURCES = 65_536
LOGGED_SOURCES = 20  # sources whose drops get a line of their own in a log interval; the others share one
_ANSWER = b"SIP/2.0 "
_IN_DIALOG = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*;[ \t]*tag=", re.IGNORECASE | re.MULTILINE)


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
        self._logged: set[str] = set()  # sources with a log line of their own in this interval
        self._logged_since = clock()

    def vouch(self, host: str) -> None:
        """*host* is known good (a login, a device by address, a peer calltape sent a request to)."""
        vouched = self._vouched
        if host not in vouched and len(vouched) >= self.max_sources:
            self._forget(vouched, self.clock())
        vouched[host] = self.clock() + VOUCH_FOR

    def admit(self, data: bytes, host: str, stream: bool = False) -> bool:
        """Whether to take *data* from *host* (*stream*: it came over TCP, TLS or WebSocket, which cannot be spoofed,
        so the strangers' shared rate does not apply)."""
        exempt = self._exempt.get(host)
        if exempt is None:
            if len(self._exempt) >= self.max_sources:
                self._exempt.clear()
            exempt = self._exempt[host] = self.exempt(host)
        if exempt:
            return True
        now = self.clock()
        if self.failures.blocked(host, now):  # one message a second is let through: it is told 403, Retry-After
            if self._vouched.get(host, 0.0) > now and (data.startswith(_ANSWER) or _IN_DIALOG.search(data)):
                return True  # the calls of the phones behind it (an office's NAT) go on
            told = self._told.get(host, 0.0)
            if now - told < 1.0:
                return self._drop(host, "blocked")
            if host not in self._told and len(self._told) >= self.max_sources:
                self._told.clear()
            self._told[host] = now
            return True
        until = self._vouched.get(host)
        if until is not None:
            if now < until:
                return True
            del self._vouched[host]
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._forget_full_buckets(now)
            bucket = self._buckets[host] = [self.burst, now]
        if not _take(bucket, now, self.rate, self.burst):
            return self._drop(host, "rate")
        if not stream and not _take(self._total, now, self.total_rate, self.total_rate):
            return self._drop(host, "total")
        return True

    def _drop(self, host: str, reason: str) -> bool:
        self.dropped[reason] += 1
        if reason == "total":  # many sources at once (perhaps spoofed): one line for all of them
            why = "SIP from strangers dropped unanswered: together over %g a second (the last from %s)"
            throttle.log(log, logging.WARNING, ("flood", "total"), why, self.total_rate, host)
            return False
        now = self.clock()
        if now - self._logged_since >= DEFAULT_INTERVAL:
            self._logged, self._logged_since = set(), now
        what = "it failed too many logins" if reason == "blocked" else f"over {self.rate:g} a second"
        if host in self._logged or len(self._logged) < LOGGED_SOURCES:
            self._logged.add(host)
            throttle.log(log, logging.WARNING, ("flood", host), "SIP from %s dropped unanswered: %s", host, what)
        else:
            why = "SIP from more than %d sources dropped unanswered (the last from %s: %s)"
            throttle.log(log, logging.WARNING, ("flood", "sources"), why, LOGGED_SOURCES, host, what)
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
