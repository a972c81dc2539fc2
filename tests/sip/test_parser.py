"""Parsing and serialising messages (RFC 3261 §7, §25)."""

from __future__ import annotations

import pytest

from calltape.sip.address import parse_address
from calltape.sip.message import Request, Response
from calltape.sip.parser import SipParseError, parse_message
from calltape.sip.uri import AbsoluteUri, SipUri, parse_uri
from calltape.sip.via import parse_via
from tests.sip.helpers import request_bytes


def test_compact_names_folding_and_repeated_headers() -> None:
    data = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
        b"Via: SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c.example.com\r\n"
        b'f: "Alice, A." <sip:alice@example.com>;tag=x\r\n'
        b"t: sip:bob@example.com\r\n"
        b"i: abc@host\r\n"
        b"CSeq: 7\r\n   INVITE\r\n"
        b"Subject: first line\r\n\tsecond line\r\n"
        b"l: 0\r\n\r\n"
    )
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert [v.host for v in msg.vias] == ["a.example.com", "b.example.com", "c.example.com"]
    assert msg.from_.display_name == "Alice, A."
    assert msg.from_.tag == "x"
    assert msg.call_id == "abc@host"
    assert (msg.cseq.number, msg.cseq.method) == (7, "INVITE")
    assert msg.headers.get("subject") == "first line second line"


def test_quoted_display_name_with_escapes() -> None:
    addr = parse_address(r'"Joe \"The\" Caller" <sip:joe@example.com;transport=tcp>;tag=1;expires=60')
    assert addr.display_name == 'Joe "The" Caller'
    assert isinstance(addr.uri, SipUri)
    assert addr.uri.transport == "tcp"
    assert addr.param("expires") == "60"


def test_addr_spec_parameters_belong_to_the_header() -> None:
    addr = parse_address("sip:bob@example.com;tag=abc")
    assert addr.tag == "abc"
    assert isinstance(addr.uri, SipUri) and addr.uri.params == []


def test_uri_parts() -> None:
    uri = parse_uri("sips:user;par=u%40x@[2001:db8::1]:5061;lr;maddr=1.2.3.4?Subject=hi")
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.host, uri.port) == ("sips", "user;par=u%40x", "[2001:db8::1]", 5061)
    assert uri.param("lr") == "" and uri.param("maddr") == "1.2.3.4"
    assert uri.headers == "Subject=hi"
    assert str(uri) == "sips:user;par=u%40x@[2001:db8::1]:5061;lr;maddr=1.2.3.4?Subject=hi"
    assert parse_uri("tel:+1-555-0100") == AbsoluteUri("tel", "+1-555-0100")


def test_via_rport_and_received() -> None:
    via = parse_via("SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bKx")
    assert via.param("rport") == "" and via.port == 5062
    stamped = via.with_param("received", "1.2.3.4").with_param("rport", "4000")
    assert str(stamped) == "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKx;received=1.2.3.4;rport=4000"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request_bytes(extra="Content-Length: 3\r\n"), 400),  # two Content-Length
        (request_bytes().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"), 400),
        (request_bytes().replace(b"Max-Forwards: 70", b"Max-Forwards: 256"), 400),
        (request_bytes().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505),
        (request_bytes().replace(b"Call-ID: call-1@test\r\n", b""), 400),
        (request_bytes(body=b"abc").replace(b"Content-Length: 3", b"Content-Length: 30"), 400),
    ],
)
def test_rejected_requests_carry_status_and_headers(raw: bytes, status: int) -> None:
    with pytest.raises(SipParseError) as err:
        parse_message(raw)
    assert err.value.status == status
    assert err.value.request is not None and "Via" in err.value.request.headers


def test_garbage_and_broken_responses_are_not_answered() -> None:
    for raw in (b"\x00\x01garbage", b"SIP/2.0 4294967301 big\r\n\r\n", b"HELLO\r\n\r\n"):
        with pytest.raises(SipParseError) as err:
            parse_message(raw)
        assert err.value.status is None


def test_datagram_body_truncated_to_content_length() -> None:
    raw = request_bytes(body=b"hello").replace(b"Content-Length: 5", b"Content-Length: 2")
    msg = parse_message(raw)
    assert msg.body == b"he"


def test_serialize_recomputes_content_length() -> None:
    msg = parse_message(request_bytes(body=b"hello"))
    msg.body = b"hello world"
    again = parse_message(msg.serialize())
    assert again.body == b"hello world"
    assert again.headers.get("Content-Length") == "11"


def test_response_parse() -> None:
    raw = (
        b"SIP/2.0 180 Ringing Now\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (180, "Ringing Now")
