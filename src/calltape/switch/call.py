"""A call — what a callflow runs on: its A-leg, the legs bridged to it, its variables, DTMF and end hooks.

The Call API (answer, say, play, collect digits, echo, hang up) drives the A-leg; modules never see
SIP or RTP. The call ends when its A-leg ends, whatever ends it, and then runs its end hooks once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from calltape.callflow.call_api import (
    CallEndedError,
    CallParty,
    Endpoint,
    Mailboxes,
    Recorded,
    RingOptions,
)
from calltape.media.clock import MediaTimeline
from calltape.media.library import MediaLibrary
from calltape.media.ports import PortsExhaustedError
from calltape.media.session import RtpSession, Tap
from calltape.media.sources import TONES, cadence, load_pcm, tone
from calltape.media.tts import TtsCache
from calltape.recording import names
from calltape.recording.automatic import Direction, Network, RecordingLeaf, endpoint_leaf, leaf_for
from calltape.recording.caller_recorder import SILENCE_LEVEL, CallerRecorder
from calltape.recording.manager import RecordingError, RecordingManager
from calltape.recording.metadata import CallFacts
from calltape.recording.request import RecordingRequest
from calltape.recording.spool import AudioSpool, WavSpool
from calltape.sip.syntax import text_of
from calltape.sip.uri import SipUri, parse_uri
from calltape.switch.bridge import Bridge
from calltape.switch.call_recordings import CallRecordings
from calltape.switch.dialer import dial
from calltape.switch.digits import DigitBus
from calltape.switch.endpoints import Endpoints, TargetOptions
from calltape.switch.forwarding import CONFIRM_PROMPT, CONFIRM_SECONDS
from calltape.switch.leg import InboundLeg, Leg, LegEndedError
from calltape.switch.outbound import OutboundLeg, Target
from calltape.tasks import abandon

log = logging.getLogger(__name__)


async def _first_of(keys: asyncio.Queue[str], wanted: str) -> str:
    """The first key in *wanted* pressed."""
    while True:
        key = await keys.get()
        if key in wanted:
            return key


T = TypeVar("T")
ANY_KEY = "0123456789*#ABCD"


class CallServices(Protocol):
    """What a call's modules use beyond its legs."""

    tts: TtsCache
    media_library: MediaLibrary
    endpoints: Endpoints
    mailboxes: Mailboxes
    recordings: RecordingManager | None


