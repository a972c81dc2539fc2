"""A call — what a callflow runs on: its A-leg, the legs bridged to it, its variables, DTMF and end hooks.

The Call API (answer, say, play, collect digits, echo, hang up) drives the A-leg; modules never see
SIP or RTP. The call ends when its A-leg ends, whatever ends it, and then runs its end hooks once.

The A-leg is the party the callflow talks to: the caller's inbound leg, until the caller transfers the party it
is bridged to (``switch/transfer.py``); that transferee is then the A-leg, and the call, its recordings and
its flow go on with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from calltape.media.clock import MediaTimeline
from calltape.media.ports import PortsExhaustedError
from calltape.media.session import RtpSession
from calltape.media.sources import TONES, load_pcm, tone
from calltape.media.taps import Taps
from calltape.recording import names
from calltape.recording.call_recordings import CallRecordings
from calltape.recording.caller_recorder import SILENCE_LEVEL, Recorded
from calltape.recording.metadata import CallFacts, Transfer
from calltape.recording.request import RecordingRequest
from calltape.recording.spool import WavSpool
from calltape.sip.syntax import text_of
from calltape.switch.bridging import bridge
from calltape.switch.call_facts import call_facts
from calltape.switch.call_types import BridgeFailure, CallEndedError, CallParty, Endpoint, OffnetRequest, RingOptions
from calltape.switch.carriers import bridge_offnet
from calltape.switch.digits import DigitBus, collect
from calltape.switch.directory import AccountDocuments, Mailboxes
from calltape.switch.feature_codes import FeatureCodes
from calltape.switch.hold_music import HoldMusic
from calltape.switch.leg import InboundLeg, Leg, LegEndedError
from calltape.switch.services import CallServices
from calltape.switch.transfer import Joined
from calltape.switch.waiting import unless_ended

log = logging.getLogger(__name__)
RECORDING_BEEP = tone((1400.0,), 0.2)  # what beep_interval plays


T = TypeVar("T")


class Call:
    """One call: answer, play, say, collect digits, echo, hang up; ends when its A-leg ends."""

    def __init__(self, a_leg: InboundLeg, services: CallServices, account_id: str, number: str) -> None:
        self.inbound = a_leg  # the caller's leg, whose INVITE made the call (answered, refused, rung through it)
        self.a_leg: Leg = a_leg  # the party: the caller's leg, or the transferee that took its place
        self.services = services
        self.call_id = a_leg.call_id
        self.account_id = account_id
        self.number = number
        from_ = a_leg.request.from_
        self.caller = CallParty(getattr(from_.uri, "user", None) or "", text_of(from_.display_name or ""))
        self.variables: dict[str, Any] = {}
        self.caller_device_id: str | None = None  # the device that placed the call, if a device did
        self.forward_hops: int | None = None  # set when the call is a forward (from caller_device_id)
        self.callflow_name = ""
        self.children: tuple[str, ...] = ()  # the running node's branches
        self.transfers: list[Transfer] = []  # the caller's transfers, for the recordings' metadata
        self.joined: Joined | None = None  # the bridge as it stands (switch/transfer.py)
        self.hold_music = HoldMusic(services, account_id, lambda: self.caller_device_id)
        self.legs: list[Leg] = []  # legs bridged to the A-leg
        self.taps = Taps()  # fed by the A-leg's media: what the caller says ("in") and hears ("out")
        self.answered_event = asyncio.Event()
        self.bridged = asyncio.Event()
        self.dtmf = DigitBus()
        self.codes: FeatureCodes | None = None  # the account's metaflows, once feature_codes() read them
        self._codes_read = False
        self.digits = self.dtmf.subscribe()  # the callflow's own: digits typed ahead wait here for collect_digits
        self.ended = asyncio.Event()
        self.end_reason = ""
        self._loop = asyncio.get_running_loop()
        self.started_at = self._loop.time()
        self._timeline: MediaTimeline | None = None
        self._end_hooks: list[Callable[[Call], None]] = []
        self.interaction_id = f"{names.gregorian(time.time())}-{uuid.uuid4().hex[:8]}"
        self.recordings = CallRecordings(
            services.recordings,
            self.call_id,
            self.taps,
            lambda: self.timeline,
            lambda: self.a_leg.media is not None,
            self.facts,
            self.dtmf,
            self.answered_event,
            self.bridged,
            self.ended,
        )
        self.recordings.announcer = self.announce
        self.recordings.beeper = self.beep
        a_leg.taps = self.taps
        a_leg.on_digit = self.dtmf.publish
        a_leg.on_end(self.party_ended)

    @property
    def timeline(self) -> MediaTimeline:
        """The call's media time (samples since its media began), shared by every leg's taps."""
        if self._timeline is None:
            self._timeline = MediaTimeline(self._loop.time())
        return self._timeline

    @property
    def mailboxes(self) -> Mailboxes:
        """Voicemail boxes (for the ``voicemail`` module)."""
        return self.services.mailboxes

    @property
    def documents(self) -> AccountDocuments:
        """The account's menus, groups, temporal rules, … (for the routing modules)."""
        return self.services.documents

    def now(self) -> float:
        """Unix time by the node's clock."""
        return self.services.wall_clock()

    async def caller_owner_id(self) -> str | None:
        """The user who owns the calling device, if a device of ours calls."""
        if self.caller_device_id is None:
            return None
        return await self.services.endpoints.owner_of(self.account_id, self.caller_device_id)

    @property
    def answered(self) -> bool:
        """True once the A-leg was answered."""
        return self.a_leg.answered

    def on_end(self, hook: Callable[[Call], None]) -> None:
        """Run *hook* once when the call ends (BYE either side, CANCEL, RTP timeout, shutdown, error)."""
        if self.ended.is_set():
            hook(self)
        else:
            self._end_hooks.append(hook)

    # ---- the Call API --------------------------------------------------------------------------

    async def answer(self) -> None:
        """Answer with 200 OK and start the media."""
        if self.a_leg.dialog is not None:
            return
        self.inbound.timeline = self.timeline
        try:
            await self.wait_unless_ended(self.inbound.answer())
        except LegEndedError:
            raise CallEndedError() from None
        self.answered_event.set()

    async def say(self, text: str, voice: str = "female", language: str = "en-us") -> None:
        """Speak *text* (rendered once, then cached)."""
        await self.answer()
        pcm = await self.wait_unless_ended(self.services.tts.render(text, voice, language))
        await self.play_pcm(pcm)

    async def play_media(self, media: str) -> None:
        """Play an uploaded media id or an http(s) URL."""
        await self.play_prompt(media)

    async def prompt_pcm(self, prompt: str) -> bytes | None:
        """A prompt's audio: ``tts://text`` spoken, else a media id or URL (None if it cannot be found)."""
        if prompt.startswith("tts://"):
            return await self.wait_unless_ended(self.services.tts.render(prompt[6:], "female", "en-us"))
        pcm = await self.wait_unless_ended(self.services.media_library.pcm(self.account_id, prompt))
        if pcm is None:
            log.warning("call-id %s: media %s not found, skipping", self.call_id, prompt)
        return pcm

    async def announce(self, prompt: str) -> bool:
        """Play *prompt* to every party of the call now: both sides of its bridge (taken off it meanwhile), or
        the caller; False if it could not be found."""
        pcm = await self.prompt_pcm(prompt)
        if pcm is not None:
            await self._to_every_party(pcm)
        return pcm is not None

    async def beep(self) -> None:
        """The recording beep (``beep_interval``) to every party now."""
        await self._to_every_party(RECORDING_BEEP)

    async def _to_every_party(self, pcm: bytes) -> None:
        bridge = self.joined.bridge if self.joined is not None else None
        if bridge is not None:
            await self.wait_unless_ended(bridge.play_to_both(pcm))
        elif self.a_leg.media is not None:
            await self.wait_unless_ended(self.a_leg.media.play(pcm))

    async def bridge_offnet(self, request: OffnetRequest) -> BridgeFailure:
        """Call out through carriers and bridge the answer until the call ends (``switch/carriers.py``)."""
        return await bridge_offnet(self, request)

    async def play_prompt(self, prompt: str) -> None:
        """Play a media id, an http(s) URL or ``tts://text``."""
        await self.answer()
        pcm = await self.prompt_pcm(prompt)
        if pcm:
            await self.play_pcm(pcm)

    async def collect_during(
        self, prompt: str | None, max_digits: int, timeout: float, interdigit: float, terminators: str = "#"
    ) -> str:
        """Play *prompt* while collecting digits: the first key stops it; then *timeout* seconds for the first key
        and *interdigit* seconds between keys."""
        media = await self._answered_media()
        pcm = await self.prompt_pcm(prompt) if prompt else None
        first = asyncio.ensure_future(self.digits.get())
        try:
            if pcm:
                played: asyncio.Future[Any] = media.play(pcm)
                await self.wait_unless_ended(asyncio.wait({played, first}, return_when=asyncio.FIRST_COMPLETED))
                media.stop_playing()
            return await collect(
                self.digits, max_digits, timeout, interdigit, terminators, self.wait_unless_ended, first
            )
        finally:
            first.cancel()

    async def respond(self, status: int, reason: str | None, prompt: str | None) -> None:
        """Refuse an unanswered call with *status* (*prompt* played first as early media); hang up an answered one."""
        if self.answered:
            await self.hangup()
            return
        if prompt:
            pcm = await self.prompt_pcm(prompt)
            try:
                await self.inbound.early_media()
            except (LegEndedError, PortsExhaustedError):
                raise CallEndedError() from None
            if pcm and self.a_leg.media is not None:
                await self.wait_unless_ended(self.a_leg.media.play(pcm))
        await self.a_leg.hangup(status, reason)

    async def play_tone(self, name: str | None, frequencies: tuple[float, ...], seconds: float) -> None:
        """A named tone, or *frequencies* for *seconds*."""
        await self.answer()
        await self.play_pcm(TONES[name]() if name else tone(frequencies, seconds))

    async def play_pcm(self, pcm: bytes) -> None:
        """Send 8 kHz mono PCM; returns when it has all gone out."""
        media = await self._answered_media()
        await self.wait_unless_ended(media.play(pcm))

    async def sleep(self, seconds: float) -> None:
        """Wait (ends early with CallEndedError if the call ends)."""
        await self.wait_unless_ended(asyncio.sleep(seconds))

    async def collect_digits(self, max_digits: int, timeout: float, terminators: str = "#") -> str:
        """Digits until *max_digits*, a terminator, or *timeout* seconds without a key."""
        await self.answer()
        return await collect(self.digits, max_digits, timeout, timeout, terminators, self.wait_unless_ended)

    async def echo(self, seconds: float | None) -> None:
        """Send the caller's audio back to them, for *seconds* or until they hang up: each packet goes back as it
        arrives (the leg relays to itself), as a bridge relays, so echo costs a receive and a send per packet."""
        media = await self._answered_media()
        media.relay_to(media)
        try:
            if seconds is None:
                await self.ended.wait()
                raise CallEndedError()
            await self.sleep(seconds)
        finally:
            media.relay_to(None)

    async def bridge(self, endpoints: list[Endpoint], options: RingOptions) -> BridgeFailure:
        """Ring *endpoints* and bridge the first to answer until the call ends (``switch/bridging.py``)."""
        return await bridge(self, endpoints, options)

    async def play_file(self, path: Path) -> None:
        """Play a WAV file of calltape's (8 kHz mono), e.g. a voicemail message."""
        await self.play_pcm(await asyncio.to_thread(load_pcm, path))

    async def record_caller(
        self, path: Path, *, max_seconds: float, silence_seconds: float | None, stop_keys: str = "#"
    ) -> Recorded:
        """Record what the caller says into a WAV at *path* until a key of *stop_keys*, silence, the limit or hangup."""
        await self._answered_media()
        spool = WavSpool(path)
        try:
            recorded = await self.recordings.record_caller(spool, max_seconds, silence_seconds, stop_keys)
        finally:
            spool.close()
            self._forget_typed_ahead()
        return recorded

    async def record_caller_to(
        self, request: RecordingRequest, silence_seconds: float | None, silence_threshold: int = SILENCE_LEVEL
    ) -> Recorded:
        """``record_caller``: record the caller until any key, silence, the limit or hangup; then deliver it."""
        await self._answered_media()
        try:
            return await self.recordings.record_caller_to(request, silence_seconds, silence_threshold)
        finally:
            self._forget_typed_ahead()

    def _forget_typed_ahead(self) -> None:
        """Keys pressed while recording belong to the recording, not to the next module."""
        while not self.digits.empty():
            self.digits.get_nowait()

    async def record_call(self, request: RecordingRequest, *, on_answer: bool = False, on_bridge: bool = False) -> None:
        """Start recording what the caller says and hears (now, or once answered or bridged)."""
        await self.recordings.record_call(request, on_answer=on_answer, on_bridge=on_bridge)

    async def stop_recordings(self) -> None:
        """End every ``record_call`` recording of the call."""
        await self.recordings.stop()

    @property
    def recording(self) -> bool:
        """True while a ``record_call`` recording runs or waits to start (its announcement, the answer, the
        bridge): a toggle then stops it."""
        return self.recordings.running

    async def feature_codes(self) -> FeatureCodes | None:
        """The account's metaflows for this call's bridges (read once per call)."""
        if not self._codes_read:
            self._codes_read = True
            account = await self.services.endpoints.account(self.account_id)
            self.codes = self.services.feature_codes(account, self)
        return self.codes

    def mask_recordings(self, masked: bool) -> None:
        """While masked, recordings take silence instead of the call's audio."""
        self.recordings.mask(masked)

    def pause_recordings(self, paused: bool) -> None:
        """While paused, recordings capture nothing (each file leaves the time out or keeps it silent)."""
        self.recordings.pause(paused)

    async def start_automatic_recordings(self) -> None:
        """At the start of the call: the account's and the calling device's ``call_recording`` settings."""
        await self.recordings.automatic.start(self.services.endpoints, self.account_id, self.caller_device_id)

    async def facts(self) -> CallFacts:
        """What a recording says about this call, as it stands now."""
        return await call_facts(self)

    async def hangup(self, status: int = 480) -> None:
        """End the call: every leg is hung up (BYE once answered, else the final *status*)."""
        for leg in [*self.legs, self.a_leg]:
            await leg.hangup(status)
        self.end(self.a_leg.end_reason or "hangup")  # ours: even a transferor's end, which its REFER set aside

    async def wait_hangup(self) -> None:
        """Until the call ends."""
        await self.ended.wait()

    # ---- helpers -----------------------------------------------------------------------------

    async def _answered_media(self) -> RtpSession:
        await self.answer()
        media = self.a_leg.media
        if media is None:
            raise CallEndedError()
        return media

    def party_ended(self, leg: Leg) -> None:
        """The party's leg ended: so does the call — unless the leg is no longer the party (it transferred its
        party, which took its place), or its REFER was accepted and the transfer is under way."""
        joined = self.joined
        if leg is self.a_leg and not (joined is not None and joined.transferring and joined.transferor is leg):
            self.end(leg.end_reason)

    def end(self, reason: str) -> None:
        """End the call now: the legs still up are hung up, the recordings finished, the end hooks run."""
        if self.ended.is_set():
            return
        self.end_reason = reason
        self.ended.set()
        seconds = self._loop.time() - self.started_at
        state = "answered" if self.answered else "not answered"
        log.info("call-id %s: ended (%s) after %.1f s, %s", self.call_id, reason, seconds, state)
        for leg in self.legs:  # what the other side said before the hangup belongs in the recording
            if leg.media is not None:
                leg.media.drain()
        self.recordings.end()
        for leg in self.legs:
            self.a_leg.host.spawn(leg.hangup())
        hooks, self._end_hooks = self._end_hooks, []
        for hook in hooks:
            try:
                hook(self)
            except Exception as exc:  # one hook's fault must not keep the others from running
                log.error("call-id %s: end hook failed: %r", self.call_id, exc)

    async def wait_unless_ended(self, awaitable: Awaitable[T]) -> T:
        """Await *awaitable* unless the call ends first (then CallEndedError)."""
        return await unless_ended(self.ended, awaitable)
