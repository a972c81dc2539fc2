"""Dialogs (RFC 3261 §12): both sides, route sets, CSeq and target refresh."""

from __future__ import annotations

import pytest

from calltape.sip.dialog import Dialog, DialogError
from calltape.sip.message import Request, Response
from calltape.sip.parser import parse_message

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
    b"Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"
    b'Max-Forwards: 70\r\nFrom: "Alice" <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n'
    b"Call-ID: dlg-1\r\nCSeq: 10 INVITE\r\nContact: <sip:alice@192.0.2.10:5060>\r\nContent-Length: 0\r\n\r\n"
)
OK = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
    b"Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"
    b'From: "Alice" <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\n'
    b"Call-ID: dlg-1\r\nCSeq: 10 INVITE\r\nContact: <sip:bob@192.0.2.20:5062>\r\nContent-Length: 0\r\n\r\n"
)


def _request(raw: bytes) -> Request:
    message = parse_message(raw)
    assert isinstance(message, Request)
    return message


def _response(raw: bytes) -> Response:
    message = parse_message(raw)
    assert isinstance(message, Response)
    return message


def test_uas_dialog_routes_in_record_route_order() -> None:
    dialog = Dialog.as_uas(_request(INVITE), "b1", "<sip:calltape@192.0.2.20:5060>")
    assert dialog.id == ("dlg-1", "b1", "a1")
    assert dialog.remote_target == "sip:alice@192.0.2.10:5060"
    bye = dialog.create_request("BYE", "SIP/2.0/UDP 192.0.2.20:5060")
    assert bye.uri == "sip:alice@192.0.2.10:5060"
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert bye.from_.tag == "b1" and bye.to.tag == "a1" and bye.to.display_name == "Alice"
    assert bye.cseq.method == "BYE" and bye.top_via.branch and bye.top_via.branch.startswith("z9hG4bK")
    assert str(dialog.next_hop()) == "sip:p2.example.com;lr"


def test_uac_dialog_reverses_routes_and_counts_cseq() -> None:
    dialog = Dialog.as_uac(_request(INVITE), _response(OK))
    assert dialog.id == ("dlg-1", "a1", "b1")
    assert dialog.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    ack = dialog.create_request("ACK", "SIP/2.0/UDP 192.0.2.10:5060", cseq=10)
    assert ack.cseq.number == 10 and ack.uri == "sip:bob@192.0.2.20:5062"
    assert dialog.create_request("BYE", "SIP/2.0/UDP 192.0.2.10:5060").cseq.number == 11


def test_strict_router_becomes_request_uri() -> None:
    dialog = Dialog.as_uac(_request(INVITE), _response(OK.replace(b";lr>", b">")))
    bye = dialog.create_request("BYE", "SIP/2.0/UDP 192.0.2.10:5060")
    assert bye.uri == "sip:p1.example.com"
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com>", "<sip:bob@192.0.2.20:5062>"]


def test_cseq_order_and_target_refresh() -> None:
    dialog = Dialog.as_uas(_request(INVITE), "b1")
    reinvite = INVITE.replace(b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=b1")
    moved = reinvite.replace(b"CSeq: 10", b"CSeq: 11").replace(b"192.0.2.10:5060>", b"198.51.100.7:5080>")
    dialog.receive_request(_request(moved))
    assert dialog.remote_target == "sip:alice@198.51.100.7:5080" and dialog.remote_seq == 11
    with pytest.raises(DialogError):
        dialog.receive_request(_request(moved))  # CSeq not increasing
    info = moved.replace(b"INVITE sip", b"INFO sip").replace(b"11 INVITE", b"12 INFO").replace(b"198.51", b"203.0")
    dialog.receive_request(_request(info))
    assert dialog.remote_target == "sip:alice@198.51.100.7:5080"  # INFO is not a target refresh


def test_dialog_tags_and_contact() -> None:
    assert Dialog.as_uas(_request(INVITE.replace(b";tag=a1", b"")), "b1").remote_tag == ""  # an RFC 2543 peer
    with pytest.raises(DialogError):
        Dialog.as_uac(_request(INVITE), _response(OK.replace(b";tag=b1", b"")))


def test_a_dialog_creating_answer_carries_the_requests_record_route_rfc_3261_12_1_1() -> None:
    from calltape.sip.responses import make_response

    def request(method: str) -> Request:
        raw = (
            f"{method} sip:7100@10.0.0.11 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKedge\r\n"
            "Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKphone\r\n"
            "Record-Route: <sip:203.0.113.10;lr;ftag=a1>\r\n"
            "Record-Route: <sip:198.51.100.1;lr>\r\n"
            "From: <sip:front@example.com>;tag=a1\r\nTo: <sip:7100@example.com>\r\n"
            f"Call-ID: rr@1\r\nCSeq: 1 {method}\r\nContact: <sip:front@192.0.2.7:5062>\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        parsed = parse_message(raw)
        assert isinstance(parsed, Request)
        return parsed

    answered = make_response(request("INVITE"), 200, to_tag="b2").serialize()
    assert b"Record-Route: <sip:203.0.113.10;lr;ftag=a1>\r\nRecord-Route: <sip:198.51.100.1;lr>\r\n" in answered
    assert answered.count(b"Via: ") == 2  # both hops, in order
    assert b"Record-Route" in make_response(request("INVITE"), 180, to_tag="b2").serialize()
    assert b"Record-Route" not in make_response(request("INVITE"), 486, to_tag="b2").serialize()
    assert b"Record-Route" not in make_response(request("OPTIONS"), 200, to_tag="b2").serialize()
