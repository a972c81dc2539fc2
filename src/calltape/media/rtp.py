"""RTP fixed headers (RFC 3550 §5.1): one ``struct`` call each way."""

from __future__ import annotations

import struct
from dataclasses import dataclass

FIXED_HEADER = struct.Struct("!BBHII")
HEADER_SIZE = FIXED_HEADER.size


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """The fields calltape uses, and where the payload starts and ends in the packet."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload_start: int
    payload_end: int


def parse_rtp(packet: bytes) -> RtpHeader | None:
    """The header of an RTP version 2 packet, or None if it is not one."""
    if len(packet) < HEADER_SIZE:
        return None
    first, second, sequence, timestamp, ssrc = FIXED_HEADER.unpack_from(packet)
    if first >> 6 != 2:
        return None
    start = HEADER_SIZE + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(packet) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(packet[start + 2 : start + 4], "big")
    end = len(packet)
    if first & 0x20 and end > start:  # padding
        end -= packet[-1]
    if start > end:
        return None
    return RtpHeader(second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, start, end)


def build_rtp(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    """One RTP packet."""
    second = payload_type | (0x80 if marker else 0)
    return FIXED_HEADER.pack(0x80, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload
