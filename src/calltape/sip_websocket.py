"""SIP over WebSocket (RFC 7118): browser phones (SIP.js, JsSIP) and others that speak SIP in WebSocket messages.

One connection is one phone: the handshake must ask for the ``sip`` subprotocol (else 400); then every text or
binary message is one SIP message, and ours go back the same way, on the connection the phone opened — its
Contact (``…@abc.invalid;transport=ws``) cannot be reached otherwise, so a registered browser is rung on its
connection while it stays up. Pings are answered (websockets' sans-IO protocol does), and so are CRLF keep-alives
sent as messages. The WebSocket framing is the ``websockets`` library's; this file only moves bytes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, cast

from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from calltape.logs import throttle
from calltape.sip.peer import Peer

log = logging.getLogger(__name__)

MAX_MESSAGE = 65_536  # a SIP message in one WebSocket message: far more than any phone sends
_KEEP_ALIVE = (b"\r\n\r\n", b"\r\n")


class Streams(Protocol):
    """What a connection needs of the SIP transport."""

    def received(self, data: bytes, peer: Peer) -> bool: ...

    def register_stream(self, key: tuple[str, str, int], conn: WebSocketConnection) -> None: ...

    def unregister_stream(self, key: tuple[str, str, int], conn: WebSocketConnection) -> None: ...


class WebSocketConnection(asyncio.Protocol):
    """One WebSocket connection a phone opened (``ws`` or, over TLS, ``wss``)."""

    def __init__(self, sip: Streams, transport_name: str) -> None:
        self.sip = sip
        self.transport_name = transport_name
        self.protocol = ServerProtocol(subprotocols=[Subprotocol("sip")], max_size=MAX_MESSAGE)
        self.transport: asyncio.Transport | None = None
        self.address = ("", 0)
        self.open = False  # the handshake is done: SIP may flow
        self._parts: list[bytes] = []  # a message that came in fragments

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.address = (str(peer[0]), int(peer[1]))

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        peer = Peer(self.transport_name, *self.address)
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event, peer)
        self._flush()

    def _handshake(self, request: Request) -> None:
        response = self.protocol.accept(request)
        if response.status_code == 101 and response.headers.get("Sec-WebSocket-Protocol") != "sip":
            response = self.protocol.reject(400, "SIP over WebSocket needs the 'sip' subprotocol (RFC 7118)\n")
        self.protocol.send_response(response)
        if response.status_code != 101:
            throttle.log(
                log,
                logging.INFO,
                ("ws-handshake", self.address[0]),
                "WebSocket from %s:%d refused: %s",
                *self.address,
                response.body.decode(errors="replace").strip() if response.body else response.status_code,
            )
            return
        self.open = True
        self.sip.register_stream((self.transport_name, *self.address), self)

    def _frame(self, frame: Frame, peer: Peer) -> None:
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return  # ping (answered by the protocol), pong, close
        self._parts.append(bytes(frame.data))
        if not frame.fin:
            return
        message, self._parts = b"".join(self._parts), []
        if message in _KEEP_ALIVE:
            self.write(b"\r\n")
        elif message.strip() and not self.sip.received(message, peer):  # a stranger over its limit: it goes
            self.close()

    def write(self, data: bytes) -> None:
        """Send one SIP message (or a keep-alive answer) as one WebSocket message."""
        if not self.open:
            return
        try:
            try:
                data.decode()
            except UnicodeDecodeError:
                self.protocol.send_binary(data)
            else:
                self.protocol.send_text(data)
        except InvalidState:  # closing
            return
        self._flush()

    def _flush(self) -> None:
        if self.transport is None:
            return
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:  # the protocol is done with the connection
                self.transport.close()
                return

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.sip.unregister_stream((self.transport_name, *self.address), self)
