"""The asyncio adapter: UDP, TCP, TLS and WebSocket sockets and one timer feeding the sans-IO endpoint.

All protocol decisions live in :class:`~calltape.sip.endpoint.SipEndpoint`; this file only moves
bytes, keeps TCP connections, and calls ``handle_timer`` when the endpoint asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import cast

from calltape.logs import throttle
from calltape.sip.endpoint import SipEndpoint
from calltape.sip.events import Event, Peer
from calltape.sip.framing import FramingError, KeepAlive, StreamFramer
from calltape.sip.message import Request, Response
from calltape.sip.transaction import ClientTransaction, ServerTransaction
from calltape.sip_websocket import WebSocketConnection

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]


CONNECT_TIMEOUT = 10.0  # seconds a TCP connect and TLS handshake may take (either way)
MAX_HELD_ELSEWHERE = 65_536  # peers remembered as reached on their own connection, or held by a sibling


def _not_started(event: Event) -> None:
    raise RuntimeError(f"SIP event {type(event).__name__} before the transport was started")


class SipTransport:
    """Binds UDP and TCP on one port and pumps the endpoint."""

    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint
        self.on_event: EventHandler = _not_started
        self._loop = asyncio.get_running_loop()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tls_server: asyncio.Server | None = None
        self._ws_servers: list[asyncio.Server] = []
        # (transport, host, port): tcp, tls, ws or wss
        self._streams: dict[tuple[str, str, int], _StreamConnection | WebSocketConnection] = {}
        self._connecting: dict[tuple[str, str, int], list[bytes]] = {}  # opening: what waits to go on it
        self.tls_client: ssl.SSLContext | None = None  # how calltape checks the peers it calls over TLS
        self.tls_pins: dict[tuple[str, int], bytes] = {}  # (host, port) → the SHA-256 of the certificate it must show
        # peers reached only on the connection they opened (phones registered over TCP, TLS, WebSocket)
        self._own_connection: set[tuple[str, str, int]] = set()
        # with several workers: the sibling that holds a connection (learnt from what it passed on to us) ...
        self._held_by: dict[tuple[str, str, int], int] = {}
        # ... how to have a sibling (None: whichever holds it) write on its connection, how many siblings there
        # are, and per peer asked for: (messages asked of every sibling, siblings that said they hold none)
        self.write_elsewhere: Callable[[int | None, bytes, Peer], None] | None = None
        self.siblings = 0
        self._asked: dict[tuple[str, str, int], list[int]] = {}
        self.stream_closed: Callable[[Peer], None] | None = None  # a connection we accepted is gone (the siblings)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.address: tuple[str, int] = ("", 0)
        self.tls_address: tuple[str, int] | None = None
        self.ws_addresses: dict[str, tuple[str, int]] = {}  # "ws" and "wss": where each listens
        # with several workers: True when a message was passed on to the worker that owns its dialog (the flag:
        # it came on a connection this worker accepted)
        self.pass_on: Callable[[bytes, Peer, bool], bool] | None = None
        # the flood gate: (message, source, over a stream) → False drops it unread
        self.admit: Callable[[bytes, str, bool], bool] | None = None
        self.vouch: Callable[[str], None] | None = None  # told of every host calltape sends a request to

    def now(self) -> float:
        """The loop's monotonic clock, the time base of every SIP timer."""
        return self._loop.time()

    async def start(
        self,
        host: str,
        port: int,
        on_event: EventHandler,
        *,
        shared: bool = False,
        pass_on: Callable[[bytes, Peer, bool], bool] | None = None,
    ) -> tuple[str, int]:
        """Listen on UDP and TCP *host:port* (port 0 picks one free for both) and hand every event to
        *on_event*. *shared*: with SO_REUSEPORT, so that several worker processes listen on the same port, and
        *pass_on* gives a datagram of another worker's dialog to that worker."""
        self.on_event = on_event
        self.pass_on = pass_on
        for _ in range(20):
            udp, _proto = await self._loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(host, port), reuse_port=shared
            )
            bound = udp.get_extra_info("sockname")[:2]
            try:
                self._tcp_server = await self._loop.create_server(
                    lambda: _StreamConnection(self, "tcp"),
                    host=host,
                    port=bound[1],
                    reuse_address=True,
                    reuse_port=shared,
                )
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            _grow_buffers(udp.get_extra_info("socket"))
            self.address = (bound[0], bound[1])
            return self.address
        raise OSError("could not find a port free for both UDP and TCP")

    async def start_tls(
        self, host: str, port: int, context: ssl.SSLContext, *, shared: bool = False
    ) -> tuple[str, int]:
        """Also listen for SIP over TLS on *host:port* (RFC 3261 §26.2: a connection a phone opens is the one its
        requests are sent back on, as long as it stays up)."""
        self._tls_server = await self._loop.create_server(
            lambda: _StreamConnection(self, "tls"),
            host=host,
            port=port,
            ssl=context,
            reuse_address=True,
            reuse_port=shared,
            ssl_handshake_timeout=CONNECT_TIMEOUT,
        )
        bound = self._tls_server.sockets[0].getsockname()
        self.tls_address = (str(bound[0]), int(bound[1]))
        return self.tls_address

    async def start_ws(
        self, host: str, port: int, context: ssl.SSLContext | None, *, shared: bool = False
    ) -> tuple[str, int]:
        """Also listen for SIP over WebSocket on *host:port* (RFC 7118; over TLS, ``wss``, with *context*): a browser
        phone's requests come on the connection it opens, and everything for it goes back on that connection."""
        name = "wss" if context is not None else "ws"
        server = await self._loop.create_server(
            lambda: WebSocketConnection(self, name),
            host=host,
            port=port,
            ssl=context,
            reuse_address=True,
            reuse_port=shared,
            ssl_handshake_timeout=CONNECT_TIMEOUT if context is not None else None,
        )
        self._ws_servers.append(server)
        bound = server.sockets[0].getsockname()
        self.ws_addresses[name] = (str(bound[0]), int(bound[1]))
        return self.ws_addresses[name]

    def address_for(self, transport: str) -> tuple[str, int]:
        """Our address as a peer reached over *transport* sees it (TLS and WebSocket have their own ports)."""
        if transport == "tls" and self.tls_address is not None:
            return self.tls_address
        return self.ws_addresses.get(transport, self.address)

    async def close(self) -> None:
        """Stop listening and drop connections."""
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        servers = [server for server in (self._tcp_server, self._tls_server, *self._ws_servers) if server is not None]
        for server in servers:
            server.close()
        for conn in list(self._streams.values()):
            conn.close()
        for server in servers:
            await server.wait_closed()

    # ---- pumping the endpoint --------------------------------------------------------------

    def received(self, data: bytes, peer: Peer, *, ours: bool = False) -> bool:
        """One message off the wire: passed on to the worker that owns its dialog, or taken here. False if the flood
        gate dropped it (a stream's connection is then closed). *ours*: it came on a connection calltape opened.
        A connection's messages meet the gate here, in the worker holding it (a stranger's connection is closed
        here); a datagram's in the worker that owns its dialog (the one that vouched for its peer)."""
        if peer.transport == "udp":
            if self.pass_on is not None and self.pass_on(data, peer, False):
                return True
            return self.deliver(data, peer)
        if not ours and self.admit is not None and not self.admit(data, peer.host, True):
            return False
        if self.pass_on is not None and self.pass_on(data, peer, not ours):
            return True
        self._take(data, peer)
        return True

    def deliver(self, data: bytes, peer: Peer) -> bool:
        """Feed a datagram to the endpoint unless the flood gate drops it (False)."""
        if self.admit is not None and not self.admit(data, peer.host, False):
            return False
        self._take(data, peer)
        return True

    def deliver_passed(self, data: bytes, peer: Peer, holder: int | None) -> bool:
        """A message another worker passed on to us, its dialog's owner; *holder*: the worker holding the connection
        it came on (one it accepted), which writes what we send *peer*."""
        if peer.transport == "udp":
            return self.deliver(data, peer)
        key = (peer.transport, peer.host, peer.port)
        if holder is not None and key not in self._streams:
            if key not in self._held_by and len(self._held_by) >= MAX_HELD_ELSEWHERE:
                del self._held_by[next(iter(self._held_by))]  # the oldest
            self._held_by[key] = holder
            self._asked.pop(key, None)
        self._take(data, peer)  # met the gate in the holder
        return True

    def write_held(self, data: bytes, peer: Peer) -> bool:
        """Write *data* on our connection to *peer* for a sibling worker; False if we hold none."""
        conn = self._streams.get((peer.transport, peer.host, peer.port))
        if conn is None:
            return False
        conn.write(data)
        return True

    def sibling_lacks(self, peer: Peer, sibling: int) -> None:
        """*sibling* holds no connection to *peer*: one we thought it held is gone; when every sibling says so of
        one we asked them all about, nobody holds it — what was to go on it fails, as on one worker."""
        key = (peer.transport, peer.host, peer.port)
        if self._held_by.get(key) == sibling:
            del self._held_by[key]
        else:
            asked = self._asked.get(key)
            if asked is None:
                return
            asked[1] += 1
            if asked[1] < asked[0] * self.siblings:
                return
            del self._asked[key]
        self._connection_gone(peer)
        self.flush()  # the failed transactions' events

    def sibling_closed(self, peer: Peer, sibling: int) -> None:
        """*sibling*'s connection to *peer* is closed: it holds it no more."""
        key = (peer.transport, peer.host, peer.port)
        if self._held_by.get(key) == sibling:
            del self._held_by[key]

    def prepare_peer(self, peer: Peer, *, pin: bytes | None, own_connection: bool) -> None:
        """How *peer* is reached: over TLS, with the certificate whose SHA-256 is *pin* only (None: one a CA vouches
        for); *own_connection*: only on the connection it opened (here, or a sibling worker's), never a new one."""
        if peer.transport == "tls":
            if pin is None:
                self.tls_pins.pop((peer.host, peer.port), None)
            else:
                self.tls_pins[(peer.host, peer.port)] = pin
        key = (peer.transport, peer.host, peer.port)
        if own_connection:
            if len(self._own_connection) >= MAX_HELD_ELSEWHERE:
                self._own_connection.clear()
            self._own_connection.add(key)
        else:
            self._own_connection.discard(key)

    def _take(self, data: bytes, peer: Peer) -> None:
        """Feed one message to the endpoint (a bug on one message must not stop the listener)."""
        try:
            self.endpoint.receive(data, peer, self.now())
        except Exception as exc:
            throttle.error(log, "receive-failed", exc, "failed on a message from %s:%d", peer.host, peer.port)
        self.flush()

    def respond(self, transaction: ServerTransaction, response: Response) -> None:
        """Send the TU's response and flush."""
        self.endpoint.respond(transaction, response, self.now())
        self.flush()

    def send_request(self, request: Request, peer: Peer) -> ClientTransaction:
        """Send a request of ours (e.g. BYE) through a client transaction."""
        if self.vouch is not None:
            self.vouch(peer.host)
        transaction = self.endpoint.send_request(request, peer, self.now())
        self.flush()
        return transaction

    def send_ack(self, ack: Request, peer: Peer) -> None:
        """Send an end-to-end ACK (no transaction)."""
        self.endpoint.send_ack(ack, peer)
        self.flush()

    def flush(self) -> None:
        """Send what the endpoint queued, re-arm its timer, and hand its events on."""
        for data, peer in self.endpoint.datagrams_to_send():
            self._send(data, peer)
        due = self.endpoint.get_timer()
        if due != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(due, self._on_timer) if due is not None else None
            self._timer_at = due
        while (event := self.endpoint.next_event()) is not None:
            try:
                self.on_event(event)
            except Exception as exc:
                throttle.error(log, "event-failed", exc, "event handler failed on %s", type(event).__name__)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.endpoint.handle_timer(self.now())
        self.flush()

    def _send(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "udp":
            if self._udp is not None:
                self._udp.sendto(data, (peer.host, peer.port))
            return
        key = (peer.transport, peer.host, peer.port)
        conn = self._streams.get(key)
        if conn is not None:
            conn.write(data)
        elif key in self._connecting:  # one connection per peer: what follows waits for it, in order
            self._connecting[key].append(data)
        elif self.write_elsewhere is not None and key in self._held_by:  # a sibling worker holds it
            self.write_elsewhere(self._held_by[key], data, peer)
        elif peer.transport in ("ws", "wss") or key in self._own_connection:  # its connection, or none at all
            if self.write_elsewhere is not None and self.siblings:  # whichever sibling holds it writes it
                if key not in self._asked and len(self._asked) >= MAX_HELD_ELSEWHERE:
                    del self._asked[next(iter(self._asked))]  # the oldest question
                asked = self._asked.setdefault(key, [0, 0])
                asked[0] += 1
                self.write_elsewhere(None, data, peer)
                return
            self._connection_gone(peer)
        else:
            self._connecting[key] = [data]
            self._loop.create_task(self._connect_and_send(key, peer))

    def _connection_gone(self, peer: Peer) -> None:
        """Nobody holds *peer*'s own connection any more: what was to go on it fails (its events are handed on by
        the next flush)."""
        throttle.log(
            log,
            logging.WARNING,
            ("connection-gone", peer.host, peer.port),
            "cannot reach %s:%d: the %s connection it opened is closed",
            peer.host,
            peer.port,
            peer.transport.upper(),
        )
        self.endpoint.transport_failed(peer, self.now())

    async def _connect_and_send(self, key: tuple[str, str, int], peer: Peer) -> None:
        """Open a connection to *peer* (over TLS: its certificate checked against our CAs, for the name or
        address the URI gave; within CONNECT_TIMEOUT) and send what waits for it; the connection stays for what
        follows."""
        tls = peer.transport == "tls"
        pin = self.tls_pins.get((peer.host, peer.port)) if tls else None
        try:
            if tls and self.tls_address is None:
                raise OSError("calls over TLS need calltape's own TLS listener (--sip-tls) for their Contact")
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _transport, conn = await self._loop.create_connection(
                    lambda: _StreamConnection(self, peer.transport, (peer.host, peer.port), pin),
                    peer.host,
                    peer.port,
                    ssl=(pinned_context() if pin else self.tls_client or client_context()) if tls else None,
                    server_hostname=peer.host if tls else None,
                )
            if conn.refused:
                raise OSError(conn.refused)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self._connecting.pop(key, None)
            throttle.log(
                log,
                logging.WARNING,
                ("connect", peer.transport, peer.host, peer.port),
                "cannot connect to %s:%d over %s: %s",
                peer.host,
                peer.port,
                peer.transport.upper(),
                exc or "no answer in time",
            )
            self.endpoint.transport_failed(peer, self.now())
            self.flush()
            return
        for data in self._connecting.pop(key, []):
            conn.write(data)

    def register_stream(self, key: tuple[str, str, int], conn: _StreamConnection | WebSocketConnection) -> None:
        """A connection is up."""
        self._streams[key] = conn

    def unregister_stream(self, key: tuple[str, str, int], conn: _StreamConnection | WebSocketConnection) -> None:
        """A connection is gone (one a peer opened: the sibling workers are told)."""
        if self._streams.get(key) is conn:
            del self._streams[key]
            if self.stream_closed is not None and not getattr(conn, "ours", False):
                self.stream_closed(Peer(*key))


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, transport: SipTransport) -> None:
        self.sip = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data in (b"\r\n\r\n", b"\r\n", b"\x00\x00\x00\x00"):  # NAT keep-alives
            return
        self.sip.received(data, Peer("udp", str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class _StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: framed SIP messages in, and ours out. One we open is known by the address we
    opened it to (a name, over TLS); one a phone opened by where it comes from."""

    def __init__(
        self, sip: SipTransport, transport_name: str, key: tuple[str, int] | None = None, pin: bytes | None = None
    ) -> None:
        self.sip = sip
        self.transport_name = transport_name
        self.ours = key is not None  # calltape opened it (to a gateway or a route): what comes on it is no stranger's
        self.key = key or ("", 0)
        self.pin = pin  # over TLS: the SHA-256 of the only certificate the peer may show
        self.refused = ""  # why the connection was dropped at once (a certificate that is not the pinned one)
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.address = self.key

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        if self.pin is not None:  # before anything is sent or read on it
            self.refused = _pin_mismatch(transport, self.pin)
            if self.refused:
                self.transport.abort()
                return
        peer = transport.get_extra_info("peername")
        self.address = (str(peer[0]), int(peer[1]))  # where it really is: what its requests come from
        if self.key == ("", 0):
            self.key = self.address
        elif self.sip.vouch is not None:
            self.sip.vouch(self.address[0])  # the address a name we called stands for
        self.sip.register_stream((self.transport_name, *self.key), self)
        if self.address != self.key:  # one we opened to a name: answers go back on it by either
            self.sip.register_stream((self.transport_name, *self.address), self)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        try:
            items = self.framer.feed(data)
        except FramingError as exc:
            throttle.log(
                log, logging.INFO, ("framing", self.key[0]), "closing a connection from %s:%d: %s", *self.key, exc
            )
            self.close()
            return
        peer = Peer(self.transport_name, *self.address)  # an address, never a name (trusted networks, routes)
        for item in items:
            if isinstance(item, KeepAlive):
                self.write(b"\r\n")
            elif not self.sip.received(item, peer, ours=self.ours):  # a stranger over its limit: it goes
                self.close()
                return

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused:
            return
        self.sip.unregister_stream((self.transport_name, *self.key), self)
        self.sip.unregister_stream((self.transport_name, *self.address), self)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """What calltape's TLS listener presents: TLS 1.2 or newer, the certificate chain and key of *cert* and *key*
    (read again by ``reload``, e.g. on SIGHUP; connections made before keep theirs)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """How calltape checks a peer it calls over TLS: TLS 1.2 or newer, its certificate against *cafile* (default:
    the system's CAs) and the name or address it was called by."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def pinned_context() -> ssl.SSLContext:
    """TLS 1.2 or newer to a peer whose certificate is pinned: no CA or name is asked of it, its certificate is
    compared with the pin as the connection is made (:func:`_pin_mismatch`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _pin_mismatch(transport: asyncio.BaseTransport, pin: bytes) -> str:
    """Why the connection's certificate is not the pinned one; empty if it is."""
    tls = transport.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    if der is not None and hashlib.sha256(der).digest() == pin:
        return ""
    shown = hashlib.sha256(der).hexdigest() if der else "none"
    return f"its certificate (SHA-256 {shown}) is not the pinned one ({pin.hex()})"


def _grow_buffers(sock: socket.socket | None) -> None:
    if sock is None:
        return
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, 4 * 1024 * 1024)


_ROUTE_TTL = 30.0  # seconds a looked-up local address is used before the routes are asked again
_routes: dict[str, tuple[str, float]] = {}


def local_address_towards(host: str) -> str:
    """The local IP the kernel would use to reach *host* (for SDP and Contact when bound to 0.0.0.0); asked of the
    kernel once per host every 30 s, not once per call."""
    now = time.monotonic()
    known = _routes.get(host)
    if known is not None and known[1] > now:
        return known[0]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((host, 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"  # no route now (the network coming up): asked again next time, not remembered
    if len(_routes) >= 4096:  # a scan from many sources must not grow it without end
        _routes.clear()
    _routes[host] = (address, now + _ROUTE_TTL)
    return address
