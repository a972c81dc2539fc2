"""An outbound leg: calltape calls a device (UAC), and the answers to its INVITE reach it.

``ring()`` sends the INVITE with our SDP offer; responses, timeouts and transport errors come back
through :meth:`OutboundLeg.on_response` and friends (the control routes each client transaction's
events to the leg that sent it). ``outcome`` resolves with the final status: 200 once answered and
its media runs, 486 busy, 408 no answer, 487 cancelled, … A 401/407 from a target with credentials
is answered once. A 2xx that arrives after we cancelled is ACKed and hung up at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from calltape.media.sdp import Negotiated, SdpError, negotiate, offer_sdp, parse_sdp
from calltape.media.srtp import new_crypto
from calltape.sip.dialog import Dialog, DialogError, new_branch
from calltape.sip.digest import authorization_for
from calltape.sip.events import Peer
from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.responses import new_tag
from calltape.sip.syntax import custom_header_problem, quote
from calltape.sip.transaction import ClientTransaction, build_cancel
from calltape.switch.leg import Leg, LegHost, LegState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where and how to ring one endpoint."""

    uri: str  # the Request-URI: a registered contact, or a device's static route
    peer: Peer  # where the INVITE is sent
    caller_number: str
    caller_name: str = ""
    credentials: tuple[str, str] | None = None  # (username, password) for a 401/407 from the target
    headers: tuple[tuple[str, str], ...] = ()  # custom_sip_headers
    device_id: str | None = None
    owner_id: str | None = None  # the user who owns the device
    offnet: bool = False  # leaves the platform (a static route: a trunk, until carriers exist)
    local_address: str | None = None  # our address towards it, when not the caller's leg's (a forward to ourselves)
    sign: Callable[[str], tuple[str, str]] | None = None  # a header signed over the leg's Call-ID (a forward)
    confirm: bool = False  # whoever answers presses 1 before the caller is put through
    early_media: bool = True  # the caller may hear its early media
    delay: float = 0.0  # seconds into the dial before it rings (a ring group's member)
    timeout: float | None = None  # how long it rings (None: as long as the dial)
    route: tuple[str, ...] = ()  # Route headers: the Path a registration came through (an edge proxy), first hop first
    srtp: bool = False  # offer SRTP (the device's media.encryption.methods has "srtp")
    srtp_required: bool = False  # and refuse an answer in the clear (its enforce_security)
    certificate_sha256: bytes | None = None  # over TLS: the certificate it must present, pinned (a gateway's)
    own_connection: bool = False  # reached only on the connection it opened (registered over TCP, TLS, WebSocket)


