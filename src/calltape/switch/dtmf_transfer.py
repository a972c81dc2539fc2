"""Kazoo's konami ``transfer`` metaflow: an attended transfer by DTMF, for phones without a transfer key.

Alice talks to Bob and presses ``*2`` then ``2600`` (an account pattern ``2(\\d+)``, or a code with a fixed
``target``): Bob (the transferee) hears music on hold, Alice (the transferor) hears ringback while calltape dials
2600 through the account's callflows as Alice's phone would (it calls itself, as Kazoo's loopback does). Then:

- the target answers: Alice talks to Carol; when Alice hangs up, Bob is bridged to Carol (the transfer);
- Alice hangs up before the target answers: Bob is bridged to it once it answers, or hung up if it never does;
- the target does not answer, is busy or hangs up while Alice talks to it, or Alice presses ``takeback_dtmf``
  (``*1``): Alice and Bob are bridged again;
- Bob hangs up meanwhile: the call (and its recording) ends, and Alice and the target go on between themselves
  (when Alice is the callee; when she placed the call, hers ends with it).

The call's recording follows the transferee, as with REFER: it keeps its channel, hears the music meanwhile, and
the target comes in the other channel from the transfer on (``should_follow_transfer: false``: the file ends
there); the transfer is in the metadata. A phone of ours must press the code (the same rule as for REFER).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from calltape.callflow.metaflows import TransferData
from calltape.media.sources import cadence
from calltape.switch.bridge import Bridge
from calltape.switch.call_types import CallParty
from calltape.switch.dialer import DialOutcome, dial
from calltape.switch.feature_codes import Pressed
from calltape.switch.leg import Leg
from calltape.switch.outbound import OutboundLeg, Target
from calltape.switch.services import CallServices
from calltape.switch.transfer import TransferRequest, TransferringCall, device_of, may_transfer

log = logging.getLogger(__name__)

TARGET_TIMEOUT = 20.0  # seconds the target may take to answer (Kazoo's default_target_timeout_ms)
RINGBACK = ((440.0, 480.0), 2.0, 4.0)  # what the transferor hears meanwhile: Kazoo's default_ringback


class ConsultingCall(TransferringCall, Protocol):
    """What a DTMF transfer uses of a call."""

    caller: CallParty
    services: CallServices


async def transfer(call: ConsultingCall, pressed: Pressed, data: TransferData) -> None:
    """The code was pressed on *pressed.side* of the call's bridge: transfer the other side to the number it
    captured (or the code's ``target``)."""
    joined = call.joined
    if joined is None or joined.bridge is None or joined.transfer is None or joined.transfer.done():
        log.info("call-id %s: transfer code pressed while not bridged: ignored", call.call_id)
        return
    if joined.transferring:
        log.info("call-id %s: transfer code pressed while a transfer is under way: ignored", call.call_id)
        return
    transferor, transferee = (call.a_leg, joined.callee) if pressed.side == "self" else (joined.callee, call.a_leg)
    number = pressed.captures[0] if pressed.captures else data.target
    device_id = device_of(call, transferor)
    if not number or device_id is None or not may_transfer(call, transferor):
        log.info("call-id %s: transfer code refused (no number, or not a phone of ours)", call.call_id)
        return
    endpoints = call.services.endpoints
    shown = await endpoints.caller_id_of(call.account_id, device_id) or (call.caller.number, call.caller.name)
    target = endpoints.loopback_target(call.account_id, device_id, number, *shown)
    if target is None or transferor.ended.is_set() or transferee.ended.is_set():
        return
    log.info("call-id %s: %s transfers %s to %s (DTMF)", call.call_id, transferor.call_id, transferee.call_id, number)
    await Consultation(call, transferor, transferee, number, data).run(target)


class Consultation:
    """One DTMF transfer, from the code to its outcome."""

    def __init__(self, call: ConsultingCall, transferor: Leg, transferee: Leg, number: str, data: TransferData):
        self.call = call
        self.transferor = transferor
        self.transferee = transferee
        self.number = number
        self.data = data
        self.typed = ""  # the transferor's digits since the code, for the takeback sequence
        self.taken_back = asyncio.Event()
        self._music: asyncio.Task[None] | None = None
        self._held_far_end = False

    async def run(self, target: Target) -> None:
        """Hold the transferee, ring the target, and carry out what happens then."""
        call, joined = self.call, self.call.joined
        assert joined is not None and joined.bridge is not None
        joined.bridge.unbridge()
        joined.transferor = self.transferor  # its leaving hands the transferee on instead of ending the call
        if self.transferor in call.legs:  # the transferee leaving ends the call, not the transferor's consultation
            call.legs.remove(self.transferor)
        self.transferor.on_digit = self._digit
        self._hold()
        if self.transferor.media is not None:
            self.transferor.media.play(cadence(*RINGBACK, TARGET_TIMEOUT))
        host = self.transferor.host
        dialing = asyncio.ensure_future(
            dial(host, [target], target.local_address or "", timeout=TARGET_TIMEOUT, timeline=call.timeline)
        )
        try:
            while not dialing.done():
                await self._first(dialing, self.taken_back.wait(), *self._parties_leaving())
                if self.taken_back.is_set() or not self._either_here():
                    dialing.cancel()
                    await asyncio.wait({dialing})
        finally:
            if self.transferor.media is not None:
                self.transferor.media.stop_playing()
        answered = self._answered(dialing)
        if answered is not None and (self.taken_back.is_set() or not self._either_here()):
            answered.host.spawn(answered.hangup())  # it answered just as the transfer was called off
            answered = None
        await self._after_ringing(answered)

    def _answered(self, dialing: asyncio.Future[DialOutcome]) -> OutboundLeg | None:
        if dialing.cancelled():
            return None
        error = dialing.exception()
        if error is not None:  # no RTP port, …: as if nobody answered
            log.error("call-id %s: dialling %s for the transfer failed: %r", self.call.call_id, self.number, error)
            return None
        outcome = dialing.result()
        if outcome.leg is None:
            log.info("call-id %s: %s did not answer the transfer (%s)", self.call.call_id, self.number, outcome.cause)
        return outcome.leg

    async def _after_ringing(self, answered: OutboundLeg | None) -> None:
        transferor_here, transferee_here = not self.transferor.ended.is_set(), not self.transferee.ended.is_set()
        if answered is None:
            if transferor_here and transferee_here:
                log.info("call-id %s: transfer to %s not made: back to the transferee", self.call.call_id, self.number)
                self._reconnect()
            else:  # whoever is left has no one (Kazoo: "sorry transferee")
                for leg in (self.transferor, self.transferee):
                    leg.host.spawn(leg.hangup())
            return
        if not transferor_here:
            self._complete(answered)
        elif not transferee_here:
            await _on_their_own(self.transferor, answered)
        else:
            await self._talk(answered)

    async def _talk(self, target: OutboundLeg) -> None:
        """The transferor talks to the target until one of the three acts."""
        consulting = Bridge(self.transferor, target, lambda digit: None)
        relayed = self.transferor.on_digit  # the bridge's: digits still reach the target

        def digit(pressed: str) -> None:
            self._digit(pressed)
            if relayed is not None:
                relayed(pressed)

        self.transferor.on_digit = digit
        await self._first(target.ended.wait(), self.taken_back.wait(), *self._parties_leaving())
        consulting.unbridge()
        if self.transferor.ended.is_set():
            if self.transferee.ended.is_set():
                target.host.spawn(target.hangup())
            else:
                self._complete(target)
        elif self.transferee.ended.is_set():
            await _on_their_own(self.transferor, target)
        else:  # the target left, or the transferor took the transferee back
            target.host.spawn(target.hangup())
            self._reconnect()

    def _digit(self, digit: str) -> None:
        """A digit from the transferor: the takeback sequence ends the consultation."""
        self.typed = (self.typed + digit)[-len(self.data.takeback_dtmf) :]
        if self.typed == self.data.takeback_dtmf:
            log.info("call-id %s: the transferor took the transferee back", self.call.call_id)
            self.taken_back.set()

    def _hold(self) -> None:
        """The transferee hears the code's ``moh``, else the transferor's music on hold, else is held by re-INVITE."""
        self._music = asyncio.ensure_future(self._play_music())

    async def _play_music(self) -> None:
        call, media = self.call, self.transferee.media
        try:
            if self.data.moh:
                pcm = await call.services.media_library.pcm(call.account_id, self.data.moh)
            else:
                pcm = await call.hold_music.for_holder(self.transferor)
        except Exception as exc:  # the store down: the transferee hears silence, the transfer goes on
            log.error("call-id %s: music on hold for the transfer failed: %r", call.call_id, exc)
            return
        if pcm is None:
            self.transferee.hold_far_end(True)
            self._held_far_end = True
            return
        call.hold_music.began()
        try:
            while media is not None and not self.transferee.ended.is_set():
                await media.play(pcm)
        finally:
            call.hold_music.ended()

    def _unhold(self) -> None:
        if self._music is not None:
            self._music.cancel()
        if self.transferee.media is not None:
            self.transferee.media.stop_playing()
        if self._held_far_end:
            self.transferee.hold_far_end(False)
            self._held_far_end = False

    def _reconnect(self) -> None:
        """The transferor and the transferee are bridged again, as before the code."""
        call, joined = self.call, self.call.joined
        assert joined is not None
        self._unhold()
        if self.transferor is not call.a_leg:
            call.legs.append(self.transferor)
        joined.transferor = None
        joined.bridge = Bridge(call.a_leg, joined.callee, call.dtmf.publish, call.hold_music, call.codes)

    def _complete(self, target: OutboundLeg) -> None:
        """The transferor has gone and the target answered: the transferee is bridged to it (``stay_bridged``
        notes the transfer and joins them on the call's timeline)."""
        self._unhold()
        joined = self.call.joined
        assert joined is not None and joined.transfer is not None
        if joined.transfer.done() or self.call.ended.is_set():  # the call ended meanwhile
            target.host.spawn(target.hangup())
            return
        log.info("call-id %s: DTMF transfer to %s complete", self.call.call_id, self.number)
        joined.transfer.set_result(TransferRequest(self.transferor, self.number, join=target))

    def _parties_leaving(self) -> list[Awaitable[Any]]:
        return [leg.ended.wait() for leg in (self.transferor, self.transferee) if not leg.ended.is_set()]

    def _either_here(self) -> bool:
        return not (self.transferor.ended.is_set() and self.transferee.ended.is_set())

    @staticmethod
    async def _first(*awaitables: Awaitable[Any]) -> None:
        """Until the first of *awaitables* is done (the others are cancelled, except a future passed in)."""
        tasks = {asyncio.ensure_future(a) for a in awaitables}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if task not in awaitables:  # a task made here (a future passed in is the caller's)
                    task.cancel()


async def _on_their_own(transferor: Leg, target: Leg) -> None:
    """The transferee left: the transferor and the target talk on, outside the call, until either hangs up."""
    bridge = Bridge(transferor, target, lambda digit: None)
    with contextlib.suppress(asyncio.CancelledError):
        await Consultation._first(transferor.ended.wait(), target.ended.wait())
    bridge.unbridge()
    for leg in (transferor, target):
        leg.host.spawn(leg.hangup())
