"""Kazoo's konami ``transfer`` metaflow: an attended transfer by DTMF, for phones without a transfer key.

Alice talks to Bob and presses ``*2`` then ``2600`` (an account pattern ``^2(\\d+)$``, or a code with a fixed
``target``): Bob (the transferee) hears music on hold, Alice (the transferor) hears ringback while calltape dials
2600 through the account's callflows as Alice's phone would (it calls itself, as Kazoo's loopback does). Then:

- the target answers: Alice talks to it; when Alice hangs up, Bob is bridged to it (the transfer);
- Alice hangs up before the target answers: Bob is bridged to it once it answers, or hung up if it never does;
- the target does not answer, is busy or hangs up while Alice talks to it, or Alice presses ``takeback_dtmf``
  (``*1``): Alice and Bob are bridged again;
- Bob hangs up meanwhile: the call ends, and the consultation with it (Kazoo lets Alice and the target talk on).

The consultation carries no digits across (the takeback reaches nobody, and no code runs in the target's call).
The call's recording follows the transferee, as with REFER: it keeps its channel, the other channel has the music
meanwhile and then the target (``should_follow_transfer: false``: the file ends at the transfer), and the
transfer is in the metadata. Only a phone of ours may press the code (the same rule as for REFER).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from calltape.media.sources import ringback
from calltape.media.taps import TapDirection, Taps
from calltape.switch.bridge import Bridge
from calltape.switch.call_types import CallParty
from calltape.switch.dialer import DialOutcome, dial
from calltape.switch.feature_codes import Pressed
from calltape.switch.leg import Leg
from calltape.switch.outbound import OutboundLeg, Target
from calltape.switch.services import CallServices
from calltape.switch.transfer import TransferRequest, TransferringCall, bridge_party, device_of, may_transfer

log = logging.getLogger(__name__)

TARGET_TIMEOUT = 20.0  # seconds the target may take to answer (Kazoo's default_target_timeout_ms)


@dataclass(frozen=True)
class TransferCode:
    """A transfer code's data: its fixed ``target`` (unless a pattern captures one), the transferee's music
    (``moh``, a media id; else the transferor's music on hold), and the transferor's ``takeback_dtmf``."""

    target: str | None = None
    takeback_dtmf: str = "*1"
    moh: str | None = None


class ConsultingCall(TransferringCall, Protocol):
    """What a DTMF transfer uses of a call."""

    caller: CallParty
    services: CallServices


async def transfer(call: ConsultingCall, pressed: Pressed, code: TransferCode) -> None:
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
    number = next((captured for captured in pressed.captures if captured), code.target)
    device_id = device_of(call, transferor)
    if not number or device_id is None or not may_transfer(call, transferor):
        log.info("call-id %s: transfer code refused (no number, or not a phone of ours)", call.call_id)
        return
    joined.transferor = transferor  # claimed at once: a REFER or the other side's code now finds it under way
    await Consultation(call, transferor, transferee, number, code).run(device_id)


class Consultation:
    """One DTMF transfer, from the code to its outcome."""

    def __init__(self, call: ConsultingCall, transferor: Leg, transferee: Leg, number: str, code: TransferCode):
        self.call = call
        self.transferor = transferor
        self.transferee = transferee
        self.number = number
        self.code = code
        self.typed = ""  # the transferor's latest digits, for the takeback sequence
        self.taken_back = asyncio.Event()
        self._music: asyncio.Task[None] | None = None
        self._held_far_end = False
        self._said: TapDirection | None = None  # the transferee's own tap side, while it feeds the call's taps
        self._target: OutboundLeg | None = None  # the answered target, until handed over
        self._handed_over = False

    async def run(self, device_id: str) -> None:
        """Hold the transferee, ring the target, and carry out what happens then; whatever way it ends, nothing
        is left behind (the claim released, the target hung up unless handed over, the call ended if its party
        left)."""
        call = self.call
        dialing: asyncio.Future[DialOutcome] | None = None
        reconnected = False
        try:
            target = await self._target_for(device_id)
            if target is None or not self._both_here():
                return
            log.info(
                "call-id %s: %s consults %s to transfer %s",
                call.call_id,
                self.transferor.call_id,
                self.number,
                self.transferee.call_id,
            )
            joined = call.joined
            assert joined is not None and joined.bridge is not None
            joined.bridge.unbridge()
            self._record_the_transferee()
            self.transferor.on_digit = self._digit
            self._music = asyncio.ensure_future(self._play_music())
            if self.transferor.media is not None:
                self.transferor.media.play(ringback(TARGET_TIMEOUT))
            dialing = asyncio.ensure_future(
                dial(
                    self.transferor.host,
                    [target],
                    target.local_address or "",
                    timeout=TARGET_TIMEOUT,
                    timeline=call.timeline,
                )
            )
            while not dialing.done() and not self.taken_back.is_set() and not self.transferee.ended.is_set():
                await _first(dialing, self.taken_back.wait(), *self._leaving())
            if self.transferor.media is not None:
                self.transferor.media.stop_playing()
            if not dialing.done():
                dialing.cancel()
                await asyncio.wait({dialing})
            self._target = self._answered(dialing)
            reconnected = await self._after_ringing()
        finally:
            if dialing is not None and not dialing.done():
                dialing.cancel()
            if self._target is not None:  # not handed over: it has no one
                self._target.host.spawn(self._target.hangup())
            if not reconnected:
                self._let_go()

    async def _target_for(self, device_id: str) -> Target | None:
        call, endpoints = self.call, self.call.services.endpoints
        shown = await endpoints.caller_id_of(call.account_id, device_id) or (call.caller.number, call.caller.name)
        return endpoints.loopback_target(call.account_id, device_id, self.number, *shown)

    def _answered(self, dialing: asyncio.Future[DialOutcome]) -> OutboundLeg | None:
        if dialing.cancelled():
            return None
        error = dialing.exception()
        if error is not None:  # no RTP port, …: as if nobody answered
            log.error("call-id %s: dialling %s for the transfer failed: %r", self.call.call_id, self.number, error)
            return None
        outcome = dialing.result()
        if outcome.leg is None:
            log.info("call-id %s: %s did not take the transfer (%s)", self.call.call_id, self.number, outcome.cause)
        return outcome.leg

    async def _after_ringing(self) -> bool:
        """What the end of the ringing leads to; True if the transferor and the transferee are bridged again."""
        if self.transferee.ended.is_set():
            return False
        if self.taken_back.is_set() or (self._target is None and not self.transferor.ended.is_set()):
            return self._reconnect()
        if self._target is None:  # the transferor left and nobody took the transfer (Kazoo: "sorry transferee")
            self.transferee.host.spawn(self.transferee.hangup())
            return False
        if self.transferor.ended.is_set():
            self._complete()
            return False
        return await self._talk()

    async def _talk(self) -> bool:
        """The transferor talks to the target until one of the three acts."""
        target = self._target
        assert target is not None
        consulting = Bridge(self.transferor, target, lambda digit: None, carry_digits=False)
        self.transferor.on_digit = self._digit
        try:
            await _first(target.ended.wait(), self.taken_back.wait(), *self._leaving())
        finally:
            consulting.unbridge()
        if self.transferee.ended.is_set():
            return False
        if self.transferor.ended.is_set() and not target.ended.is_set():
            self._complete()
            return False
        return self._reconnect()  # the target left, or the transferor took the transferee back

    def _digit(self, digit: str) -> None:
        """A digit from the transferor: the takeback sequence ends the consultation."""
        takeback = self.code.takeback_dtmf
        self.typed = (self.typed + digit)[-len(takeback) :]
        if self.typed == takeback and not self.taken_back.is_set():
            log.info("call-id %s: the transferor took the transferee back", self.call.call_id)
            self.taken_back.set()

    async def _play_music(self) -> None:
        """The code's ``moh``, else the transferor's music on hold, to the transferee; else it is held by re-INVITE."""
        call, media = self.call, self.transferee.media
        try:
            if self.code.moh:
                pcm = await call.services.media_library.pcm(call.account_id, self.code.moh)
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
            self._music = None
        if self.transferee.media is not None:
            self.transferee.media.stop_playing()
        if self._held_far_end:
            self.transferee.hold_far_end(False)
            self._held_far_end = False

    def _record_the_transferee(self) -> None:
        """When the caller consults, the call's taps (its recordings) hear the transferee meanwhile, in the
        channel it has: its music and what it says, not the consultation."""
        caller, transferee = self.transferor, self.transferee
        if caller is not self.call.a_leg or caller.media is None or transferee.media is None:
            return
        self._said = transferee.media.said_side
        transferee.media.hold_taps_as(caller.media.heard_side)
        transferee.media.use_taps(self.call.taps)
        caller.media.use_taps(Taps())

    def _record_the_caller_again(self) -> None:
        caller, transferee = self.transferor, self.transferee
        if self._said is None or caller.media is None or transferee.media is None:
            return
        caller.media.use_taps(self.call.taps)
        transferee.media.use_taps(Taps())
        transferee.media.hold_taps_as(self._said)
        self._said = None

    def _reconnect(self) -> bool:
        """The transferor and the transferee are bridged again, as before the code."""
        joined = self.call.joined
        if joined is None or self.transferor.ended.is_set() or self.transferee.ended.is_set():
            return False
        log.info("call-id %s: transfer to %s not made: the parties are bridged again", self.call.call_id, self.number)
        self._unhold()
        self._record_the_caller_again()
        joined.transferor = None
        joined.bridge = bridge_party(self.call, joined.callee)
        return True

    def _complete(self) -> None:
        """The transferor has gone and the target answered: the transferee is handed to it (``stay_bridged``
        notes the transfer and bridges them on the call's timeline)."""
        joined, target = self.call.joined, self._target
        assert joined is not None and joined.transfer is not None and target is not None
        if joined.transfer.done() or self.call.ended.is_set():
            return
        log.info("call-id %s: DTMF transfer to %s complete", self.call.call_id, self.number)
        self._unhold()
        self._target, self._handed_over = None, True
        joined.transfer.set_result(TransferRequest(self.transferor, self.number, join=target))

    def _let_go(self) -> None:
        """No transfer, and no bridge again: the claim is released, and a call whose party (the transferor, when
        the caller pressed the code) has gone ends."""
        self._unhold()
        if self._handed_over:  # stay_bridged takes it from here
            return
        joined = self.call.joined
        if joined is not None and joined.transferor is self.transferor:
            joined.transferor = None
        if self.call.a_leg.ended.is_set():
            self.call.end(self.call.a_leg.end_reason or "transferor left")

    def _leaving(self) -> list[Awaitable[Any]]:
        return [leg.ended.wait() for leg in (self.transferor, self.transferee) if not leg.ended.is_set()]

    def _both_here(self) -> bool:
        return not (self.transferor.ended.is_set() or self.transferee.ended.is_set())


async def _first(*awaitables: Awaitable[Any]) -> None:
    """Until the first of *awaitables* is done; the tasks made here for the others are cancelled (a future passed
    in is the caller's)."""
    tasks = {asyncio.ensure_future(a) for a in awaitables}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if task not in awaitables:
                task.cancel()
