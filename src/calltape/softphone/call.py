"""One call of the softphone: its dialog, its RTP session, what it sends and what it heard."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Protocol

from calltape.media.clock import MediaClock
from calltape.media.dtmf import parse_dtmf_info
from calltape.media.g711 import codec_for
from calltape.media.outbound import Source
from calltape.media.sdp import Negotiated, SdpError, answer_sdp, negotiate, offer_sdp, parse_sdp
from calltape.media.session import RtpSession
from calltape.sip.dialog import Dialog
from calltape.sip.events import Peer, RequestReceived
from calltape.sip.message import Request, Response
from calltape.sip.transaction import build_cancel
from calltape.softphone.audio import Listener, Looping, describe


class PhoneHost(Protocol):
    """What a call needs from its phone: SIP sending, its addresses and the media clock."""

    host: str
    clock: MediaClock

    @property
    def via(self) -> str: ...

    @property
    def contact(self) -> str: ...

    def request(self, request: Request, peer: Peer) -> Awaitable[Response]: ...

    def respond(self, event: RequestReceived, status: int, body: bytes = b"") -> None: ...

    def send_ack(self, ack: Request, peer: Peer) -> None: ...


class PhoneCall:
    """A call placed (``outbound``) or answered (``inbound``) by the softphone."""

    def __init__(self, phone: PhoneHost, direction: str, call_id: str, peer: Peer, remote: str) -> None:
        self.phone = phone
        self.direction = direction
        self.call_id = call_id
        self.peer = peer
        self.remote = remote  # who is at the other end (their URI)
        self.status: int | None = None  # the INVITE's final status
        self.dialog: Dialog | None = None
        self.media: RtpSession | None = None
        self.listener = Listener()
        self.source: Source = Looping(b"")
        self.digits_heard: list[str] = []
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.ended_by = ""
        self.ended = asyncio.Event()
        self.answered = asyncio.Event()
        self.invite: Request | None = None  # the INVITE we sent, or the one we answer
        self.incoming: RequestReceived | None = None
        self.recording: Path | None = None
        self._session_id = str(secrets.randbelow(2**31))
        self._sdp_version = 1
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((phone.host, 0))

    @property
    def rtp_port(self) -> int:
        """Our RTP port."""
        return int(self._sock.getsockname()[1])

    def offer(self) -> bytes:
        """Our SDP offer (PCMU, PCMA, telephone-event)."""
        return offer_sdp(self.phone.host, self.rtp_port, self._session_id, self._sdp_version)

    # ---- placing a call ----------------------------------------------------------------------

    async def answered_by(self, response: Response) -> None:
        """The 2xx to our INVITE: ACK it and start the media (an unusable SDP: BYE)."""
        assert self.invite is not None
        self.status = response.status
        self.dialog = Dialog.as_uac(self.invite, response)
        ack = self.dialog.create_request("ACK", self.phone.via, cseq=self.invite.cseq.number)
        self.phone.send_ack(ack, self.peer)
        try:
            await self._start_media(negotiate(parse_sdp(response.body)))
        except SdpError:
            await self.hangup("unusable answer")

    def ack_again(self, response: Response) -> None:
        """A retransmitted 2xx: our ACK was lost."""
        if self.dialog is not None and self.invite is not None and response.to.tag == self.dialog.remote_tag:
            ack = self.dialog.create_request("ACK", self.phone.via, cseq=self.invite.cseq.number)
            self.phone.send_ack(ack, self.peer)

    # ---- being called ------------------------------------------------------------------------

    async def answer(self) -> None:
        """Answer the INVITE we ring for: 200 with our SDP, then media."""
        event = self.incoming
        if event is None or self.ended.is_set() or self.dialog is not None:
            return
        request = event.request
        negotiated: Negotiated | None = None
        if request.body:
            try:
                negotiated = negotiate(parse_sdp(request.body))
            except SdpError as exc:
                self.phone.respond(event, exc.status)
                self._end(f"refused: {exc}", exc.status)
                return
            body = answer_sdp(negotiated, self.phone.host, self.rtp_port, self._session_id, self._sdp_version)
        else:
            body = self.offer()  # a late offer: the answer comes in the ACK
        assert event.transaction.to_tag is not None
        self.dialog = Dialog.as_uas(request, event.transaction.to_tag, self.phone.contact)
        self.status = 200
        self.phone.respond(event, 200, body)
        if negotiated is not None:
            await self._start_media(negotiated)

    def refuse(self, status: int) -> None:
        """Decline the INVITE we ring for (486 busy, 603 decline, …)."""
        if self.incoming is not None and self.dialog is None and not self.ended.is_set():
            self.phone.respond(self.incoming, status)
            self._end(f"refused {status}", status)

    async def acked(self, request: Request) -> None:
        """The ACK of our 200: it carries the answer when the INVITE had no offer."""
        if self.media is None and request.body:
            try:
                await self._start_media(negotiate(parse_sdp(request.body)))
            except SdpError:
                await self.hangup("unusable answer in the ACK")

    def cancelled(self) -> None:
        """The caller gave up before we answered (the SIP core already sent 487)."""
        self._end("cancelled by the caller", 487)

    # ---- during the call ---------------------------------------------------------------------

    def in_dialog(self, event: RequestReceived) -> None:
        """A request inside this call: BYE, re-INVITE, INFO, OPTIONS."""
        request = event.request
        method = request.method
        if method == "BYE":
            self.phone.respond(event, 200)
            self._end("hung up by the other side")
        elif method == "INVITE":
            self._reinvited(event)
        elif method == "INFO":
            digit = parse_dtmf_info(request.headers.get("Content-Type") or "", request.body)
            if digit:
                self.digits_heard.append(digit)
            self.phone.respond(event, 200)
        else:
            self.phone.respond(event, 200 if method == "OPTIONS" else 405)

    def _reinvited(self, event: RequestReceived) -> None:
        """Hold or resume: answer with our SDP in the direction that fits, and follow it."""
        try:
            negotiated = negotiate(parse_sdp(event.request.body)) if event.request.body else None
        except SdpError as exc:
            self.phone.respond(event, exc.status)
            return
        self._sdp_version += 1
        if negotiated is None:
            self.phone.respond(event, 200, self.offer())
            return
        if self.media is not None:
            self.media.sending = not negotiated.on_hold
            remote = (negotiated.remote_address, negotiated.remote_port)
            if remote != self.media.remote:
                self.media.move_to(remote)
        body = answer_sdp(negotiated, self.phone.host, self.rtp_port, self._session_id, self._sdp_version)
        self.phone.respond(event, 200, body)

    def play(self, pcm: bytes, loop: bool = True) -> None:
        """Send *pcm* (looped, or once then silence) from now on."""
        self.source = Looping(pcm, loop)
        if self.media is not None:
            self.media.source = self.source

    def send_digits(self, digits: str) -> Awaitable[None]:
        """RFC 4733 events, one every 250 ms."""
        return asyncio.ensure_future(self._send_digits(digits))

    async def _send_digits(self, digits: str) -> None:
        for digit in digits:
            if self.media is None or self.ended.is_set():
                return
            self.media.send_digit(digit, 100)
            await asyncio.sleep(0.25)

    async def hangup(self, why: str = "hung up by us") -> None:
        """End the call: BYE once answered, CANCEL while ringing, a 480 to an incoming call not answered yet."""
        if self.ended.is_set():
            return
        if self.dialog is not None and (self.direction == "outbound" or self.status == 200):
            bye = self.dialog.create_request("BYE", self.phone.via)
            self._end(why)
            await self.phone.request(bye, self.peer)
        elif self.direction == "outbound" and self.invite is not None:
            await self.phone.request(build_cancel(self.invite), self.peer)
            self.ended_by = why
        elif self.incoming is not None:
            self.refuse(480)

    # ---- media and ending --------------------------------------------------------------------

    async def _start_media(self, negotiated: Negotiated) -> None:
        self._sock.setblocking(False)
        media = RtpSession(
            self._sock,
            codec_for(negotiated.codec, negotiated.payload_type),
            negotiated.dtmf_payload_type,
            (negotiated.remote_address, negotiated.remote_port),
            self.phone.clock,
            call_id=self.call_id,
            taps=[self.listener],
        )
        media.sending = not negotiated.on_hold
        media.source = self.source
        media.on_digit = self.digits_heard.append
        self.media = media
        await media.start()
        self.answered_at = time.time()
        self.answered.set()

    def _end(self, why: str, status: int | None = None) -> None:
        if self.ended.is_set():
            return
        if status is not None and self.status is None:
            self.status = status
        self.ended_by = self.ended_by or why
        self.ended_at = time.time()
        if self.media is not None:
            self.media.close()
        else:
            self._sock.close()
        if self.recording is not None:
            self.listener.write_wav(self.recording)
        self.ended.set()

    def finished(self, status: int, why: str) -> None:
        """The INVITE failed (busy, declined, no answer, …) or the call ended without us."""
        self._end(why, status)

    @property
    def duration(self) -> float:
        """Seconds from the answer to the end (or now); 0 if never answered."""
        if self.answered_at is None:
            return 0.0
        return round((self.ended_at or time.time()) - self.answered_at, 3)

    def summary(self) -> dict[str, Any]:
        """What a person would want to know about the call, as JSON-ready data."""
        media = self.media
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "remote": self.remote,
            "status": self.status,
            "answered": self.answered_at is not None,
            "duration": self.duration,
            "ended_by": self.ended_by,
            "codec": media.codec.name if media else None,
            "packets_received": media.packets_in if media else 0,
            "packets_lost": media.stats["lost"] if media else 0,
            "digits_heard": "".join(self.digits_heard),
            "heard": describe(self.listener.pcm()),
            "recording": str(self.recording) if self.recording else None,
        }
