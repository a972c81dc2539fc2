"""SDP parsing and offer/answer."""

from __future__ import annotations

import pytest

from calltape.media.sdp import SdpError, answer_sdp, negotiate, parse_sdp

OFFER = (
    "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 49170 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
)


def test_offerers_order_wins_among_what_we_speak() -> None:
    n = negotiate(parse_sdp(OFFER))
    assert (n.codec, n.payload_type, n.dtmf_payload_type) == ("PCMA", 8, 101)
    assert (n.remote_address, n.remote_port, n.direction) == ("192.0.2.10", 49170, "sendrecv")
    answer = answer_sdp(n, "198.51.100.1", 20000, "7", 1).decode()
    assert "m=audio 20000 RTP/AVP 8 101" in answer and "a=rtpmap:8 PCMA/8000" in answer
    assert "c=IN IP4 198.51.100.1" in answer and "a=sendrecv" in answer


def test_media_level_connection_and_directions() -> None:
    text = OFFER.replace("m=audio 49170 RTP/AVP 18 8 0 101\r\n", "m=audio 49170 RTP/AVP 0\r\nc=IN IP4 203.0.113.5\r\n")
    for offered, answered in [("sendonly", "recvonly"), ("recvonly", "sendonly"), ("inactive", "inactive")]:
        n = negotiate(parse_sdp(text.replace("a=sendrecv", f"a={offered}")))
        assert n.remote_address == "203.0.113.5" and n.direction == answered and n.codec == "PCMU"
    assert negotiate(parse_sdp(text.replace("a=sendrecv", "a=sendonly"))).on_hold
    assert negotiate(parse_sdp(text.replace("203.0.113.5", "0.0.0.0"))).on_hold


def test_no_common_codec_is_488_and_garbage_is_400() -> None:
    with pytest.raises(SdpError) as err:
        negotiate(parse_sdp(OFFER.replace("18 8 0 101", "18")))
    assert err.value.status == 488
    with pytest.raises(SdpError) as err:
        parse_sdp("this is not sdp")
    assert err.value.status == 400
    video_only = OFFER.replace("m=audio", "m=video")
    with pytest.raises(SdpError):
        negotiate(parse_sdp(video_only))
