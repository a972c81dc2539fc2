"""The flood gate (issue 24): strangers limited per source and together, trusted and vouched sources untouched,
blocked guessers dropped, one log line per source per interval, and state that stays bounded."""

from __future__ import annotations

import logging
import time

import pytest

from calltape.frontdoor.auth_throttle import MAX_SOURCES, FailureThrottle
from calltape.frontdoor.flood_gate import LOGGED_SOURCES, VOUCH_FOR, FloodGate
from calltape.logs import throttle

REGISTER = b"REGISTER sip:example.com SIP/2.0\r\n"
RESPONSE = b"SIP/2.0 200 OK\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _gate(clock: Clock, **limits: float) -> FloodGate:
    return FloodGate(lambda host: host == "10.0.0.1", FailureThrottle(), clock=clock, **limits)  # type: ignore[arg-type]


def _admitted(gate: FloodGate, host: str, count: int, data: bytes = REGISTER) -> int:
    return sum(gate.admit(data, host) for _ in range(count))


def test_a_stranger_gets_its_burst_then_its_rate_and_the_rest_is_dropped() -> None:
    clock = Clock()
    gate = _gate(clock, rate=20, burst=40, total_rate=1000)
    assert _admitted(gate, "192.0.2.7", 500) == 40
    clock.now += 1.0
    assert _admitted(gate, "192.0.2.7", 500) == 20
    assert gate.dropped == {"rate": 940}
    assert _admitted(gate, "192.0.2.8", 10) == 10  # another source has its own bucket


def test_trusted_and_vouched_sources_are_never_limited_and_answers_nobody_asked_for_are() -> None:
    clock = Clock()
    gate = _gate(clock, rate=1, burst=1, total_rate=1)
    assert _admitted(gate, "10.0.0.1", 5000) == 5000  # a trusted network (or an edge)
    assert _admitted(gate, "192.0.2.9", 50, RESPONSE) == 1  # a stranger's "answers": limited as its requests
    gate.vouch("192.0.2.10")  # a device logged in from there, or calltape called it
    assert _admitted(gate, "192.0.2.10", 5000) == 5000
    assert _admitted(gate, "192.0.2.10", 5000, RESPONSE) == 5000
    clock.now += VOUCH_FOR + 1
    assert _admitted(gate, "192.0.2.10", 10) == 1  # an hour after the last reason to trust it: a stranger again
    assert gate.dropped["rate"] == 49 + 9


def test_streams_are_held_to_their_own_rate_only() -> None:
    clock = Clock()
    gate = _gate(clock, rate=10, burst=10, total_rate=5)
    assert sum(gate.admit(REGISTER, f"198.51.100.{n}", True) for n in range(20) for _ in range(10)) == 200
    assert _admitted(gate, "198.51.100.99", 10) == 5  # over UDP the strangers' shared rate applies


def test_all_strangers_together_are_held_to_the_total_rate() -> None:
    clock = Clock()
    gate = _gate(clock, rate=100, burst=100, total_rate=50)
    admitted = sum(_admitted(gate, f"198.51.100.{n}", 10) for n in range(100))  # a flood from many addresses
    assert admitted == 50 and gate.dropped == {"total": 950}
    assert _admitted(gate, "10.0.0.1", 10) == 10


def test_a_source_that_failed_too_many_logins_gets_one_message_a_second_through_for_its_block() -> None:
    clock = Clock()
    gate = _gate(clock, rate=1000, burst=1000, total_rate=10_000)
    for _ in range(10):
        gate.failures.failure("203.0.113.5", clock.now)
    assert _admitted(gate, "203.0.113.5", 100) == 1 and gate.dropped == {"blocked": 99}  # one to be told 403
    clock.now += 0.5
    assert _admitted(gate, "203.0.113.5", 100) == 0
    clock.now += 0.5
    assert _admitted(gate, "203.0.113.5", 100) == 1  # one a second
    clock.now += 60
    assert _admitted(gate, "203.0.113.5", 100) == 100
    gate.vouch("203.0.113.6")  # a device logged in from there once: its guessing is blocked all the same
    for _ in range(10):
        gate.failures.failure("203.0.113.6", clock.now)
    assert _admitted(gate, "203.0.113.6", 100) == 1
    in_dialog = b"BYE sip:a@b SIP/2.0\r\nTo: <sip:b@c>;tag=x1\r\n\r\n"  # but the calls behind it go on
    assert _admitted(gate, "203.0.113.6", 100, in_dialog) == 100
    assert _admitted(gate, "203.0.113.6", 100, RESPONSE) == 100
    assert _admitted(gate, "203.0.113.5", 100, in_dialog) == 100  # (its block is over)


def test_one_log_line_per_source_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    throttle.clock = Clock()
    try:
        gate = _gate(Clock(), rate=1, burst=1, total_rate=1000)
        with caplog.at_level(logging.WARNING, logger="calltape.frontdoor.flood_gate"):
            _admitted(gate, "192.0.2.50", 1001)
            _admitted(gate, "192.0.2.51", 11)
            throttle.clock.now += 11  # type: ignore[attr-defined]
            _admitted(gate, "192.0.2.50", 1)
        lines = [r.getMessage() for r in caplog.records]
        assert lines == [
            "SIP from 192.0.2.50 dropped unanswered: over 1 a second",
            "SIP from 192.0.2.51 dropped unanswered: over 1 a second",
            "SIP from 192.0.2.50 dropped unanswered: over 1 a second (and 999 more like this in the last 11 s)",
        ]
    finally:
        throttle.clock = time.monotonic


def test_a_flood_from_many_addresses_logs_a_few_lines_not_one_per_address(caplog: pytest.LogCaptureFixture) -> None:
    throttle.clock = Clock()
    try:
        gate = _gate(Clock(), rate=1, burst=1, total_rate=100)
        with caplog.at_level(logging.WARNING, logger="calltape.frontdoor.flood_gate"):
            for n in range(5000):  # spoofed: every other datagram from another address
                gate.admit(REGISTER, f"172.16.{(n >> 8) & 255}.{n & 255}")
                gate.admit(REGISTER, f"172.16.{(n >> 8) & 255}.{n & 255}")
        assert len(caplog.records) <= LOGGED_SOURCES + 2, len(caplog.records)
        assert gate.dropped["rate"] + gate.dropped["total"] == 10_000 - 100
    finally:
        throttle.clock = time.monotonic


def test_the_state_stays_bounded_under_a_flood_from_spoofed_addresses() -> None:
    clock = Clock()
    gate = FloodGate(lambda host: False, FailureThrottle(), clock=clock, max_sources=1000, total_rate=1e9)
    for n in range(20_000):
        gate.admit(REGISTER, f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
        gate.vouch(f"172.16.{(n >> 8) & 255}.{n & 255}")
    assert gate.sources <= 2000
    failures = FailureThrottle(limit=3)
    for n in range(3 * MAX_SOURCES + 10):
        failures.failure(f"h{n}", clock.now)  # a guesser with ever new addresses
    for n in range(3 * MAX_SOURCES + 10):
        for _ in range(3):
            failures.failure(f"b{n}", clock.now)  # each one blocked
    assert len(failures._failures) <= MAX_SOURCES + 1 and len(failures._blocked_until) <= MAX_SOURCES + 1
