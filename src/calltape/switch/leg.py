"""Legs: one SIP dialog plus its RTP session, inbound (we answer, UAS) or outbound (we call, UAC).

A leg knows its own state and media and answers the in-dialog requests of its dialog (BYE,
re-INVITE, INFO). Whoever creates legs hands them a :class:`LegHost` — the few things a leg needs
(ports, the media clock, sending SIP, announcing its dialog) — and legs never reach further back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any, Protocol

from calltape.logs import throttle
from calltape.media.clock import MediaClock, MediaTimeline
from calltape.media.dtmf import parse_dtmf_info
from calltape.media.g711 import codec_for
from calltape.media.ports import RtpPortPool
from calltape.media.sdp import Negotiated, SdpError, answer_sdp, build_sdp, negotiate, offer_sdp, parse_sdp
from calltape.media.session import RtpSession
from calltape.media.taps import Taps
from calltape.sip.dialog import Dialog, DialogError
from calltape.sip.events import Peer, RequestReceived
from calltape.sip.message import Request, Response
from calltape.sip.responses import make_response
from calltape.sip.transaction import ClientTransaction, ServerTransaction

log = logging.getLogger(__name__)

ACK_WAIT = 32.0  # 64*T1: how long a late-offer answer may take to arrive in the ACK


class LegState(Enum):
    """Where a leg is in its life."""

    OFFERED = "offered"  # inbound, not answered yet
    CALLING = "calling"  # outbound, INVITE sent
    PROCEEDING = "proceeding"  # outbound, a 1xx says it arrived
    RINGING = "ringing"  # outbound, 180 received
    EARLY = "early"  # outbound, 183 with SDP: early media flows
    ANSWERED = "answered"
    HELD = "held"  # the far end put the call on hold
    ENDED = "ended"


class LegEndedError(Exception):
    """The leg is over before the operation could finish."""


class LegHost(Protocol):
    """What a leg needs from whoever created it."""

    ports: RtpPortPool
    clock: MediaClock
    allow_header: str

    def respond(self, transaction: ServerTransaction, response: Response) -> None: ...
    def send_request(self, request: Request, peer: Peer, owner: Leg | None = None) -> ClientTransaction:
        """Send *request*; its transaction's responses, timeout or transport error reach *owner*."""

    def send_ack(self, ack: Request, peer: Peer) -> None: ...
    def prepare_peer(self, peer: Peer, *, pin: bytes | None, own_connection: bool) -> None:
        """How *peer* is reached: over TLS, only if it presents the certificate whose SHA-256 is *pin* (None: one a
        CA vouches for, for its name); *own_connection*: only on the connection it opened (a phone registered over
        TCP, TLS or WebSocket), never on one calltape would open."""

    def contact_for(self, peer: Peer, local_address: str) -> str: ...
    def via_for(self, peer: Peer, local_address: str) -> str: ...
    def dialog_up(self, leg: Leg) -> None: ...
    def dialog_gone(self, leg: Leg) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...
    def new_call_id(self) -> str:
        """A Call-ID for a leg we place (one that comes back to this worker)."""