class OutboundLeg(Leg):
    """A leg we place; ``outcome`` is its final status."""

    def __init__(self, host: LegHost, target: Target, local_address: str) -> None:
        super().__init__(host, host.new_call_id(), target.peer, local_address, LegState.CALLING)
        self.target = target
        self.local_tag = new_tag()
        self.outcome: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.ringing = asyncio.Event()
        self.early = asyncio.Event()  # early media (183 with SDP) flows on this leg
        self._media: asyncio.Future[None] | None = None  # the media being started (early, or on the 200)
        self.invite_request: Request | None = None
        self._transaction: ClientTransaction | None = None
        self._sock: socket.socket | None = None
        self._cseq = 0
        self._authenticated = False
        self._cancelled = False
        self._crypto = new_crypto() if target.srtp else None  # the SRTP key we offer (the same on every retry)
        if target.peer.transport != "udp":  # as the target says now (a pin taken away is gone)
            host.prepare_peer(target.peer, pin=target.certificate_sha256, own_connection=target.own_connection)

    def ring(self) -> None:
        """Send the INVITE (our offer: PCMU, PCMA, telephone-event)."""
        self._sock = self.host.ports.acquire()
        self._send_invite()

    def _send_invite(self, authorization: tuple[str, str] | None = None) -> None:
        assert self._sock is not None
        target, host = self.target, self.host
        self._cseq += 1
        port = int(self._sock.getsockname()[1])
        body = offer_sdp(self.local_address, port, self.session_id, self.sdp_version, self._crypto)
        display = f"{quote(target.caller_name)} " if target.caller_name else ""
        headers = Headers(
            [
                ("Via", f"{host.via_for(self.peer, self.local_address)};branch={new_branch()}"),
                ("Max-Forwards", "70"),
                *(("Route", hop) for hop in target.route),
                (
                    "From",
                    f"{display}<sip:{target.caller_number or 'anonymous'}@{self.local_address}>;tag={self.local_tag}",
                ),
                ("To", f"<{target.uri}>"),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self._cseq} INVITE"),
                ("Contact", host.contact_for(self.peer, self.local_address)),
                ("Allow", host.allow_header),
                *((name, value) for name, value in target.headers if custom_header_problem(name, value) is None),
                *([target.sign(self.call_id)] if target.sign else []),
                *([authorization] if authorization else []),
                ("Content-Type", "application/sdp"),
            ]
        )
        self.invite_request = Request(headers=headers, body=body, method="INVITE", uri=target.uri)
        self._transaction = host.send_request(self.invite_request, self.peer, self)

    def cancel(self) -> None:
        """Give up ringing: CANCEL the INVITE (a 2xx that still comes is ACKed and hung up).

        Before any provisional response the CANCEL waits for one (RFC 3261 §9.1): sent earlier, it could reach
        the phone before the INVITE does and leave it ringing."""
        if self.outcome.done() or self._cancelled:
            return
        self._cancelled = True
        if self.state is not LegState.CALLING:
            self._send_cancel()

    def _send_cancel(self) -> None:
        if self.invite_request is not None:
            self.host.send_request(build_cancel(self.invite_request), self.peer, self)

    # ---- what the INVITE's transaction reports -----------------------------------------------

    def on_response(self, response: Response) -> None:
        """A response to one of this leg's requests."""
        method = response.cseq.method
        if method != "INVITE":
            return  # CANCEL's 200, BYE's 200: nothing to do
        if self.invite_request is not None and response.cseq.number != self.invite_request.cseq.number:
            super().on_response(response)  # an answer to a re-INVITE of ours
            return
        status = response.status
        if status < 200 and self._cancelled and self.state is LegState.CALLING:
            self.state = LegState.PROCEEDING
            self._send_cancel()  # the CANCEL that waited for a provisional response
            return
        if status < 200:
            if status in (180, 183):
                self.state = LegState.RINGING if status == 180 else LegState.EARLY
                self.ringing.set()
            elif self.state is LegState.CALLING:
                self.state = LegState.PROCEEDING  # 100 Trying or another 1xx: the INVITE has arrived
            if status == 183 and response.body and self._media is None and not self._cancelled:
                self._begin_media(response, early=True)
        elif status < 300:
            self._answered(response)
        elif status in (401, 407) and self.target.credentials and not self._authenticated and not self._cancelled:
            self._authenticated = True
            self._authenticate(response)
        else:
            self._finish(status)

    def on_timeout(self) -> None:
        """No final response in time (timer B)."""
        self._finish(408)

    def on_transport_error(self) -> None:
        """The INVITE could not be sent."""
        self._finish(503)

    def _authenticate(self, response: Response) -> None:
        assert self.target.credentials is not None
        username, password = self.target.credentials
        try:
            authorization = authorization_for(response, "INVITE", self.target.uri, username, password)
        except ValueError:
            self._finish(response.status)
            return
        self._send_invite(authorization)

    def _answered(self, response: Response) -> None:
        assert self.invite_request is not None
        if self.dialog is not None:  # a retransmitted 2xx: our ACK was lost
            self._ack(response)
            return
        try:
            dialog = Dialog.as_uac(self.invite_request, response)
        except DialogError as exc:  # no Contact: no dialog can be had (nor a BYE sent): the leg failed
            log.warning("call-id %s: the callee's answer cannot be used: %s", self.call_id, exc)
            self._finish(502)
            return
        dialog.local_contact = self.host.contact_for(self.peer, self.local_address)
        self.dialog = dialog
        self._ack(response)
        if self._cancelled or self.ended.is_set():  # a late 2xx from a fork that lost: ACK and hang up
            self.state = LegState.ANSWERED
            self._send_bye()
            self._finish(487)
            return
        self.host.dialog_up(self)
        self.state = LegState.ANSWERED
        if self._media is None and not self._begin_media(response, early=False):
            log.warning("call-id %s: the callee's answer is unusable", self.call_id)
            self._send_bye()
            self._finish(488)
            return
        self.host.spawn(self._confirm())

    def _begin_media(self, response: Response, *, early: bool) -> bool:
        """Start the media on the SDP of a 183 (early media) or the 200; False if it is unusable."""
        try:
            negotiated = negotiate(
                parse_sdp(response.body),
                self.host.ports.families,
                offered=self._crypto,
                srtp_required=self.target.srtp_required,
                is_answer=True,
            )
        except SdpError:
            return False
        assert self._sock is not None
        sock, self._sock = self._sock, None
        self._media = asyncio.ensure_future(self._start_media(sock, negotiated, early))
        return True

    async def _start_media(self, sock: socket.socket, negotiated: Negotiated, early: bool) -> None:
        try:
            await self.start_media(sock, negotiated)
        except Exception:
            self.release_socket(sock)
            raise
        if early and not self.ended.is_set():
            self.early.set()

    async def _confirm(self) -> None:
        assert self._media is not None
        await self._media
        if not self.outcome.done():
            self.outcome.set_result(200)

    def _ack(self, response: Response) -> None:
        assert self.dialog is not None and self.invite_request is not None
        ack = self.dialog.create_request(
            "ACK", self.host.via_for(self.peer, self.local_address), cseq=self.invite_request.cseq.number
        )
        self.host.send_ack(ack, self.peer)

    def _finish(self, status: int) -> None:
        if not self.outcome.done():
            self.outcome.set_result(status)
        if self._sock is not None:
            self.release_socket(self._sock)
            self._sock = None
        if status >= 300:
            self.end(str(status))
