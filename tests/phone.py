"""A test phone: a small asyncio UA over real UDP (SIP and RTP) that places calls to calltape.

It answers digest challenges, sends and records real G.711 audio, sends RFC 4733 and INFO DTMF,
re-INVITEs for hold, CANCELs, and answers the BYE that ends a call.
"""

from __future__ import annotations

import asyncio
import audioop
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from calltape.media.dtmf import event_payloads
from calltape.media.rtp import build_rtp, parse_rtp
from calltape.media.sdp import parse_sdp
from calltape.sip.digest import answer_challenge
from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.parser import parse_message


@dataclass
class Received:
    """What the phone heard: decoded PCM per RTP packet, with arrival times."""

    frames: list[tuple[float, int, bytes]] = field(default_factory=list)  # (arrival, payload type, payload)

    def pcm(self, payload_type: int = 0) -> np.ndarray:
        """All audio frames of *payload_type*, decoded and joined."""
        decode = audioop.ulaw2lin if payload_type == 0 else audioop.alaw2lin
        data = b"".join(decode(p, 2) for _, pt, p in self.frames if pt == payload_type)
        return np.frombuffer(data, dtype=np.int16)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, on_packet: object) -> None:
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.on_packet(data, addr)  # type: ignore[operator]


class Phone:
    """One line: place a call, talk, listen, hang up."""

    def __init__(
        self,
        server_port: int,
        *,
        host: str = "127.0.0.1",
        user: str = "tester",
        realm: str = "127.0.0.1",
        password: str | None = None,
        server_host: str = "127.0.0.1",
    ) -> None:
        self.server = (server_host, server_port)
        self.host = host
        self.contact_host = ""  # what the Contact says instead of our address (a phone behind NAT: a private one)
        self.user = user
        self.realm = realm
        self.password = password
        self.call_id = uuid.uuid4().hex
        self.from_tag = uuid.uuid4().hex[:8]
        self.to_tag: str | None = None
        self.cseq = 0
        self.responses: asyncio.Queue[Response] = asyncio.Queue()
        self.requests: asyncio.Queue[Request] = asyncio.Queue()
        self.received = Received()
        self.remote_rtp: tuple[str, int] | None = None
        self.bye_at: float | None = None
        self.answered_at: float | None = None
        self.invite: Request | None = None
        self.remote_target = ""
        self.route_set: list[str] = []  # the dialog's, from a 2xx's Record-Route (a proxy in between)
        self._rtp_seq = 0
        self._rtp_ts = 0
        self._outgoing: bytes = b""
        self._dtmf: list[tuple[bytes, bool]] = []
        self._dtmf_ts = 0
        self._sender: asyncio.Task[None] | None = None
        self.sending = True
        self.payload_type = 0  # what we send: 0 PCMU, 8 PCMA
        self.codecs: list[tuple[int, str]] | None = None  # what our SDP offers or answers (default PCMU, PCMA)
        # being called: how to answer an INVITE (seconds until 200, or a status to refuse with)
        self.answer_after: float | None = None
        self.refuse_with: int | None = None
        self.invited: asyncio.Queue[Request] = asyncio.Queue()
        self.reinvites: list[str] = []
        self.ignore_cancel = False
        self.early_media = False  # answer an INVITE with 183 + SDP and audio first
        self.incoming: Request | None = None
        self.cancelled = asyncio.Event()
        self.acked = asyncio.Event()
        self._incoming_tag = uuid.uuid4().hex[:8]
        self._incoming_cseq = 0  # our requests within the call we answered

    @property
    def contact(self) -> str:
        """Our Contact: our own address, or ``contact_host`` (as a phone behind NAT gives its private one)."""
        host = self.contact_host or f"{self.host}:{self.sip_port}"
        return f"<sip:{self.user}@{host}>"

    async def start(self) -> Phone:
        return await self.start_on(0)

    async def start_on(self, sip_port: int) -> Phone:
        """Start with SIP on *sip_port* (0: any free port), e.g. where a device's static route points."""
        loop = asyncio.get_running_loop()
        self._sip, _ = await loop.create_datagram_endpoint(lambda: _Udp(self._on_sip), local_addr=(self.host, sip_port))
        self._rtp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self._on_rtp), local_addr=(self.host, 0))
        self.sip_port = self._sip.get_extra_info("sockname")[1]
        self.rtp_port = self._rtp.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        self._sip.close()
        self._rtp.close()

    # ---- SIP ---------------------------------------------------------------------------------

    def _on_sip(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        message = parse_message(data)
        if isinstance(message, Response):
            self.responses.put_nowait(message)
            return
        if message.method == "INVITE" and message.to.tag is None:
            self._on_invite(message)
        elif message.method == "INVITE":  # a re-INVITE: note the direction asked for, answer in kind
            offered = parse_sdp(message.body)
            self.reinvites.append(offered.media[0].direction or offered.direction or "sendrecv")
            self._send_response(message, 200, body=self.sdp())
        elif message.method == "CANCEL" and self.ignore_cancel:  # a phone too slow to take it: it answers anyway
            self._send_response(message, 481)
        elif message.method == "CANCEL":
            self._send_response(message, 200)
            if self.incoming is not None and not self.acked.is_set():
                self._send_response(self.incoming, 487, tag=self._incoming_tag)
                self.cancelled.set()
        elif message.method == "ACK":
            self.acked.set()
        elif message.method == "BYE":
            self.bye_at = time.monotonic()
            self._send_response(message, 200)
            if self._sender is not None:
                self._sender.cancel()
        elif message.method in ("OPTIONS", "INFO", "NOTIFY"):
            self._send_response(message, 200)
        self.requests.put_nowait(message)

    def _send_response(self, request: Request, status: int, *, tag: str | None = None, body: bytes = b"") -> None:
        headers = Headers(
            [
                *(("Via", value) for value in request.headers.get_lines("Via")),  # a proxy's too
                *((n, request.headers.get(n) or "") for n in ("From", "To", "Call-ID", "CSeq")),
                *(("Record-Route", value) for value in request.headers.get_lines("Record-Route")),
            ]
        )
        if tag is not None and request.to.tag is None:
            headers.set("To", f"{request.headers.get('To')};tag={tag}")
        if body:
            headers.add("Contact", self.contact)
            headers.add("Content-Type", "application/sdp")
        response = Response(headers=headers, body=body, status=status, reason="OK")
        self._sip.sendto(response.serialize(), self.server)

    def _on_invite(self, invite: Request) -> None:
        """Being called: ring, then answer or refuse as set up (``answer_after``, ``refuse_with``)."""
        if self.incoming is not None and invite.call_id == self.incoming.call_id:
            return  # a retransmission
        self.incoming = invite
        self.invited.put_nowait(invite)
        if self.early_media:  # 183 with our SDP, and our audio flows before we answer
            self._media_towards(invite)
            self._send_response(invite, 183, tag=self._incoming_tag, body=self.sdp())
        else:
            self._send_response(invite, 180, tag=self._incoming_tag)
        if self.refuse_with is not None:
            self._send_response(invite, self.refuse_with, tag=self._incoming_tag)
        elif self.answer_after is not None:
            asyncio.get_running_loop().call_later(self.answer_after, self.answer_incoming)

    def answer_incoming(self) -> None:
        """Answer the INVITE we are ringing for with our SDP, and start sending audio."""
        invite = self.incoming
        if invite is None or self.cancelled.is_set():
            return
        self._media_towards(invite)
        self._send_response(invite, 200, tag=self._incoming_tag, body=self.sdp())
        self.answered_at = time.monotonic()

    def _media_towards(self, invite: Request) -> None:
        offer = parse_sdp(invite.body)
        self.remote_rtp = (offer.media[0].connection or offer.connection or "127.0.0.1", offer.media[0].port)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_rtp())

    def _incoming_request(self, method: str, extra: list[tuple[str, str]] | None = None) -> Request:
        """A request of ours within the call we answered."""
        invite = self.incoming
        assert invite is not None
        self._incoming_cseq += 1
        headers = Headers(
            [
                ("Via", f"SIP/2.0/UDP {self.host}:{self.sip_port};rport;branch=z9hG4bK{uuid.uuid4().hex}"),
                ("Max-Forwards", "70"),
                ("From", f"{invite.headers.get('To')};tag={self._incoming_tag}"),
                ("To", invite.headers.get("From") or ""),
                ("Call-ID", invite.call_id),
                ("CSeq", f"{self._incoming_cseq} {method}"),
                *(("Route", hop) for hop in invite.headers.get_lines("Record-Route")),  # a proxy in between
                *(extra or []),
            ]
        )
        return Request(headers=headers, method=method, uri=str(invite.contacts[0].uri))

    async def hangup_incoming(self) -> None:
        """BYE the call we answered."""
        self.send(self._incoming_request("BYE"))
        if self._sender is not None:
            self._sender.cancel()
        await self.final()

    async def reinvite_incoming(self, direction: str) -> Response:
        """Hold (``sendonly``) or resume (``sendrecv``) the call we answered."""
        contact = self.contact
        request = self._incoming_request("INVITE", [("Contact", contact), ("Content-Type", "application/sdp")])
        request = Request(headers=request.headers, body=self.sdp(direction=direction), method="INVITE", uri=request.uri)
        self.send(request)
        response = await self.final()
        ack = self._incoming_request("ACK")
        ack.headers.set("CSeq", f"{request.cseq.number} ACK")
        self._incoming_cseq -= 1  # an ACK takes its INVITE's number
        self.send(Request(headers=ack.headers, method="ACK", uri=str(response.contacts[0].uri)))
        return response

    async def refer_incoming(self, target: str) -> Response:
        """Transfer the call we answered to *target* (a blind REFER); the REFER's final response."""
        contact = self.contact
        self.send(self._incoming_request("REFER", [("Refer-To", f"<{target}>"), ("Contact", contact)]))
        return await self.final()

    async def register(self, password: str, expires: int = 300) -> Response:
        """REGISTER this phone's contact as ``user@realm`` (answering the 401)."""
        uri = f"sip:{self.realm}"
        request = self.request("REGISTER", uri, extra=[("Expires", str(expires)), ("Supported", "path")])
        request.headers.set("To", f"<sip:{self.user}@{self.realm}>")
        self.send(request)
        response = await self.final()
        if response.status == 401:
            challenge = response.headers.get_lines("WWW-Authenticate")[-1]
            auth = answer_challenge(challenge, "REGISTER", uri, self.user, password)
            extra = [("Expires", str(expires)), ("Supported", "path"), ("Authorization", auth)]
            request = self.request("REGISTER", uri, extra=extra)
            request.headers.set("To", f"<sip:{self.user}@{self.realm}>")
            self.send(request)
            response = await self.final()
        return response

    def sdp(
        self, payloads: list[tuple[int, str]] | None = None, direction: str = "sendrecv", dtmf: bool = True
    ) -> bytes:
        payloads = payloads if payloads is not None else self.codecs or [(0, "PCMU"), (8, "PCMA")]
        formats = " ".join([str(pt) for pt, _ in payloads] + (["101"] if dtmf else []))
        lines = [
            "v=0",
            f"o=phone 1 {self.cseq} IN IP4 {self.host}",
            "s=-",
            f"c=IN IP4 {self.host}",
            "t=0 0",
            f"m=audio {self.rtp_port} RTP/AVP {formats}",
        ]
        lines += [f"a=rtpmap:{pt} {name}/8000" for pt, name in payloads]
        if dtmf:
            lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"]
        lines += [f"a={direction}"]
        return ("\r\n".join(lines) + "\r\n").encode()

    def request(
        self,
        method: str,
        uri: str,
        body: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
        cseq: int | None = None,
    ) -> Request:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        to = f"<sip:{uri.split(':', 1)[1].split('@')[0]}@{self.realm}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        headers = Headers(
            [
                ("Via", f"SIP/2.0/UDP {self.host}:{self.sip_port};rport;branch=z9hG4bK{uuid.uuid4().hex}"),
                ("Max-Forwards", "70"),
                *(("Route", hop) for hop in (self.route_set if self.to_tag else ())),
                ("From", f"<sip:{self.user}@{self.realm}>;tag={self.from_tag}"),
                ("To", to),
                ("Call-ID", self.call_id),
                ("CSeq", f"{cseq} {method}"),
                ("Contact", self.contact),
                *(extra or []),
            ]
        )
        if body:
            headers.add("Content-Type", "application/sdp")
        return Request(headers=headers, body=body, method=method, uri=uri)

    def send(self, request: Request) -> None:
        self._sip.sendto(request.serialize(), self.server)

    async def _final_of(self, invite: Request, timeout: float) -> Response:
        """The final response to *invite*, sent again as a phone does over UDP (RFC 3261 Timer A: 0.5 s, doubling)
        until anything is answered."""
        deadline = time.monotonic() + timeout
        interval, answered = 0.5, False
        self.send(invite)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no final response")
            try:
                response = await asyncio.wait_for(self.responses.get(), left if answered else min(interval, left))
            except TimeoutError:
                if answered:
                    raise
                self.send(invite)
                interval = min(2 * interval, 4.0)
                continue
            answered = True
            if response.status >= 200:
                return response

    async def final(self, timeout: float = 10.0) -> Response:
        """The next final response."""
        while True:
            response = await asyncio.wait_for(self.responses.get(), timeout)
            if response.status >= 200:
                return response

    async def call(
        self,
        number: str,
        *,
        body: bytes | None = None,
        answer_sdp: bytes | None = None,
        timeout: float = 10.0,
        extra: list[tuple[str, str]] | None = None,
    ) -> Response:
        """INVITE *number* (with *extra* headers); answers a 407; on 200 sends the ACK and starts sending audio."""
        uri = f"sip:{number}@{self.server[0]}:{self.server[1]}"
        offer = self.sdp() if body is None else body
        invite = self.request("INVITE", uri, offer, extra)
        self.invite = invite
        response = await self._final_of(invite, timeout)
        if response.status == 407 and self.password:
            self._ack_failure(invite, response)
            challenge = response.headers.get_lines("Proxy-Authenticate")[-1]  # MD5 is offered last
            auth = answer_challenge(challenge, "INVITE", uri, self.user, self.password)
            invite = self.request("INVITE", uri, offer, [("Proxy-Authorization", auth)])
            self.invite = invite
            response = await self._final_of(invite, timeout)
        if response.status >= 300:
            self._ack_failure(invite, response)
            return response
        self.to_tag = response.to.tag
        self.remote_target = str(response.contacts[0].uri)
        self.route_set = list(reversed(response.headers.get_lines("Record-Route")))
        self.answered_at = time.monotonic()
        if response.body:
            media = parse_sdp(response.body)
            address = media.media[0].connection or media.connection or "127.0.0.1"
            self.remote_rtp = (address, media.media[0].port)
        late_answer = (answer_sdp or self.sdp()) if not offer else b""
        ack = self.request("ACK", self.remote_target, late_answer, cseq=invite.cseq.number)
        self.send(ack)
        self._sender = asyncio.get_running_loop().create_task(self._send_rtp())
        return response

    def _ack_failure(self, invite: Request, response: Response) -> None:
        headers = Headers(
            [
                ("Via", invite.headers.get("Via") or ""),
                ("Max-Forwards", "70"),
                ("From", invite.headers.get("From") or ""),
                ("To", response.headers.get("To") or ""),
                ("Call-ID", self.call_id),
                ("CSeq", f"{invite.cseq.number} ACK"),
            ]
        )
        self.send(Request(headers=headers, method="ACK", uri=invite.uri))

    async def cancel(self) -> Response:
        """CANCEL the pending INVITE; returns the INVITE's final response."""
        assert self.invite is not None
        headers = Headers([(n, self.invite.headers.get(n) or "") for n in ("Via", "From", "To", "Call-ID")])
        headers.add("Max-Forwards", "70")
        headers.add("CSeq", f"{self.invite.cseq.number} CANCEL")
        self.send(Request(headers=headers, method="CANCEL", uri=self.invite.uri))
        return await self.final()

    async def reinvite(self, direction: str) -> Response:
        """Hold (sendonly) or resume (sendrecv)."""
        request = self.request("INVITE", self.remote_target, self.sdp(direction=direction))
        self.send(request)
        response = await self.final()
        self.send(self.request("ACK", self.remote_target, cseq=request.cseq.number))
        return response

    async def move_media(self) -> Response:
        """Re-INVITE from a new RTP port and send from there (an address change mid-call)."""
        loop = asyncio.get_running_loop()
        old = self._rtp
        self._rtp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self._on_rtp), local_addr=(self.host, 0))
        self.rtp_port = self._rtp.get_extra_info("sockname")[1]
        old.close()
        request = self.request("INVITE", self.remote_target, self.sdp())
        self.send(request)
        response = await self.final()
        self.send(self.request("ACK", self.remote_target, cseq=request.cseq.number))
        return response

    async def hangup(self) -> Response:
        request = self.request("BYE", self.remote_target)
        self.send(request)
        if self._sender is not None:
            self._sender.cancel()
        return await self.final()

    async def refer(self, target: str) -> Response:
        """Transfer the party of the call we placed to *target* (a REFER in our own dialog); its final response."""
        self.send(self.request("REFER", self.remote_target, extra=[("Refer-To", f"<{target}>")]))
        return await self.final()

    async def info_digit(self, digit: str) -> Response:
        request = self.request("INFO", self.remote_target, b"")
        request.headers.add("Content-Type", "application/dtmf-relay")
        request.body = f"Signal={digit}\r\nDuration=160\r\n".encode()
        self.send(request)
        return await self.final()

    async def wait_bye(self, timeout: float = 30.0) -> float:
        """Wait until calltape hangs up; returns when the BYE came."""
        deadline = time.monotonic() + timeout
        while self.bye_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError("no BYE")
            await asyncio.sleep(0.02)
        return self.bye_at

    # ---- RTP ---------------------------------------------------------------------------------

    def _on_rtp(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        header = parse_rtp(data)
        if header is not None:
            self.received.frames.append(
                (time.monotonic(), header.payload_type, data[header.payload_start : header.payload_end])
            )

    def say_pcm(self, pcm: bytes) -> None:
        """Audio to send (8 kHz PCM); silence when it runs out."""
        self._outgoing += pcm

    def send_digits(self, digits: str) -> None:
        """RFC 4733 events on the RTP stream."""
        for digit in digits:
            self._dtmf += event_payloads(digit, 100)
            self._dtmf += [(b"", False)] * 3  # a gap between digits

    async def _send_rtp(self) -> None:
        start = time.monotonic()
        n = 0
        ssrc = 0x1234
        while True:
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
            if self.remote_rtp is None or not self.sending:
                continue
            ts = self._rtp_ts
            self._rtp_ts += 160
            self._rtp_seq += 1
            if self._dtmf:
                payload, marker = self._dtmf.pop(0)
                if marker:
                    self._dtmf_ts = ts
                if payload:
                    self._rtp.sendto(
                        build_rtp(101, self._rtp_seq, self._dtmf_ts, ssrc, payload, marker), self.remote_rtp
                    )
                    continue
            pcm, self._outgoing = self._outgoing[:320], self._outgoing[320:]
            encode = audioop.lin2alaw if self.payload_type == 8 else audioop.lin2ulaw
            frame = encode(pcm.ljust(320, b"\x00"), 2)
            self._rtp.sendto(build_rtp(self.payload_type, self._rtp_seq, ts, ssrc, frame), self.remote_rtp)
