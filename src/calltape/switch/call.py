"""An inbound call (the A-leg) and the Call API that callflow modules drive it with."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from calltape.callflow.call_api import CallEndedError
from calltape.logs import throttle
from calltape.media.g711 import codec_for
from calltape.media.sdp import Negotiated, SdpError, answer_sdp, negotiate, offer_sdp, parse_sdp
from calltape.media.session import RtpSession
from calltape.media.sources import TONES, tone
from calltape.sip.dialog import Dialog
from calltape.sip.events import Peer
from calltape.sip.message import Request
from calltape.sip.responses import make_response
from calltape.sip.syntax import text_of
from calltape.sip.transaction import ServerTransaction

if TYPE_CHECKING:
    from calltape.switch.calls import CallControl

log = logging.getLogger(__name__)

T = TypeVar("T")
ACK_WAIT = 32.0  # 64*T1: how long a late-offer answer may take to arrive in the ACK


@dataclass(frozen=True)
class CallParty:
    """Who is calling, as far as SIP says."""

    number: str
    name: str


class Call:
    """One inbound call: answer, play, say, collect digits, hang up; ends when either side hangs up."""

    def __init__(
        self,
        control: CallControl,
        request: Request,
        transaction: ServerTransaction,
        peer: Peer,
        account_id: str,
        number: str,
        negotiated: Negotiated | None,
        local_address: str,
    ) -> None:
        self.control = control
        self.request = request
        self.transaction = transaction
        self.peer = peer
        self.call_id = request.call_id
        self.account_id = account_id
        self.number = number
        from_ = request.from_
        self.caller = CallParty(getattr(from_.uri, "user", None) or "", text_of(from_.display_name or ""))
        self.variables: dict[str, Any] = {}
        self.started_at = asyncio.get_running_loop().time()
        self.negotiated = negotiated
        self.local_address = local_address
        self.session_id = str(abs(hash(self.call_id)) % 2**31)
        self.sdp_version = 1
        self.media: RtpSession | None = None
        self.dialog: Dialog | None = None
        self.answered = False
        self.ended = asyncio.Event()
        self.end_reason = ""
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self._ack = asyncio.Event()
        self._ack_body = b""
        self._hung_up = False

    # ---- the Call API --------------------------------------------------------------------------

    async def answer(self) -> None:
        """Answer with 200 OK and start the media."""
        if self.answered:
            return
        self._check_live()
        sock = self.control.ports.acquire()
        try:
            await self._answer_on(sock)
        except BaseException:
            if self.media is None:  # the port never got its session: give it back
                port = int(sock.getsockname()[1])
                sock.close()
                self.control.ports.release(port)
            raise

    async def _answer_on(self, sock: socket.socket) -> None:
        control = self.control
        port = int(sock.getsockname()[1])
        body = (
            answer_sdp(self.negotiated, self.local_address, port, self.session_id, self.sdp_version)
            if self.negotiated
            else offer_sdp(self.local_address, port, self.session_id, self.sdp_version)
        )
        contact = control.contact_for(self.peer, self.local_address)
        headers = [("Contact", contact), ("Allow", control.allow_header), ("Content-Type", "application/sdp")]
        response = make_response(self.request, 200, to_tag=self.transaction.to_tag, headers=headers, body=body)
        self.dialog = Dialog.as_uas(self.request, self.transaction.to_tag, contact)
        control.register_dialog(self)
        control.transport.respond(self.transaction, response)
        self.answered = True
        if self.negotiated is None:  # late offer: the answer comes in the ACK
            try:
                await self._wait(asyncio.wait_for(self._ack.wait(), ACK_WAIT))
            except TimeoutError:  # the ACK with our answer never came (the core also reports AckTimedOut)
                await self.hangup()
                raise CallEndedError() from None
            try:
                self.negotiated = negotiate(parse_sdp(self._ack_body), self.control.ports.families)
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
                raise CallEndedError() from None
        negotiated = self.negotiated
        self.media = RtpSession(
            sock,
            codec_for(negotiated.codec, negotiated.payload_type),
            negotiated.dtmf_payload_type,
            (negotiated.remote_address, negotiated.remote_port),
            control.clock,
            call_id=self.call_id,
        )
        self.media.sending = not negotiated.on_hold
        self.media.on_digit = self.digits.put_nowait
        self.media.on_failure = lambda _error: self.control.spawn(self.hangup())
        await self.media.start()
        log.debug(
            "call-id %s: answered (%s, RTP %d ↔ %s:%d)",
            self.call_id,
            negotiated.codec,
            port,
            negotiated.remote_address,
            negotiated.remote_port,
        )

    async def say(self, text: str, voice: str = "female", language: str = "en-us") -> None:
        """Speak *text* (rendered once, then cached)."""
        await self.answer()
        pcm = await self._wait(self.control.tts.render(text, voice, language))
        await self.play_pcm(pcm)

    async def play_media(self, media: str) -> None:
        """Play an uploaded media id or an http(s) URL."""
        await self.answer()
        pcm = await self._wait(self.control.media_library.pcm(self.account_id, media))
        if pcm is None:
            log.warning("call-id %s: media %s not found, skipping", self.call_id, media)
            return
        await self.play_pcm(pcm)

    async def play_tone(self, name: str | None, frequencies: tuple[float, ...], seconds: float) -> None:
        """A named tone, or *frequencies* for *seconds*."""
        await self.answer()
        await self.play_pcm(TONES[name]() if name else tone(frequencies, seconds))

    async def play_pcm(self, pcm: bytes) -> None:
        """Send 8 kHz mono PCM; returns when it has all gone out."""
        await self.answer()
        assert self.media is not None
        await self._wait(self.media.play(pcm))

    async def sleep(self, seconds: float) -> None:
        """Wait (ends early with CallEndedError if the call ends)."""
        await self._wait(asyncio.sleep(seconds))

    async def collect_digits(self, max_digits: int, timeout: float, terminators: str = "#") -> str:
        """Digits until *max_digits*, a terminator, or *timeout* seconds without a key."""
        await self.answer()
        collected = ""
        while len(collected) < max_digits:
            try:
                digit = await self._wait(asyncio.wait_for(self.digits.get(), timeout))
            except TimeoutError:
                break
            if digit in terminators:
                break
            collected += digit
        log.debug("call-id %s: collected %r", self.call_id, collected)
        return collected

    async def echo(self, seconds: float | None) -> None:
        """Send the caller's audio back to them, for *seconds* or until they hang up."""
        await self.answer()
        assert self.media is not None
        self.media.echo(True)
        try:
            if seconds is None:
                await self.ended.wait()
                raise CallEndedError()
            await self.sleep(seconds)
        finally:
            self.media.echo(False)

    async def hangup(self, status: int = 480) -> None:
        """BYE if answered; a final *status* if not; nothing if the far end already left."""
        if self._hung_up:
            return
        self._hung_up = True
        if not self.ended.is_set():
            if self.answered and self.dialog is not None:
                self.control.send_bye(self)
            elif not self.transaction.final_sent:
                response = make_response(self.request, status, to_tag=self.transaction.to_tag)
                self.control.transport.respond(self.transaction, response)
        self._end("hangup" if not self.end_reason else self.end_reason)

    async def wait_hangup(self) -> None:
        """Until the call ends."""
        await self.ended.wait()

    # ---- events from the SIP side ------------------------------------------------------------

    def far_end_hung_up(self, reason: str) -> None:
        """The caller sent BYE, cancelled, or went silent."""
        log.debug("call-id %s: ended by the far end (%s)", self.call_id, reason)
        self._hung_up = True
        self._end(reason)

    def ack_received(self, ack: Request) -> None:
        """The ACK of our 200 (it carries the SDP answer after a late offer)."""
        self._ack_body = ack.body
        self._ack.set()

    def reoffer(self, offer: bytes) -> bytes:
        """A re-INVITE's SDP: hold/unhold or a new address. Returns our answer."""
        negotiated = negotiate(parse_sdp(offer), self.control.ports.families)
        self.negotiated = negotiated
        self.sdp_version += 1
        assert self.media is not None
        if (negotiated.remote_address, negotiated.remote_port) != self.media.remote and not negotiated.on_hold:
            self.media.latched = None  # the far end moved: latch again
            self.media.remote = (negotiated.remote_address, negotiated.remote_port)
        self.media.sending = not negotiated.on_hold
        log.info("call-id %s: re-INVITE (%s)", self.call_id, "hold" if negotiated.on_hold else "active")
        return answer_sdp(negotiated, self.local_address, self.media.port, self.session_id, self.sdp_version)

    # ---- helpers -----------------------------------------------------------------------------

    def _end(self, reason: str) -> None:
        if self.ended.is_set():
            return
        self.end_reason = reason
        self.ended.set()
        seconds = asyncio.get_running_loop().time() - self.started_at
        state = "answered" if self.answered else "not answered"
        log.info("call-id %s: ended (%s) after %.1f s, %s", self.call_id, reason, seconds, state)
        if self.media is not None:
            self.media.close()
            self.control.ports.release(self.media.port)
        self.control.forget(self)

    def _check_live(self) -> None:
        if self.ended.is_set():
            raise CallEndedError()

    async def _wait(self, awaitable: Awaitable[T]) -> T:
        """Await *awaitable* unless the call ends first (then CallEndedError)."""
        if self.ended.is_set():
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started: closed, so it is not reported as never awaited
            raise CallEndedError()
        task = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise CallEndedError()
        return task.result()
