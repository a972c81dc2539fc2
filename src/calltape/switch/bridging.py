"""Bridging a call: ring its endpoints (ringback, early media, a forward's confirmation prompt) and connect the
first leg to answer to the caller's A-leg. Beside the dialer, which places and rings the legs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from calltape.media.clock import MediaTimeline
from calltape.media.ports import PortsExhaustedError
from calltape.media.sources import ringback as ringback_tone
from calltape.media.taps import Taps
from calltape.recording.call_recordings import CallRecordings
from calltape.recording.metadata import Transfer
from calltape.switch.bridge import Bridge
from calltape.switch.call_types import (
    BridgeFailure,
    CallEndedError,
    CallParty,
    Endpoint,
    EndpointKind,
    RingOptions,
)
from calltape.switch.dialer import dial
from calltape.switch.digits import DigitBus
from calltape.switch.endpoints import TargetOptions
from calltape.switch.feature_codes import FeatureCodes
from calltape.switch.forwarding import CONFIRM_PROMPT, CONFIRM_SECONDS
from calltape.switch.hold_music import HoldMusic
from calltape.switch.leg import InboundLeg, Leg, LegEndedError
from calltape.switch.outbound import OutboundLeg, Target
from calltape.switch.ringback import Ringback
from calltape.switch.services import CallServices
from calltape.switch.transfer import Joined, hang_up_caller_when_gone, stay_bridged

log = logging.getLogger(__name__)

T = TypeVar("T")


class BridgedCall(Protocol):
    """What bridging uses of a call."""

    call_id: str
    account_id: str
    number: str
    a_leg: Leg
    inbound: InboundLeg
    taps: Taps
    caller: CallParty
    caller_device_id: str | None
    forward_hops: int | None
    legs: list[Leg]
    transfers: list[Transfer]
    joined: Joined | None
    hold_music: HoldMusic
    variables: dict[str, Any]
    services: CallServices
    recordings: CallRecordings
    dtmf: DigitBus
    codes: FeatureCodes | None
    bridged: asyncio.Event
    ended: asyncio.Event

    @property
    def timeline(self) -> MediaTimeline: ...
    async def feature_codes(self) -> FeatureCodes | None: ...
    async def answer(self) -> None: ...
    async def prompt_pcm(self, prompt: str) -> bytes | None: ...
    async def wait_unless_ended(self, awaitable: Awaitable[T]) -> T: ...
    def party_ended(self, leg: Leg) -> None: ...
    def end(self, reason: str) -> None: ...


async def bridge(call: BridgedCall, endpoints: list[Endpoint], options: RingOptions) -> BridgeFailure:
    """Ring *endpoints*; the first to answer is bridged to the caller until either side hangs up, and then
    the call ends (CallEndedError: the flow does not continue, as in Kazoo). Nobody answered: why."""
    targets = await call.wait_unless_ended(_targets(call, endpoints, options))
    if not targets:
        log.info("call-id %s: nothing to ring for %s", call.call_id, endpoints)
        return BridgeFailure("")
    return await connect(call, targets, options)


async def connect(
    call: BridgedCall, targets: list[Target], options: RingOptions, *, stop_on: frozenset[int] = frozenset()
) -> BridgeFailure:
    """Ring *targets* as *options* say (``single``: in turn, until one answers or refuses with a status in
    *stop_on*) and bridge the first to answer, as :func:`bridge` does."""
    await call.recordings.automatic.outbound("offnet" if any(target.offnet for target in targets) else "onnet")
    codes = await call.feature_codes()
    ringback: asyncio.Future[None] | None = None
    early: list[Bridge] = []  # the caller hears a ringing phone's early media (183 with SDP)
    custom = None
    if options.ringback:  # the flow's own ringback, in place of ringing and of the phones' early media
        prompt = options.ringback
        custom = Ringback(call.a_leg, call.timeline, lambda: call.prompt_pcm(prompt))

    def ringing() -> None:
        nonlocal ringback
        if custom is not None:
            if call.a_leg.dialog is None:
                call.inbound.send_ringing()  # the caller's phone rings on if the prompt cannot be played
            custom.start(call.a_leg.host.spawn)
        elif call.a_leg.dialog is None:
            call.inbound.send_ringing()
        elif call.a_leg.media is not None:  # an answered caller hears ringback
            ringback = call.a_leg.media.play(ringback_tone(options.timeout))

    async def early_media(leg: OutboundLeg) -> None:
        if call.a_leg.dialog is not None:
            return  # answered already: the caller hears our ringback
        call.inbound.timeline = call.timeline
        try:
            await call.inbound.early_media()
        except (LegEndedError, PortsExhaustedError):
            return
        if call.a_leg.media is not None and leg.media is not None and not leg.ended.is_set() and not early:
            early.append(Bridge(call.a_leg, leg, call.dtmf.publish, call.hold_music, codes))

    try:
        outcome = await call.wait_unless_ended(
            dial(
                call.a_leg.host,
                targets,
                call.a_leg.local_address,
                timeout=options.timeout,
                strategy=options.strategy,
                fail_on_single_reject=options.fail_on_single_reject,
                stop_on=stop_on,
                on_ringing=ringing,
                on_early_media=lambda leg: None if custom else call.a_leg.host.spawn(early_media(leg)),
                timeline=call.timeline,
                confirm=lambda leg: _confirm(call, leg),
            )
        )
    finally:
        if custom is not None:
            custom.stop()
    if ringback is not None and call.a_leg.media is not None:
        call.a_leg.media.stop_playing()
    if early and early[0].b is not outcome.leg:
        early.pop().unbridge()
    if outcome.leg is None:
        log.info("call-id %s: nobody answered (%s, SIP %s)", call.call_id, outcome.cause, outcome.status)
        return BridgeFailure(outcome.cause, outcome.status)
    callee = outcome.leg
    call.legs.append(callee)
    call.joined = Joined(callee)
    callee.on_end(hang_up_caller_when_gone(call))
    call.recordings.bridging = True  # a recording asking for consent waits for this bridge to tell both sides
    try:
        await call.answer()
        if callee.ended.is_set() or callee.media is None or call.a_leg.media is None:
            raise CallEndedError()
        told_before = call.recordings.told.is_set()  # the caller was told before this party answered
        await call.recordings.tell(lambda prompt: _tell_both(call, callee, prompt, early[0] if early else None))
        if told_before and call.recordings.announcement is not None:  # the party joining is told too
            await _tell_both(call, callee, call.recordings.announcement, early[0] if early else None, caller=False)
    except CallEndedError:
        await callee.hangup()
        raise
    finally:
        call.recordings.bridging = False
    call.joined.bridge = early[0] if early else Bridge(call.a_leg, callee, call.dtmf.publish, call.hold_music, codes)
    call.bridged.set()
    if isinstance(callee, OutboundLeg) and callee.target.device_id:
        await call.recordings.automatic.for_endpoint(callee.target.device_id)
    log.info("call-id %s: bridged to %s (call-id %s)", call.call_id, callee.target.uri, callee.call_id)
    await stay_bridged(call, call.services)


async def _tell_both(call: BridgedCall, callee: Leg, prompt: str, early: Bridge | None, *, caller: bool = True) -> bool:
    """A consent announcement to the callee, and (*caller*) the caller, answered and not yet bridged (or bridged
    already for the callee's early media: both taken off that bridge meanwhile)."""
    pcm = await call.prompt_pcm(prompt)
    if pcm is None or call.a_leg.media is None or callee.media is None:
        return False
    if early is not None:
        await call.wait_unless_ended(early.play_to_both(pcm))
    elif caller:
        await call.wait_unless_ended(asyncio.gather(call.a_leg.media.play(pcm), callee.media.play(pcm)))
    else:
        await call.wait_unless_ended(callee.media.play(pcm))
    return True


async def _targets(call: BridgedCall, endpoints: list[Endpoint], options: RingOptions) -> list[Target]:
    finder = call.services.endpoints
    number, name = call.caller.number, call.caller.name
    if call.caller_device_id is not None and call.forward_hops is None:  # a device of ours calls: its caller ID
        number, name = await finder.caller_id_of(call.account_id, call.caller_device_id) or (number, name)
    number, name = shown_caller_id(call.variables, number, name)
    ring = TargetOptions(
        caller_number=number,
        caller_name=name,
        caller_device_id=call.caller_device_id,
        can_call_self=options.can_call_self,
        suppress_clid=options.suppress_clid,
        custom_sip_headers=tuple(options.custom_sip_headers.items()),
        forward_hops=call.forward_hops or 0,
        ignore_forward=options.ignore_forward,
        dialled=call.number,
    )
    targets: list[Target] = []
    for endpoint in endpoints:
        lookup = finder.for_device if endpoint.kind is EndpointKind.DEVICE else finder.for_user
        for target in await lookup(call.account_id, endpoint.id, ring):
            if not any(t.uri == target.uri and (target.sign or t.device_id == target.device_id) for t in targets):
                # one forward per number, and a phone reached twice (its user and itself) rings once
                early = target.early_media and not options.ignore_early_media
                targets.append(replace(target, delay=endpoint.delay, timeout=endpoint.timeout, early_media=early))
    return targets


def shown_caller_id(variables: dict[str, Any], number: str, name: str) -> tuple[str, str]:
    """The caller ID the callee is shown after the flow's ``set_cid`` (a replacement) and ``prepend_cid`` (a
    prefix), as Kazoo's endpoints apply them."""
    number = str(variables.get("rewrite_cid_number") or number)
    name = str(variables.get("rewrite_cid_name") or name)
    return f"{variables.get('prepend_cid_number', '')}{number}", f"{variables.get('prepend_cid_name', '')}{name}"


async def _confirm(call: BridgedCall, leg: OutboundLeg) -> bool:
    """A forwarded call answered: whoever answered hears the prompt and must press 1 to take the call."""
    media = leg.media
    if media is None:
        return False
    pressed: asyncio.Queue[str] = asyncio.Queue()
    leg.on_digit = pressed.put_nowait
    try:
        prompt = await call.services.tts.render(CONFIRM_PROMPT, "female", "en-us")
        media.play(prompt)
        key = asyncio.ensure_future(pressed.get())
        gone = asyncio.ensure_future(leg.ended.wait())
        await asyncio.wait({key, gone}, timeout=len(prompt) / 16000 + CONFIRM_SECONDS, return_when="FIRST_COMPLETED")
        gone.cancel()
        key.cancel()
        accepted = key.done() and not key.cancelled() and key.result() == "1"
        log.info(
            "call-id %s: forwarded call %s by %s", call.call_id, "accepted" if accepted else "refused", leg.call_id
        )
        return accepted
    finally:
        leg.on_digit = None
        media.stop_playing()
