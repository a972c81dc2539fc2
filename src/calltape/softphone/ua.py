"""The softphone's user agent: calltape's own SIP core (transactions, dialogs, digest) on one UDP port.

It registers, places calls, and rings and answers calls to it; each call is a :class:`PhoneCall`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from calltape.media.clock import MediaClock
from calltape.sip.dialog import new_branch
from calltape.sip.digest import authorization_for
from calltape.sip.endpoint import SipEndpoint
from calltape.sip.events import (
    AckReceived,
    Event,
    InviteCancelled,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.responses import new_tag
from calltape.sip.syntax import quote
from calltape.sip.transaction import ClientTransaction
from calltape.sip.uri import parse_sip_uri
from calltape.sip.validation import Capabilities
from calltape.sip_transport import SipTransport
from calltape.softphone.call import PhoneCall
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

PHONE_CAPABILITIES = Capabilities(allow=frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO"}))
Progress = Callable[[Response], None]


class Softphone:
    """One SIP line: ``user@realm``, reaching the server at *server*."""

    def __init__(
        self,
        server: Peer | None,
        *,
        user: str = "calltape",
        password: str | None = None,
        realm: str | None = None,
        host: str = "127.0.0.1",
        display_name: str = "",
    ) -> None:
        self.server = server
        self.user = user
        self.password = password
        self.realm = realm or (server.host if server else host)
        self.host = host
        self.display_name = display_name
        self.port = 0
        self.clock = MediaClock()
        self.calls: dict[str, PhoneCall] = {}
        self.incoming: asyncio.Queue[PhoneCall] = asyncio.Queue()
        self.answer_after: float | None = 0.0  # being called: seconds until we answer (None: ring until cancelled)
        self.refuse_with: int | None = None  # being called: answer with this status instead (486, 603, …)
        self.on_call: Callable[[PhoneCall], None] = lambda _call: None  # set up each new call (audio, recording)
        self._pending: dict[ClientTransaction, tuple[asyncio.Future[Response], Progress | None]] = {}
        self._register_call_id = f"{secrets.token_hex(12)}@{host}"
        self._register_cseq = 0
        self._tasks = TaskSet("softphone")
        self.transport: SipTransport | None = None

    async def start(self, port: int = 0) -> Softphone:
        """Listen for SIP on *port* (0: any free one)."""
        self.transport = SipTransport(SipEndpoint(PHONE_CAPABILITIES))
        self.host, self.port = await self.transport.start(self.host, port, self._on_event)
        return self

    async def close(self) -> None:
        """Hang up every call and stop listening."""
        for call in list(self.calls.values()):
            await call.hangup()
        self._tasks.cancel()
        if self.transport is not None:
            await self.transport.close()

    @property
    def via(self) -> str:
        """Our Via (a branch is added per request)."""
        return f"SIP/2.0/UDP {self.host}:{self.port};rport"

    @property
    def contact(self) -> str:
        """Our Contact."""
        return f"<sip:{self.user}@{self.host}:{self.port}>"

    # ---- registering -------------------------------------------------------------------------

    async def register(self, expires: int = 300) -> Response:
        """REGISTER ``user@realm`` at the server (answering its digest challenge once); 0 removes the binding."""
        if self.server is None:
            raise ValueError("registering needs a server")
        uri = f"sip:{self.realm}"
        response = await self.request(self._register_request(uri, expires, None), self.server)
        if response.status in (401, 407) and self.password:
            auth = authorization_for(response, "REGISTER", uri, self.user, self.password)
            response = await self.request(self._register_request(uri, expires, auth), self.server)
        return response

    def keep_registered(self, expires: int = 300) -> None:
        """Refresh the registration before it expires, until :meth:`close`."""

        async def refresh() -> None:
            while True:
                await asyncio.sleep(expires * 0.8)
                response = await self.register(expires)
                if response.status >= 300:
                    log.warning("re-registration failed: %d %s", response.status, response.reason)

        self._spawn(refresh())

    def _register_request(self, uri: str, expires: int, auth: tuple[str, str] | None) -> Request:
        self._register_cseq += 1
        aor = f"<sip:{self.user}@{self.realm}>"
        headers = Headers(
            [
                ("Via", f"{self.via};branch={new_branch()}"),
                ("Max-Forwards", "70"),
                ("From", f"{aor};tag={new_tag()}"),
                ("To", aor),
                ("Call-ID", self._register_call_id),
                ("CSeq", f"{self._register_cseq} REGISTER"),
                ("Contact", self.contact),
                ("Expires", str(expires)),
                *([auth] if auth else []),
            ]
        )
        return Request(headers=headers, method="REGISTER", uri=uri)

    # ---- placing calls -----------------------------------------------------------------------

    async def call(self, target: str, *, timeout: float = 60.0, on_progress: Progress | None = None) -> PhoneCall:
        """Call *target* (a number, ``user@host`` or a SIP URI); returns once it is answered or has failed.

        Nobody answering within *timeout* seconds cancels the call (status 487)."""
        uri, peer = self._resolve(target)
        call = PhoneCall(self, "outbound", f"{secrets.token_hex(12)}@{self.host}", peer, uri)
        self.calls[call.call_id] = call
        self.on_call(call)
        from_tag, cseq, auth = new_tag(), 1, None
        display = f"{quote(self.display_name)} " if self.display_name else ""
        while True:
            headers = Headers(
                [
                    ("Via", f"{self.via};branch={new_branch()}"),
                    ("Max-Forwards", "70"),
                    ("From", f"{display}<sip:{self.user}@{self.realm}>;tag={from_tag}"),
                    ("To", f"<{uri}>"),
                    ("Call-ID", call.call_id),
                    ("CSeq", f"{cseq} INVITE"),
                    ("Contact", self.contact),
                    ("Allow", PHONE_CAPABILITIES.allow_header),
                    *([auth] if auth else []),
                    ("Content-Type", "application/sdp"),
                ]
            )
            call.invite = Request(headers=headers, body=call.offer(), method="INVITE", uri=uri)
            pending = asyncio.ensure_future(self.request(call.invite, peer, on_progress))
            done, _ = await asyncio.wait({pending}, timeout=timeout)
            if not done:  # nobody answered in time: CANCEL; the INVITE then ends with 487 (or a 200 that raced)
                await call.hangup("no answer")
            response = await pending
            if response.status in (401, 407) and self.password and auth is None:
                auth, cseq = authorization_for(response, "INVITE", uri, self.user, self.password), cseq + 1
                continue
            break
        if 200 <= response.status < 300:
            await call.answered_by(response)
            if call.ended_by == "no answer":  # answered just as we gave up
                call.ended_by = ""
                await call.hangup("no answer")
        else:
            call.finished(response.status, f"{response.status} {response.reason}")
        return call

    def _resolve(self, target: str) -> tuple[str, Peer]:
        """The Request-URI for *target* and where to send it (the server when there is one)."""
        if not target.startswith(("sip:", "sips:")):
            host = f"{self.server.host}:{self.server.port}" if self.server else self.host
            target = f"sip:{target}" if "@" in target else f"sip:{target}@{host}"
        uri = parse_sip_uri(target)
        return target, self.server or Peer("udp", uri.host, uri.port or 5060)

    # ---- sending and receiving -----------------------------------------------------------------

    def request(self, request: Request, peer: Peer, on_progress: Progress | None = None) -> asyncio.Future[Response]:
        """Send *request* in a client transaction; the future is its final response (408/503 made up on a timeout
        or a transport error). *on_progress* sees the provisional ones."""
        assert self.transport is not None
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[self.transport.send_request(request, peer)] = (future, on_progress)
        return future

    def respond(self, event: RequestReceived, status: int, body: bytes = b"") -> None:
        """Answer a request we received (with our Contact on an INVITE's answers)."""
        assert self.transport is not None
        headers = [("Contact", self.contact)] if event.request.method == "INVITE" and status < 300 else []
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = event.response(status, headers=headers)
        response.body = body
        self.transport.respond(event.transaction, response)

    def send_ack(self, ack: Request, peer: Peer) -> None:
        """Send the ACK of a 2xx."""
        assert self.transport is not None
        self.transport.send_ack(ack, peer)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            self._on_response(event)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            status = 408 if isinstance(event, TransactionTimedOut) else 503
            self._settle(event.transaction, Response(headers=Headers(), status=status, reason="no answer from it"))
        elif isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, AckReceived):
            call = self.calls.get(event.request.call_id)
            if call is not None:
                self._spawn(call.acked(event.request))
        elif isinstance(event, InviteCancelled):
            call = self.calls.get(event.cancel.call_id)
            if call is not None:
                call.cancelled()

    def _on_response(self, event: ResponseReceived) -> None:
        response = event.response
        if event.transaction is None:  # a 2xx retransmitted after its transaction ended
            call = self.calls.get(response.call_id)
            if call is not None:
                call.ack_again(response)
            return
        if response.status < 200:
            entry = self._pending.get(event.transaction)
            if entry is not None and entry[1] is not None:
                entry[1](response)
            return
        self._settle(event.transaction, response)

    def _settle(self, transaction: ClientTransaction, response: Response) -> None:
        entry = self._pending.pop(transaction, None)
        if entry is not None and not entry[0].done():
            entry[0].set_result(response)

    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        call = self.calls.get(request.call_id)
        if request.method == "INVITE" and request.to.tag is None and call is None:
            self._ring(event)
        elif call is not None:
            call.in_dialog(event)
        else:
            self.respond(event, 200 if request.method == "OPTIONS" else 481)

    def _ring(self, event: RequestReceived) -> None:
        """A new call to us: ring, then answer or refuse as set up."""
        request = event.request
        call = PhoneCall(self, "inbound", request.call_id, event.peer, str(request.from_.uri))
        call.incoming, call.invite = event, request
        self.calls[call.call_id] = call
        self.on_call(call)
        self.respond(event, 180)
        self.incoming.put_nowait(call)
        if self.refuse_with is not None:
            call.refuse(self.refuse_with)
        elif self.answer_after is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(self.answer_after, lambda: self._spawn(call.answer()))

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)