class Call:
    """One call: answer, play, say, collect digits, echo, hang up; ends when its A-leg ends."""

    def __init__(self, a_leg: InboundLeg, services: CallServices, account_id: str, number: str) -> None:
        self.a_leg = a_leg
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
        self.legs: list[Leg] = []  # legs bridged to the A-leg
        self.taps: list[Tap] = []  # fed by the A-leg's media: what the caller says ("in") and hears ("out")
        self.answered_event = asyncio.Event()
        self.bridged = asyncio.Event()
        self.dtmf = DigitBus()
        self.digits = self.dtmf.subscribe()  # the callflow's own: digits typed ahead wait here for collect_digits
        self.ended = asyncio.Event()
        self.end_reason = ""
        self._loop = asyncio.get_running_loop()
        self.started_at = self._loop.time()
        self._timeline: MediaTimeline | None = None
        self._end_hooks: list[Callable[[Call], None]] = []
        self.interaction_id = f"{names.gregorian(time.time())}-{uuid.uuid4().hex[:8]}"
        self.recordings: CallRecordings | None = None  # made by the first record_call
        a_leg.taps = self.taps
        a_leg.on_digit = self.dtmf.publish
        a_leg.on_end(lambda leg: self._end(leg.end_reason))

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
        self.a_leg.timeline = self.timeline
        try:
            await self._wait(self.a_leg.answer())
        except LegEndedError:
            raise CallEndedError() from None
        self.answered_event.set()

    async def say(self, text: str, voice: str = "female", language: str = "en-us") -> None:
        """Speak *text* (rendered once, then cached)."""
        await self.answer()
        pcm = await self._wait(self.services.tts.render(text, voice, language))
        await self.play_pcm(pcm)

    async def play_media(self, media: str) -> None:
        """Play an uploaded media id or an http(s) URL."""
        await self.answer()
        pcm = await self._wait(self.services.media_library.pcm(self.account_id, media))
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
        media = await self._answered_media()
        await self._wait(media.play(pcm))

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

    async def bridge(self, endpoints: list[Endpoint], options: RingOptions) -> str | None:
        """Ring *endpoints*; the first to answer is bridged to the caller until either side hangs up, and then
        the call ends (CallEndedError: the flow does not continue, as in Kazoo). Nobody answered: ``"busy"``
        when every answer was busy, else None."""
        targets = await self._wait(self._targets(endpoints, options))
        if not targets:
            log.info("call-id %s: nothing to ring for %s", self.call_id, endpoints)
            return None
        ringback: asyncio.Future[None] | None = None
        early: list[Bridge] = []  # the caller hears a ringing phone's early media (183 with SDP)

        def ringing() -> None:
            nonlocal ringback
            if self.a_leg.dialog is None:
                self.a_leg.send_ringing()
            elif self.a_leg.media is not None:  # an answered caller hears ringback
                ringback = self.a_leg.media.play(cadence((440.0, 480.0), 2.0, 4.0, options.timeout))

        async def early_media(leg: OutboundLeg) -> None:
            if self.a_leg.dialog is not None:
                return  # answered already: the caller hears our ringback
            self.a_leg.timeline = self.timeline
            try:
                await self.a_leg.early_media()
            except (LegEndedError, PortsExhaustedError):
                return
            if self.a_leg.media is not None and leg.media is not None and not leg.ended.is_set() and not early:
                early.append(Bridge(self.a_leg, leg, self.dtmf.publish))

        outcome = await self._wait(
            dial(
                self.a_leg.host,
                targets,
                self.a_leg.local_address,
                timeout=options.timeout,
                strategy=options.strategy,
                on_ringing=ringing,
                on_early_media=lambda leg: self.a_leg.host.spawn(early_media(leg)),
                timeline=self.timeline,
                confirm=self._confirm,
            )
        )
        if ringback is not None and self.a_leg.media is not None:
            self.a_leg.media.stop_playing()
        if early and early[0].b is not outcome.leg:
            early.pop().unbridge()
        if outcome.leg is None:
            log.info("call-id %s: nobody answered (%d)", self.call_id, outcome.status)
            return "busy" if outcome.status == 486 else None
        callee = outcome.leg
        self.legs.append(callee)
        callee.on_end(lambda _leg: self.a_leg.host.spawn(self.a_leg.hangup()))
        try:
            await self.answer()
        except CallEndedError:
            await callee.hangup()
            raise
        if callee.ended.is_set() or callee.media is None or self.a_leg.media is None:
            raise CallEndedError()
        if not early:  # the phone that played early media is already bridged
            Bridge(self.a_leg, callee, self.dtmf.publish)
        self.bridged.set()
        if isinstance(callee, OutboundLeg) and callee.target.device_id:
            await self._record_automatically(callee.target.device_id, "inbound")
        log.info("call-id %s: bridged to %s (call-id %s)", self.call_id, callee.target.uri, callee.call_id)
        await self.ended.wait()
        raise CallEndedError()

    async def _targets(self, endpoints: list[Endpoint], options: RingOptions) -> list[Target]:
        finder = self.services.endpoints
        number, name = self.caller.number, self.caller.name
        if self.caller_device_id is not None and self.forward_hops is None:  # a device of ours calls: its caller ID
            number, name = await finder.caller_id_of(self.account_id, self.caller_device_id) or (number, name)
        ring = TargetOptions(
            caller_number=number,
            caller_name=name,
            caller_device_id=self.caller_device_id,
            can_call_self=options.can_call_self,
            suppress_clid=options.suppress_clid,
            custom_sip_headers=tuple(options.custom_sip_headers.items()),
            forward_hops=self.forward_hops or 0,
        )
        targets: list[Target] = []
        for endpoint in endpoints:
            lookup = finder.for_device if endpoint.kind == "device" else finder.for_user
            for target in await lookup(self.account_id, endpoint.id, ring):
                if not (target.sign and any(t.uri == target.uri for t in targets)):  # one forward per number
                    targets.append(target)
        return targets

    async def _confirm(self, leg: OutboundLeg) -> bool:
        """A forwarded call answered: whoever answered hears the prompt and must press 1 to take the call."""
        media = leg.media
        if media is None:
            return False
        pressed: asyncio.Queue[str] = asyncio.Queue()
        leg.on_digit = pressed.put_nowait
        try:
            prompt = await self.services.tts.render(CONFIRM_PROMPT, "female", "en-us")
            media.play(prompt)
            key = asyncio.ensure_future(pressed.get())
            gone = asyncio.ensure_future(leg.ended.wait())
            await asyncio.wait(
                {key, gone}, timeout=len(prompt) / 16000 + CONFIRM_SECONDS, return_when="FIRST_COMPLETED"
            )
            gone.cancel()
            key.cancel()
            accepted = key.done() and not key.cancelled() and key.result() == "1"
            log.info(
                "call-id %s: forwarded call %s by %s", self.call_id, "accepted" if accepted else "refused", leg.call_id
            )
            return accepted
        finally:
            leg.on_digit = None
            media.stop_playing()

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
            recorded = await self._record_caller(spool, max_seconds, silence_seconds, stop_keys)
        finally:
            spool.close()
        return recorded

    async def record_caller_to(
        self, request: RecordingRequest, silence_seconds: float | None, silence_threshold: int = SILENCE_LEVEL
    ) -> Recorded:
        """``record_caller``: record the caller until any key, silence, the limit or hangup; then deliver it."""
        manager = self.services.recordings
        await self._answered_media()
        recording = None
        if manager is not None:
            try:
                recording = await manager.open(await self.facts(), request, caller_only=True)
            except RecordingError as exc:
                log.error("call-id %s: record_caller: %s", self.call_id, exc)
                return Recorded(0.0, "not recorded")
        if manager is None or recording is None:
            log.info("call-id %s: record_caller: no url and nowhere to store the recording, not recorded", self.call_id)
            return Recorded(0.0, "not stored")
        started_at = time.time()
        spool = recording.spool
        assert spool is not None  # a caller-only recording is written as it comes
        try:
            recorded = await self._record_caller(
                spool, recording.limit_seconds, silence_seconds, ANY_KEY, silence_threshold
            )
        finally:  # whatever happens, what was recorded is finished and delivered
            manager.close(recording, spool.samples, started_at, recording.facts, "")
        return recorded

    async def _record_caller(
        self,
        spool: AudioSpool,
        max_seconds: float,
        silence_seconds: float | None,
        stop_keys: str,
        silence_threshold: int = SILENCE_LEVEL,
    ) -> Recorded:
        recorder = CallerRecorder(spool, max_seconds, silence_seconds, silence_threshold)
        keys = self.dtmf.subscribe()
        self.taps.append(recorder)
        key: str | None = None
        try:
            pressed = asyncio.ensure_future(_first_of(keys, stop_keys))
            others = [asyncio.ensure_future(recorder.stopped.wait()), asyncio.ensure_future(self.ended.wait())]
            await asyncio.wait([pressed, *others], return_when=asyncio.FIRST_COMPLETED)
            for task in (pressed, *others):
                task.cancel()
            if pressed.done() and not pressed.cancelled():
                key = pressed.result()
                recorder.stop("key")
            else:
                recorder.stop("hangup" if self.ended.is_set() else recorder.reason or "hangup")
        finally:
            if recorder in self.taps:
                self.taps.remove(recorder)
            self.dtmf.unsubscribe(keys)
            while not self.digits.empty():  # keys pressed while recording belong to the recording
                self.digits.get_nowait()
        log.info("call-id %s: recorded %.1f s of the caller (%s)", self.call_id, spool.seconds, recorder.reason)
        return Recorded(spool.seconds, recorder.reason, key)

    async def record_call(self, request: RecordingRequest, *, on_answer: bool = False, on_bridge: bool = False) -> None:
        """Start recording what the caller says and hears (now, or once answered or bridged)."""
        if self.recordings is None:
            if self.services.recordings is None:
                log.warning("call-id %s: recording is not available on this server", self.call_id)
                return
            self.recordings = CallRecordings(
                self.services.recordings,
                self.call_id,
                self.taps,
                lambda: self.timeline,
                lambda: self.a_leg.media is not None,
                self.facts,
            )
        event = self.answered_event if on_answer else self.bridged if on_bridge else None
        await self.recordings.start(request, None if event is None or event.is_set() else event)

    async def stop_recordings(self) -> None:
        """End every ``record_call`` recording of the call."""
        if self.recordings is not None:
            await self.recordings.stop()

    @property
    def recording(self) -> bool:
        """True while a ``record_call`` recording runs."""
        return self.recordings is not None and self.recordings.running

    def mask_recordings(self, masked: bool) -> None:
        """While masked, recordings take silence instead of the call's audio."""
        if self.recordings is not None:
            self.recordings.mask(masked)

    async def start_automatic_recordings(self) -> None:
        """At the start of the call: the account's ``call_recording`` for calls coming in, and the calling
        device's (or its owner's) for calls it places."""
        account = await self.services.endpoints.account(self.account_id)
        await self._record_by(leaf_for(account, "inbound", self._network), f"account inbound {self._network}")
        if self.caller_device_id is not None:
            await self._record_automatically(self.caller_device_id, "outbound")

    async def _record_automatically(self, device_id: str, direction: Direction) -> None:
        device, owner = await self.services.endpoints.device_and_owner(self.account_id, device_id)
        network = self._network if direction == "inbound" else "onnet"
        await self._record_by(endpoint_leaf(device, owner, direction, network), f"endpoint {direction} {network}")

    async def _record_by(self, leaf: RecordingLeaf | None, label: str) -> None:
        if leaf is not None:
            request = leaf.request(label=f"automatic {label}")
            await self.record_call(request, on_answer=leaf.record_on_answer, on_bridge=leaf.record_on_bridge)

    @property
    def _network(self) -> Network:
        """On-net when one of the account's devices placed the call, else off-net."""
        return "onnet" if self.caller_device_id is not None else "offnet"

    async def facts(self) -> CallFacts:
        """What a recording says about this call, as it stands now."""
        request = self.a_leg.request
        callee = next((leg for leg in self.legs if isinstance(leg, OutboundLeg)), None)
        owner_id = callee.target.owner_id if callee is not None else None
        if owner_id is None and self.caller_device_id is not None:
            owner_id = await self.services.endpoints.owner_of(self.account_id, self.caller_device_id)
        return CallFacts(
            call_id=self.call_id,
            account_id=self.account_id,
            from_=_user_at_host(request.from_.uri),
            to=_user_at_host(request.to.uri),
            request=_user_at_host(parse_uri(request.uri)),
            caller_id_number=self.caller.number,
            caller_id_name=self.caller.name,
            callee_id_number=self.number,
            owner_id=owner_id,
            endpoint_id=callee.target.device_id if callee is not None else self.caller_device_id,
            interaction_id=self.interaction_id,
            origin=f"callflow : {self.callflow_name}" if self.callflow_name else "callflow",
        )

    async def hangup(self, status: int = 480) -> None:
        """End the call: every leg is hung up (BYE once answered, else the final *status*)."""
        for leg in [*self.legs, self.a_leg]:
            await leg.hangup(status)

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

    def _end(self, reason: str) -> None:
        if self.ended.is_set():
            return
        self.end_reason = reason
        self.ended.set()
        seconds = self._loop.time() - self.started_at
        state = "answered" if self.answered else "not answered"
        log.info("call-id %s: ended (%s) after %.1f s, %s", self.call_id, reason, seconds, state)
        if self.recordings is not None:
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
        except BaseException:  # the callflow itself was cancelled (at shutdown): what it awaited goes too
            abandon(task)
            raise
        finally:
            ended.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise CallEndedError()
        return task.result()


def _user_at_host(uri: object) -> str:
    """``user@host`` of a SIP URI (Kazoo's ``from``, ``to`` and ``request``)."""
    if isinstance(uri, SipUri):
        return f"{uri.user_unescaped or ''}@{uri.host}" if uri.user_unescaped else uri.host
    return ""
