"""A tiny UDP/TCP SIP client for tests: send bytes, wait for responses."""

from __future__ import annotations

import socket
import uuid

from calltape.sip.message import Response
from calltape.sip.parser import SipParseError, parse_message


class StatusOnly(Response):
    """A response we could not parse fully (e.g. a 400 echoing broken headers): status line only."""


class UdpSipClient:
    """One UDP socket on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes, port: int) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))

    def recv(self, timeout: float = 2.0) -> Response | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except TimeoutError:
            return None
        try:
            message = parse_message(data)
        except SipParseError:
            _version, status, reason = data.split(b"\r\n", 1)[0].decode().split(" ", 2)
            return StatusOnly(status=int(status), reason=reason)
        assert isinstance(message, Response)
        return message

    def recv_final(self, timeout: float = 2.0) -> Response | None:
        while (response := self.recv(timeout)) is not None:
            if response.status >= 200:
                return response
        return None

    def close(self) -> None:
        self.sock.close()


def options(port: int, *, call_id: str | None = None, via_port: int = 5999) -> bytes:
    """A well-formed OPTIONS."""
    call_id = call_id or uuid.uuid4().hex
    return (
        f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{via_port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:tester@127.0.0.1>;tag=t1\r\nTo: <sip:ping@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
