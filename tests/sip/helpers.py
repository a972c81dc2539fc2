"""Builders for SIP messages used across the SIP tests."""

from __future__ import annotations

from calltape.sip.events import Peer

UDP_PEER = Peer("udp", "192.0.2.10", 5070)
TCP_PEER = Peer("tcp", "192.0.2.10", 5070)


def request_bytes(
    method: str = "OPTIONS",
    *,
    branch: str = "z9hG4bK-test-1",
    cseq: int = 1,
    call_id: str = "call-1@test",
    to_tag: str | None = None,
    from_tag: str = "ft1",
    body: bytes = b"",
    extra: str = "",
    transport: str = "UDP",
) -> bytes:
    """A well-formed request as bytes."""
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    head = (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 192.0.2.10:5070;branch={branch}\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:alice@example.com>;tag={from_tag}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"Contact: <sip:alice@192.0.2.10:5070>\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def response_bytes(status: int, method: str, *, branch: str, cseq: int = 1, to_tag: str = "tt1") -> bytes:
    """A response to a request we sent."""
    return (
        f"SIP/2.0 {status} Whatever\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n"
        f"From: <sip:alice@example.com>;tag=ft1\r\n"
        f"To: <sip:bob@example.com>;tag={to_tag}\r\n"
        f"Call-ID: call-1@test\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()
