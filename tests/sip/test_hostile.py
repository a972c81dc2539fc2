"""Regression tests for what a fuzzing run found in the SIP core (issue 11): each is answered at parse time.

Huge numbers are refused by their grammar (never a ValueError from int()); what a request's handling
needs is checked when it is parsed, with the reason in the 400's status line; a broken header line
does not hide the ones after it; bytes that are not UTF-8 never reach hashing or the database.
"""

from __future__ import annotations

import pytest

from calltape.sip.digest import parse_auth_header
from calltape.sip.endpoint import SipEndpoint
from calltape.sip.events import RequestReceived
from calltape.sip.framing import FramingError, StreamFramer
from calltape.sip.parser import SipParseError, parse_message
from calltape.sip.syntax import SipSyntaxError, parse_delta_seconds, parse_uint, text_of
from calltape.sip.validation import Capabilities
from tests.sip.helpers import UDP_PEER, request_bytes

HUGE = "9" * 5000
ZEROS = "0" * 5000  # leading zeros past int()'s 4,300-digit limit: a small value all the same
CAPS = Capabilities(frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"}))


def _answer(data: bytes) -> tuple[bytes | None, list[object]]:
    """What the endpoint sends back to *data* (the first datagram), and the events it hands the TU."""
    endpoint = SipEndpoint(CAPS)
    endpoint.receive(data, UDP_PEER, 0.0)
    sent = [d for d, _ in endpoint.datagrams_to_send() if not d.startswith(b"SIP/2.0 100 ")]
    events = []
    while (event := endpoint.next_event()) is not None:
        events.append(event)
    return (sent[0] if sent else None), events


def _replace(data: bytes, old: str, new: str) -> bytes:
    assert old.encode() in data
    return data.replace(old.encode(), new.encode("utf-8", "surrogateescape"), 1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Content-Length: 0", f"Content-Length: {HUGE}"),
        ("CSeq: 1 INVITE", f"CSeq: {HUGE} INVITE"),
        ("Max-Forwards: 70", f"Max-Forwards: {HUGE}"),
        ("sip:bob@example.com SIP/2.0", f"sip:bob@example.com:{HUGE} SIP/2.0"),
        ("Contact: <sip:alice@192.0.2.10:5070>", f"Contact: <sip:alice@192.0.2.10:{HUGE}>"),
        ("Content-Length: 0", f"Content-Length: {ZEROS}1"),  # a body shorter than it says
        ("CSeq: 1 INVITE", f"CSeq: {ZEROS}{HUGE} INVITE"),
        ("Max-Forwards: 70", f"Max-Forwards: {ZEROS}256"),
        ("Max-Forwards: 70", "Max-Forwards: ²"),  # a digit to str.isdigit(), not to int()
        ("sip:bob@example.com SIP/2.0", "sip:bob@example.com:5²60 SIP/2.0"),
    ],
)
def test_huge_or_strange_numbers_get_400(old: str, new: str) -> None:
    answer, events = _answer(_replace(request_bytes("INVITE"), old, new))
    assert answer is not None and answer.startswith(b"SIP/2.0 400 Bad Request ("), answer[:80]
    assert len(answer.split(b"\r\n", 1)[0]) < 200  # the reason names the problem without echoing 5,000 digits
    assert not events


def test_number_parsers_bound_the_digits_before_converting() -> None:
    with pytest.raises(SipSyntaxError, match="out of range"):
        parse_uint(HUGE, 2**31 - 1, "CSeq number")
    assert parse_uint("000070", 255, "Max-Forwards") == 70
    assert parse_uint(ZEROS + "70", 255, "Max-Forwards") == 70  # int() alone refuses 5,002 digits
    assert parse_uint(ZEROS, 255, "Max-Forwards") == 0
    assert parse_uint(f" {ZEROS}65535 ", 65535, "port") == 65535
    with pytest.raises(SipSyntaxError, match="out of range"):
        parse_uint(ZEROS + "65536", 65535, "port")
    assert parse_delta_seconds(ZEROS + "3600") == 3600
    assert parse_delta_seconds(ZEROS + HUGE) == 2**32 - 1
    assert parse_delta_seconds(HUGE) == 2**32 - 1  # RFC 3261 §20.19: too large means the largest
    with pytest.raises(SipSyntaxError):
        parse_delta_seconds("abc")


def test_huge_content_length_on_a_stream_is_a_framing_error() -> None:
    with pytest.raises(FramingError, match="too large"):
        StreamFramer().feed(_replace(request_bytes("OPTIONS"), "Content-Length: 0", f"Content-Length: {HUGE}"))
    with pytest.raises(FramingError, match="too large"):
        StreamFramer().feed(_replace(request_bytes("OPTIONS"), "Content-Length: 0", f"Content-Length: {ZEROS}{HUGE}"))


def test_zero_padded_content_length_on_a_stream_frames_the_message() -> None:
    message = _replace(request_bytes("OPTIONS"), "Content-Length: 0", f"Content-Length: {ZEROS}")
    assert StreamFramer().feed(message + b"OPTIONS") == [message]  # what follows waits for the next message