class Leg:
    """The part both directions share: state, dialog, media, in-dialog requests and the end."""

    def __init__(self, host: LegHost, call_id: str, peer: Peer, local_address: str, state: LegState) -> None:
        self.host = host
        self.call_id = call_id
        self.peer = peer
        self.local_address = local_address
        self.state = state
        self.dialog: Dialog | None = None
        self.media: RtpSession | None = None
        self.negotiated: Negotiated | None = None
        self.timeline: MediaTimeline | None = None  # the call's, handed over before media starts
        self.taps: Taps | None = None  # the call's taps (the A-leg's media feeds them), likewise
        self.session_id = str(abs(hash((call_id, id(self)))) % 2**31)
        self.sdp_version = 1
        self.ended = asyncio.Event()
        self.end_reason = ""
        self.on_digit: Callable[[str], None] | None = None
        self.on_media_change: Callable[[Leg], None] | None = None  # hold/unhold (a bridge passes it on)
        self.on_refer: Callable[[RequestReceived], None] | None = None  # a transfer (a bridge takes it)
        self._end_hooks: list[Callable[[Leg], None]] = []

    @property
    def answered(self) -> bool:
        """True once the leg was answered (even if it has ended since)."""
        return self.dialog is not None and self.state is not LegState.EARLY

    def on_end(self, hook: Callable[[Leg], None]) -> None:
        """Run *hook* once when the leg ends, whatever ends it."""
        if self.ended.is_set():
            hook(self)
        else:
            self._end_hooks.append(hook)

    # ---- media -------------------------------------------------------------------------------

    def offer_or_answer(self, port: int) -> bytes:
        """Our SDP on *port*: the answer to what was offered, or an offer of our own."""
        if self.negotiated is not None:
            return answer_sdp(self.negotiated, self.local_address, port, self.session_id, self.sdp_version)
        return offer_sdp(self.local_address, port, self.session_id, self.sdp_version)

    async def start_media(self, sock: socket.socket, negotiated: Negotiated) -> RtpSession:
        """Start RTP on *sock* as negotiated (the leg's media timers start now, not before)."""
        self.negotiated = negotiated
        media = RtpSession(
            sock,
            codec_for(negotiated.codec, negotiated.payload_type),
            negotiated.dtmf_payload_type,
            (negotiated.remote_address, negotiated.remote_port),
            self.host.clock,
            call_id=self.call_id,
            timeline=self.timeline,
            taps=self.taps,
            srtp=negotiated.srtp,
        )
        media.sending = not negotiated.on_hold
        media.on_digit = self._digit
        media.on_failure = lambda _error: self.host.spawn(self.hangup())
        self.media = media
        await media.start()
        return media

    def _digit(self, digit: str) -> None:
        if self.on_digit is not None:
            self.on_digit(digit)

    def release_socket(self, sock: socket.socket) -> None:
        """Give back a port that never got its media session."""
        port = int(sock.getsockname()[1])
        sock.close()
        self.host.ports.release(port)

    # ---- in-dialog requests ------------------------------------------------------------------

    def on_response(self, response: Response) -> None:
        """A response to a request this leg sent: a 2xx to our re-INVITE is ACKed; a BYE's 200 needs nothing."""
        if response.cseq.method == "INVITE" and 200 <= response.status < 300 and self.dialog is not None:
            via = self.host.via_for(self.peer, self.local_address)
            self.host.send_ack(self.dialog.create_request("ACK", via, cseq=response.cseq.number), self.peer)

    def hold_far_end(self, on_hold: bool) -> None:
        """Re-INVITE the far end to hold (``sendonly``) or resume (``sendrecv``): a bridge passes a hold on."""
        if self.dialog is None or self.media is None or self.negotiated is None or self.ended.is_set():
            return
        self.sdp_version += 1
        negotiated = self.negotiated
        body = build_sdp(
            self.local_address,
            self.media.port,
            [(negotiated.payload_type, negotiated.codec)],
            negotiated.dtmf_payload_type,
            direction="sendonly" if on_hold else "sendrecv",
            session_id=self.session_id,
            version=self.sdp_version,
            crypto=negotiated.our_crypto,  # the same key (RFC 4568 §7.1.4)
        )
        via = self.host.via_for(self.peer, self.local_address)
        request = self.dialog.create_request("INVITE", via, body=body, content_type="application/sdp")
        self.host.send_request(request, self.peer, self)

    def on_timeout(self) -> None:
        """A request this leg sent got no final response."""

    def on_transport_error(self) -> None:
        """A request this leg sent could not be delivered."""

    def on_request(self, event: RequestReceived) -> None:
        """BYE, re-INVITE, INFO, UPDATE, … within this leg's dialog."""
        request, tx = event.request, event.transaction
        assert self.dialog is not None
        try:
            self.dialog.receive_request(request)
        except DialogError as exc:
            self.host.respond(
                tx, event.response(500, None, [("Retry-After", "1"), ("Warning", f'399 calltape "{exc}"')])
            )
            return
        if request.method == "BYE":
            self.host.respond(tx, event.response(200))
            self.far_end_hung_up("bye")
        elif request.method == "INVITE":
            self._reinvite(event)
        elif request.method == "REFER":
            if self.on_refer is not None:
                self.on_refer(event)
            else:
                self.host.respond(tx, event.response(403, "Transfer not possible now"))
        elif request.method == "INFO":
            digit = parse_dtmf_info(request.content_type, request.body)
            if digit:
                self._digit(digit)
            self.host.respond(tx, event.response(200))
        else:
            self.host.respond(tx, event.response(200))

    def _reinvite(self, event: RequestReceived) -> None:
        request = event.request
        body = b""
        if request.body and self.media is not None:
            try:
                body = self.reoffer(request.body)
            except SdpError as exc:
                self.host.respond(event.transaction, event.response(exc.status, exc.reason))
                return
        headers = [("Contact", self.host.contact_for(self.peer, self.local_address))]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = make_response(request, 200, to_tag=event.transaction.to_tag, headers=headers, body=body)
        self.host.respond(event.transaction, response)

    def reoffer(self, offer: bytes) -> bytes:
        """A re-INVITE's SDP: hold/unhold or a new address (an SRTP call keeps our key, and takes a new one of
        theirs; it cannot turn plain, nor a plain one SRTP: 488). Returns our answer."""
        current = self.negotiated.srtp if self.negotiated is not None else None
        ours = current.ours if current is not None else None
        negotiated = negotiate(parse_sdp(offer), self.host.ports.families, offered=ours, keep_ours=True)
        if (negotiated.srtp is None) != (current is None):
            raise SdpError("a re-INVITE may not switch between RTP and SRTP", 488)
        assert self.media is not None
        if negotiated.srtp is not None and current is not None and negotiated.srtp.theirs != current.theirs:
            self.media.rekey(negotiated.srtp)  # the far end's new key, from its next packet on
        self.negotiated = negotiated
        self.sdp_version += 1
        if (negotiated.remote_address, negotiated.remote_port) != self.media.remote and not negotiated.on_hold:
            self.media.move_to((negotiated.remote_address, negotiated.remote_port))
        self.media.sending = not negotiated.on_hold
        self.state = LegState.HELD if negotiated.on_hold else LegState.ANSWERED
        log.info("call-id %s: re-INVITE (%s)", self.call_id, "hold" if negotiated.on_hold else "active")
        if self.on_media_change is not None:
            self.on_media_change(self)
        return answer_sdp(negotiated, self.local_address, self.media.port, self.session_id, self.sdp_version)

    # ---- the end -----------------------------------------------------------------------------

    async def hangup(self, status: int = 480, reason: str | None = None) -> None:
        """End the leg from our side (BYE once answered); nothing if it already ended."""
        if not self.ended.is_set():
            self._send_bye()
        self.end("hangup")

    def _send_bye(self) -> None:
        if self.dialog is not None and self.answered:
            bye = self.dialog.create_request("BYE", self.host.via_for(self.peer, self.local_address))
            self.host.send_request(bye, self.peer, self)
            log.debug("call-id %s: sent BYE", self.call_id)

    def far_end_hung_up(self, reason: str) -> None:
        """The far end sent BYE, cancelled, or went silent."""
        log.debug("call-id %s: leg ended by the far end (%s)", self.call_id, reason)
        self.end(reason)

    def end(self, reason: str) -> None:
        """The leg is over: media closed, port given back, dialog forgotten, end hooks run (once)."""
        if self.ended.is_set():
            return
        self.end_reason = reason
        self.state = LegState.ENDED
        self.ended.set()
        if self.media is not None:
            self.media.drain()  # audio that came just ahead of the hangup still reaches the taps
            self.media.close()
            self.host.ports.release(self.media.port)
        if self.dialog is not None:
            self.host.dialog_gone(self)
        hooks, self._end_hooks = self._end_hooks, []
        for hook in hooks:
            hook(self)


