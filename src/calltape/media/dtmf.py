"""DTMF: RFC 4733 telephone-events in RTP (both ways) and SIP INFO application/dtmf-relay (receive)."""

from __future__ import annotations

import struct
from collections.abc import Callable

EVENTS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")


class DtmfReceiver:
    """Turns telephone-event packets into digits, once each (end packets are sent three times)."""

    def __init__(self, on_digit: Callable[[str, int], None]) -> None:
        self.on_digit = on_digit  # (digit, duration in samples)
        self._current_ts: int | None = None
        self._current: tuple[str, int] | None = None
        self._reported_ts: int | None = None

    def receive(self, timestamp: int, payload: bytes) -> None:
        """Feed one telephone-event payload with its RTP timestamp."""
        if len(payload) < 4:
            return
        event, flags, duration = _EVENT.unpack_from(payload)
        if event >= len(EVENTS):
            return
        if self._current_ts is not None and timestamp != self._current_ts:
            self._flush()  # a new event began before we saw the last one end
        self._current_ts = timestamp
        self._current = (EVENTS[event], duration)
        if flags & 0x80:
            self._flush()

    def _flush(self) -> None:
        if self._current is not None and self._current_ts != self._reported_ts:
            self._reported_ts = self._current_ts
            self.on_digit(*self._current)
        self._current = None


def event_payloads(digit: str, duration_ms: int = 100, volume: int = 10) -> list[tuple[bytes, bool]]:
    """The payloads (and marker bits) of one digit, one per 20 ms, ending with three end packets."""
    event = EVENTS.index(digit.upper())
    steps = max(1, duration_ms // 20)
    packets = [(_EVENT.pack(event, volume, 160 * (i + 1)), i == 0) for i in range(steps)]
    end = _EVENT.pack(event, 0x80 | volume, 160 * steps)
    return packets + [(end, False)] * 3


def parse_dtmf_info(content_type: str, body: bytes) -> str | None:
    """The digit in an INFO body (application/dtmf-relay ``Signal=5`` or application/dtmf ``5``)."""
    text = body.decode("ascii", "replace")
    if content_type == "application/dtmf-relay":
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "signal":
                text = value
                break
        else:
            return None
    value = text.strip().upper()
    value = {"10": "*", "11": "#"}.get(value, value)  # some phones send the event number
    return value if len(value) == 1 and value in EVENTS else None