@pytest.mark.parametrize(
    ("method", "old", "new", "reason"),
    [
        ("INVITE", "Contact: <sip:alice@192.0.2.10:5070>\r\n", "", "exactly one Contact"),
        ("INVITE", "Contact: <sip:alice@192.0.2.10:5070>", "Contact: <tel:+15550100>", "exactly one Contact"),
        ("INVITE", "Max-Forwards: 70", "Max-Forwards: 70\r\nRecord-Route: <http://x.example/>", "Record-Route"),
        ("REGISTER", "<sip:alice@192.0.2.10:5070>", "<sip:alice@192.0.2.10:5070>;expires=soon", "expires"),
        ("INVITE", "Max-Forwards: 70", "Max-Forwards: 70\r\nExpires: never", "Expires"),
        ("INVITE", "<sip:alice@192.0.2.10:5070>", "<sip:alice@192.0.2.10:65536>", "port"),
        ("INVITE", "<sip:alice@example.com>;tag", '"Alice <sip:alice@example.com>;tag', "quote"),
        ("INVITE", "<sip:alice@example.com>;tag=ft1", "<sip:alice@example.com>;;tag=ft1", "empty parameter"),
        ("INVITE", "Contact: <sip:alice@192.0.2.10:5070>", "Contact: <sip:>", "URI"),
        ("INVITE", "<sip:bob@example.com>", "<sip:bob@%%%>", "host"),
        ("INVITE", "<sip:alice@192.0.2.10:5070>", "<sip:alice@[2001:db8::zz]:5070>", "IPv6"),
        ("INVITE", "<sip:alice@192.0.2.10:5070>", "<sip:alice@[::1>", "IPv6"),
        ("INVITE", "<sip:alice@example.com>", "<sip:@example.com>", "empty user"),
        ("INVITE", "Call-ID: call-1@test", "Call-ID: call 1@test", "Call-ID"),
        ("INVITE", "<sip:alice@example.com>", "<sip:al\udcffice@example.com>", "URI"),  # bytes that are not UTF-8
    ],
)
def test_what_handling_needs_is_checked_when_parsed(method: str, old: str, new: str, reason: str) -> None:
    answer, events = _answer(_replace(request_bytes(method), old, new))
    assert answer is not None, "no answer"
    status_line = answer.split(b"\r\n", 1)[0].decode("utf-8", "replace")
    assert status_line.startswith("SIP/2.0 400 Bad Request ("), status_line
    assert reason.lower() in status_line.lower()
    assert not [e for e in events if isinstance(e, RequestReceived)]


def test_a_broken_header_line_does_not_hide_the_headers_after_it() -> None:
    data = request_bytes("OPTIONS").replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nBroken Header Line\r\n")
    answer, _ = _answer(data)
    assert answer is not None and answer.startswith(b"SIP/2.0 400 Bad Request (bad header line")
    response = parse_message(answer)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):  # RFC 3261 §8.2.6.2
        assert response.headers.get(name), name
    assert response.headers.get("Call-ID") == "call-1@test"
    assert response.cseq.number == 1 and response.cseq.method == "OPTIONS"


@pytest.mark.parametrize("sent_by", [b"[::1", f"192.0.2.10:{HUGE}".encode()])
def test_without_a_valid_via_there_is_no_answer(sent_by: bytes) -> None:
    data = request_bytes("OPTIONS").replace(b"192.0.2.10:5070;branch", sent_by + b";branch")
    with pytest.raises(SipParseError):
        parse_message(data)
    answer, events = _answer(data)
    assert answer is None and not events


def test_credentials_that_are_not_utf8_are_refused_before_hashing() -> None:
    header = 'Digest username="al\udcffice", realm="r", nonce="n", uri="sip:r", response="x", nc=1, cnonce="c"'
    with pytest.raises(SipSyntaxError, match="UTF-8"):
        parse_auth_header(header)


def test_free_text_leaves_the_sip_layer_as_valid_unicode() -> None:
    raw = b"Phone \xff\xfe v1 \xc3\xa9".decode("utf-8", "surrogateescape")
    assert text_of(raw) == "Phone \ufffd\ufffd v1 é"
    text_of(raw).encode("utf-8")  # what a database driver does: no error


def test_log_throttle_logs_once_per_key_and_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from calltape.logs import LogThrottle

    now = [0.0]
    throttle = LogThrottle(interval=10.0, clock=lambda: now[0])
    logger = logging.getLogger("calltape.test")
    with caplog.at_level(logging.INFO, logger="calltape.test"):
        for i in range(1000):  # a flood from one source: 10 s apart at most one line
            now[0] = i * 0.05
            throttle.log(logger, logging.WARNING, ("blocked", "192.0.2.1"), "REGISTER from blocked source %s", "x")
        throttle.log(logger, logging.WARNING, ("blocked", "192.0.2.2"), "REGISTER from blocked source %s", "y")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 6, lines  # t = 0, 10, 20, 30, 40 s for the first source; one for the second
    assert lines[1].endswith("(and 199 more like this in the last 10 s)")
    assert lines[-1] == "REGISTER from blocked source y"


@pytest.mark.parametrize(
    ("old", "new"),
    [("To: <sip:bob@example.com>;tag=tt1", 'To: Digest username="\udcff"'), ("Call-ID: call-1@test\r\n", "")],
)
def test_a_response_the_tu_could_not_read_is_dropped(old: str, new: str) -> None:
    """Found by the live fuzzer: a stray 200 with a broken To (or no Call-ID) reached call control."""
    from tests.sip.helpers import response_bytes

    data = _replace(response_bytes(200, "INVITE", branch="z9hG4bK-stray"), old, new)
    with pytest.raises(SipParseError):
        parse_message(data)
    answer, events = _answer(data)
    assert answer is None and not events


@pytest.mark.parametrize("status", ["20²", "٢٠٠", "2 0"])
def test_a_status_that_is_not_three_ascii_digits_is_refused_not_a_crash(status: str) -> None:
    with pytest.raises(SipParseError):
        parse_message(f"SIP/2.0 {status} OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n".encode())
