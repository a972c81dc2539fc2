"""Regression tests for what a fuzzing run found in the media layer (issue 11).

An SDP address family our sockets cannot send to is refused at the offer (488); SDP numbers are
bounded by their grammar; and one stream that fails on the media clock never silences the others.
"""

from __future__ import annotations

import asyncio

import pytest

from calltape.media.clock import MediaClock
from calltape.media.sdp import SdpError, negotiate, parse_sdp

HUGE = "9" * 5000
IP4_ONLY = frozenset({"IP4"})


def _offer(connection: str = "c=IN IP4 192.0.2.1", media: str = "m=audio 4000 RTP/AVP 0 101", extra: str = "") -> str:
    return f"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n{connection}\r\nt=0 0\r\n{media}\r\n{extra}"


@pytest.mark.parametrize(
    ("connection", "reason"),
    [
        ("c=IN IP6 ::1", "IP4 only"),
        ("c=IN IP4 media.example.com", "not an IP address"),
        ("c=IN IP4 999.1.1.1", "not an IP address"),
    ],
)
def test_an_address_we_cannot_send_to_is_refused_at_the_offer(connection: str, reason: str) -> None:
    with pytest.raises(SdpError, match=reason) as caught:
        negotiate(parse_sdp(_offer(connection)), IP4_ONLY)
    assert caught.value.status == 488


def test_ipv6_media_is_accepted_where_we_can_serve_it() -> None:
    negotiated = negotiate(parse_sdp(_offer("c=IN IP6 2001:db8::1")), frozenset({"IP6"}))
    assert negotiated.remote_address == "2001:db8::1"


def test_a_connection_line_must_match_its_family() -> None:
    with pytest.raises(SdpError, match="IP6"):
        parse_sdp(_offer("c=IN IP6 192.0.2.1"))


@pytest.mark.parametrize("media", [f"m=audio {HUGE} RTP/AVP 0", "m=audio 65536 RTP/AVP 0", "m=audio ² RTP/AVP 0"])
def test_huge_or_strange_media_ports_are_a_clean_sdp_error(media: str) -> None:
    with pytest.raises(SdpError, match="m= port") as caught:
        parse_sdp(_offer(media=media))
    assert caught.value.status == 400


def test_malformed_attributes_are_ignored_without_converting_huge_numbers() -> None:
    extra = f"a=ptime:{HUGE}\r\na=rtpmap:{HUGE} PCMU/8000\r\na=rtpmap:101 telephone-event/{HUGE}\r\na=fmtp:² 0-16\r\n"
    sdp = parse_sdp(_offer(extra=extra))
    audio = sdp.media[0]
    assert audio.ptime is None and audio.rtpmap == {} and audio.fmtp == {}
    assert negotiate(sdp, IP4_ONLY).codec == "PCMU"


class _Stream:
    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.ticks = 0
        self.failure: Exception | None = None

    def tick(self) -> None:
        self.ticks += 1
        if self.broken:
            raise ValueError("socket family mismatch")

    def failed(self, error: Exception) -> None:
        self.failure = error


async def test_one_failing_stream_does_not_stop_the_clock_for_the_others() -> None:
    clock = MediaClock()
    good, broken = _Stream(), _Stream(broken=True)
    clock.add(broken)
    clock.add(good)
    while good.ticks < 10:  # ~200 ms of ticks after the failure
        await asyncio.sleep(0.02)
    assert broken.ticks == 1 and isinstance(broken.failure, ValueError)
    assert clock.failures == 1
    clock.remove(good)