class InboundLeg(Leg):
    """A leg that called us (the A-leg): answered with our 200, or refused with an error."""

    def __init__(
        self,
        host: LegHost,
        request: Request,
        transaction: ServerTransaction,
        peer: Peer,
        local_address: str,
        negotiated: Negotiated | None,
    ) -> None:
        super().__init__(host, request.call_id, peer, local_address, LegState.OFFERED)
        self.request = request
        self.transaction = transaction
        self.negotiated = negotiated
        self._ack = asyncio.Event()
        self._ack_body = b""
        self._early_sdp = b""

    async def answer(self) -> None:
        """Answer with 200 OK and start the media (after a late offer, once the ACK brings the answer)."""
        if self.dialog is not None:
            return
        if self.ended.is_set():
            raise LegEndedError()
        if self.media is not None:  # early media runs already: the same SDP, now in the 200
            self._accept(self._early_sdp)
            return
        sock = self.host.ports.acquire()
        try:
            await self._answer_on(sock)
        except BaseException:
            if self.media is None:
                self.release_socket(sock)
            raise

    async def early_media(self) -> None:
        """183 Session Progress with our SDP, and the media running, before the call is answered.

        Nothing happens for a late offer (no SDP to answer yet) or once answered."""
        if self.media is not None or self.dialog is not None or self.negotiated is None:
            return
        if self.ended.is_set():
            raise LegEndedError()
        sock = self.host.ports.acquire()
        try:
            self._early_sdp = self.offer_or_answer(int(sock.getsockname()[1]))
            headers = [
                ("Contact", self.host.contact_for(self.peer, self.local_address)),
                ("Content-Type", "application/sdp"),
            ]
            to_tag = self.transaction.to_tag
            self.host.respond(
                self.transaction, make_response(self.request, 183, to_tag=to_tag, headers=headers, body=self._early_sdp)
            )
            await self.start_media(sock, self.negotiated)
        except BaseException:
            if self.media is None:
                self.release_socket(sock)
            raise

    def _accept(self, body: bytes) -> None:
        """The 200 OK with *body*: the dialog exists from now on."""
        host = self.host
        contact = host.contact_for(self.peer, self.local_address)
        headers = [("Contact", contact), ("Allow", host.allow_header), ("Content-Type", "application/sdp")]
        response = make_response(self.request, 200, to_tag=self.transaction.to_tag, headers=headers, body=body)
        self.dialog = Dialog.as_uas(self.request, self.transaction.to_tag, contact)
        self.state = LegState.ANSWERED
        host.dialog_up(self)
        host.respond(self.transaction, response)

    async def _answer_on(self, sock: socket.socket) -> None:
        self._accept(self.offer_or_answer(int(sock.getsockname()[1])))
        negotiated = self.negotiated
        if negotiated is None:  # late offer: the answer comes in the ACK
            negotiated = await self._answer_from_ack()
        await self.start_media(sock, negotiated)
        log.debug("call-id %s: answered (%s, RTP %d)", self.call_id, negotiated.codec, int(sock.getsockname()[1]))

    async def _answer_from_ack(self) -> Negotiated:
        ack = asyncio.ensure_future(self._ack.wait())
        ended = asyncio.ensure_future(self.ended.wait())
        done, _ = await asyncio.wait({ack, ended}, timeout=ACK_WAIT, return_when=asyncio.FIRST_COMPLETED)
        ack.cancel()
        ended.cancel()
        if ack not in done:  # the far end left, or the ACK never came (the core also reports AckTimedOut)
            await self.hangup()
            raise LegEndedError()
        try:
            return negotiate(parse_sdp(self._ack_body), self.host.ports.families)
        except SdpError as exc:
            throttle.log(
                log,
                logging.WARNING,
                ("ack-sdp", self.peer.host),
                "call-id %s: no usable SDP answer in the ACK: %s",
                self.call_id,
                exc,
            )
            await self.hangup()
            raise LegEndedError() from None

    def send_ringing(self) -> None:
        """Tell the caller the far end is ringing (180, no dialog yet)."""
        if not self.transaction.final_sent and not self.ended.is_set():
            self.host.respond(self.transaction, make_response(self.request, 180, to_tag=self.transaction.to_tag))

    def ack_received(self, ack: Request) -> None:
        """The ACK of our 200 (it carries the SDP answer after a late offer)."""
        self._ack_body = ack.body
        self._ack.set()

    async def hangup(self, status: int = 480, reason: str | None = None) -> None:
        """BYE if answered; a final *status* (with *reason*, else the usual phrase) if not; nothing if the far end
        already left."""
        if not self.ended.is_set() and self.dialog is None and not self.transaction.final_sent:
            response = make_response(self.request, status, reason, to_tag=self.transaction.to_tag)
            self.host.respond(self.transaction, response)
        await super().hangup(status)
