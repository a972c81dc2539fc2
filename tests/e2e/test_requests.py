"""How a running server answers each kind of request, over UDP and TCP."""

from __future__ import annotations

import socket
import uuid

from calltape.sip.message import Response
from calltape.sip.parser import parse_message
from tests.server import ServerProcess
from tests.sipclient import UdpSipClient, options


def _request(method: str, port: int, *, to_tag: str = "", body: bytes = b"", transport: str = "UDP") -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    content_type = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"{method} sip:5550100@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:5999;rport;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=f1\r\nTo: <sip:5550100@127.0.0.1>{tag}\r\n"
        f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 {method}\r\nContact: <sip:t@127.0.0.1:5999>\r\n"
        f"{content_type}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _exchange(server: ServerProcess, data: bytes, source: str = "127.0.0.1") -> list[Response]:
    client = UdpSipClient(source)
    client.send(data, server.sip_port)
    responses = []
    while (r := client.recv(1.0)) is not None:
        responses.append(r)
        if r.status >= 200:
            break
    client.close()
    return responses


def test_options_advertises_capabilities(server: ServerProcess) -> None:
    [ok] = _exchange(server, options(server.sip_port))
    assert ok.status == 200
    allow = {m.strip() for m in ok.headers.get_all("Allow")}
    assert {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"} <= allow
    assert ok.headers.get("Accept") == "application/sdp"
    assert "Supported" in ok.headers and ok.to.tag


def test_invite_without_callflow_gets_trying_then_404(server: ServerProcess) -> None:
    responses = _exchange(server, _request("INVITE", server.sip_port, body=b"v=0\r\n"))
    assert [r.status for r in responses] == [100, 404]
    assert responses[0].to.tag is None and responses[1].to.tag


def test_invite_from_untrusted_source_and_unknown_realm_gets_403(server: ServerProcess) -> None:
    responses = _exchange(server, _request("INVITE", server.sip_port, body=b"v=0\r\n"), source="127.0.0.9")
    assert [r.status for r in responses] == [100, 403]


def test_unknown_method_501_and_requests_outside_a_dialog_481(server: ServerProcess) -> None:
    assert [r.status for r in _exchange(server, _request("FROBNICATE", server.sip_port))] == [501]
    assert [r.status for r in _exchange(server, _request("SUBSCRIBE", server.sip_port))] == [405]
    assert [r.status for r in _exchange(server, _request("BYE", server.sip_port, to_tag="x"))] == [481]
    assert [r.status for r in _exchange(server, _request("CANCEL", server.sip_port))] == [481]


def test_tcp_several_messages_per_write_and_one_across_writes(server: ServerProcess) -> None:
    a = _request("OPTIONS", server.sip_port, transport="TCP")
    b = _request("OPTIONS", server.sip_port, transport="TCP")
    c = _request("OPTIONS", server.sip_port, transport="TCP")
    with socket.create_connection(("127.0.0.1", server.sip_port), timeout=5) as sock:
        sock.sendall(a + b + c[:40])
        sock.sendall(c[40:])
        buf = b""
        while buf.count(b"SIP/2.0 200") < 3:
            chunk = sock.recv(65535)
            assert chunk, "connection closed early"
            buf += chunk
    replies = [parse_message(b"SIP/2.0 200" + part, framed=True) for part in buf.split(b"SIP/2.0 200")[1:]]
    assert len(replies) == 3
    call_ids = [m.call_id for m in replies]
    assert call_ids == [parse_message(x).call_id for x in (a, b, c)]


def test_tcp_keepalive_answered(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.sip_port), timeout=5) as sock:
        sock.sendall(b"\r\n\r\n")
        assert sock.recv(10) == b"\r\n"
