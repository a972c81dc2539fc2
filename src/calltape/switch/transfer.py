"""Transfers (RFC 3515 REFER with RFC 3892's sipfrag progress, RFC 3891 Replaces): while a call is bridged, the phone
on either side may hand the other on — the callee its caller, or the caller its callee (the transferee).

- **Blind**: ``Refer-To: <sip:NUMBER@…>``. Accepted (202), then NOTIFYs: ``100 Trying``, and ``200 OK`` once the
  number reaches a callflow of the account — the transferor leaves (calltape sends BYE if its phone does not) and
  the caller goes on into that callflow — or ``404 Not Found``, and the bridge stands.
- **Attended**: ``Refer-To: <sip:…?Replaces=CALL-ID;to-tag=…;from-tag=…>`` naming the transferor's other call
  through calltape (the consultation call, answered, placed by the same phone). The caller is bridged to that
  call's other party, both of the transferor's legs end, and the consultation call ends without its other party.
  A Replaces naming anything else (no call of ours, another account's or another phone's) is NOTIFYed 481.

Either way the call, its recordings and taps go on: the new party is heard in the same channel, each
transfer is noted for the recordings' metadata, and a recording asked not to follow a transfer ends there. When
the caller transfers, its transferee takes its place as the call's party (``Call.a_leg``): it keeps its own
channel of the recordings, is shown to the target as the caller, and runs the target's callflow. Only a phone of
ours may transfer (a carrier's party may not: it could send the caller anywhere at the account's cost); a REFER
while nothing is bridged, or while a transfer is under way gets 403. The transferor leaving once its REFER is
accepted does not end the call; if the transfer then fails, it does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol
from urllib.parse import unquote

from calltape.media.clock import MediaTimeline
from calltape.media.taps import TapDirection, Taps
from calltape.recording.call_recordings import CallRecordings
from calltape.recording.metadata import Transfer
from calltape.sip.address import parse_address
from calltape.sip.events import RequestReceived
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.uri import SipUri
from calltape.switch.bridge import Bridge, HoldMusicSource
from calltape.switch.call_types import CallEndedError, CallParty, TransferredError
from calltape.switch.directory import AccountDocuments
from calltape.switch.feature_codes import FeatureCodes
from calltape.switch.leg import InboundLeg, Leg
from calltape.switch.outbound import OutboundLeg

log = logging.getLogger(__name__)

SUBSCRIPTION_SECONDS = 60
TRANSFEROR_GRACE = 2.0  # seconds a transferor's phone has to hang up by itself before calltape's BYE


@dataclass(frozen=True)
class ReferTarget:
    """What a REFER asks for: a number (blind), or the dialog of another call to join (attended)."""

    number: str
    replaces: tuple[str, str, str] | None = None  # (Call-ID, to-tag, from-tag) as the transferor sees that dialog


@dataclass(frozen=True)
class TransferRequest:
    """A transfer to carry out: on to a callflow (blind), or a join with *join*, another call's party (attended)."""

    transferor: Leg
    number: str
    callflow_id: str | None = None
    join: Leg | None = None


class HandedOffError(Exception):
    """This call's bridged party was taken by another call's attended transfer: this call ends without it."""


@dataclass
class Joined:
    """A call's bridge as it stands: the other party's leg, the bridge, and what may end it."""

    callee: Leg
    bridge: Bridge | None = None
    transfer: asyncio.Future[TransferRequest] | None = None
    transferor: Leg | None = None  # whose REFER was accepted (either side): its leaving does not end the call

    @property
    def transferring(self) -> bool:
        """A transfer is under way."""
        return self.transferor is not None


class TransferringCall(Protocol):
    """What transfers use of a call."""

    call_id: str
    account_id: str
    number: str
    caller: CallParty
    caller_device_id: str | None
    a_leg: Leg
    inbound: InboundLeg
    taps: Taps
    legs: list[Leg]
    transfers: list[Transfer]
    recordings: CallRecordings
    joined: Joined | None
    ended: asyncio.Event
    dtmf: Any  # DigitBus: .publish
    codes: FeatureCodes | None  # the account's metaflows, as the call's first bridge read them

    @property
    def timeline(self) -> MediaTimeline: ...
    @property
    def hold_music(self) -> HoldMusicSource: ...
    def party_ended(self, leg: Leg) -> None: ...
    def end(self, reason: str) -> None: ...


class TransferServices(Protocol):
    """What transfers use beyond the call: the account's callflows, and the other calls running here."""

    @property
    def documents(self) -> AccountDocuments: ...
    def call_of_leg(self, call_id: str) -> TransferringCall | None: ...


async def stay_bridged(call: TransferringCall, services: TransferServices) -> NoReturn:
    """Until the call ends (CallEndedError) or the caller is transferred on to a callflow (TransferredError);
    attended transfers re-bridge the caller and go on waiting."""
    joined = call.joined
    assert joined is not None and joined.bridge is not None
    while True:
        transfer: asyncio.Future[TransferRequest] = asyncio.get_running_loop().create_future()
        joined.transfer = transfer
        parties = (joined.callee, call.a_leg)
        for party in parties:
            if may_transfer(call, party):
                party.on_refer = lambda event, party=party: party.host.spawn(_refer(call, services, party, event))
        ended: asyncio.Future[Any] = asyncio.ensure_future(call.ended.wait())
        try:
            await asyncio.wait({ended, transfer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            for party in parties:
                party.on_refer = None
        if call.ended.is_set() or not transfer.done() or transfer.exception() is not None:
            raise CallEndedError()
        request = transfer.result()
        _hand_over(call, joined.bridge, request)
        if request.transferor is call.a_leg:  # the caller handed its party on: that party takes its place
            _take_place(call, joined.callee)
        if call.ended.is_set():  # the transferee left meanwhile: whoever it was to be joined to has no one
            if request.join is not None:
                request.join.host.spawn(request.join.hangup())
            raise CallEndedError()
        if request.join is None:
            assert request.callflow_id is not None
            call.joined = None
            call.number = request.number  # the caller goes on as if it had dialled the target
            raise TransferredError(request.callflow_id)
        joined = _join(call, request.join)


def hang_up_caller_when_gone(call: TransferringCall) -> Callable[[Leg], None]:
    """An end hook for a bridged party: the caller is hung up when the party that is bridged to it leaves (not
    one that was transferred away)."""

    def gone(leg: Leg) -> None:
        joined = call.joined
        if joined is not None and joined.callee is leg and joined.transferor is not leg:
            call.a_leg.host.spawn(call.a_leg.hangup())

    return gone


def refer_target(event: RequestReceived) -> ReferTarget | None:
    """What a REFER's Refer-To asks for; None if it names nothing calltape can reach."""
    value = event.request.headers.get("Refer-To")
    if not value:
        return None
    try:
        uri = parse_address(value).uri
    except SipSyntaxError:
        return None
    if not isinstance(uri, SipUri) or not uri.user_unescaped:
        return None
    replaces = None
    for header in uri.headers.split("&") if uri.headers else []:
        name, _, text = header.partition("=")
        if name.lower() == "replaces":
            call_id, *params = unquote(text).split(";")
            tags = {k.strip().lower(): v for k, _, v in (p.partition("=") for p in params)}
            replaces = (call_id.strip(), tags.get("to-tag", ""), tags.get("from-tag", ""))
    return ReferTarget(uri.user_unescaped, replaces)


@dataclass
class Progress:
    """The REFER's implicit subscription (RFC 3515): NOTIFYs in its dialog with the outcome as ``message/sipfrag``,
    ``Event: refer;id=<the REFER's CSeq>``, the last one terminating it."""

    leg: Leg
    refer_cseq: int

    def trying(self) -> None:
        """The transfer is under way."""
        self._notify("SIP/2.0 100 Trying", final=False)

    def final(self, status_line: str) -> None:
        """How it ended (``SIP/2.0 200 OK``, ``… 404 Not Found``, …); the subscription ends with it."""
        self._notify(status_line, final=True)

    def _notify(self, status_line: str, *, final: bool) -> None:
        leg = self.leg
        if leg.dialog is None or leg.ended.is_set():
            return
        state = "terminated;reason=noresource" if final else f"active;expires={SUBSCRIPTION_SECONDS}"
        request = leg.dialog.create_request(
            "NOTIFY",
            leg.host.via_for(leg.peer, leg.local_address),
            body=f"{status_line}\r\n".encode(),
            content_type="message/sipfrag;version=2.0",
        )
        request.headers.add("Event", f"refer;id={self.refer_cseq}")
        request.headers.add("Subscription-State", state)
        leg.host.send_request(request, leg.peer, leg)


def device_of(call: TransferringCall, leg: Leg) -> str | None:
    """The device of ours on *leg*'s end: the caller's, or the one a bridged leg rings; None for others."""
    return leg.target.device_id if isinstance(leg, OutboundLeg) else call.caller_device_id


def may_transfer(call: TransferringCall, leg: Leg) -> bool:
    """Only a phone of ours may transfer (a carrier's party could send the other anywhere at our cost): the
    caller's leg if a device of the account placed the call, a bridged leg if it rings a device."""
    if leg is call.inbound:
        return call.caller_device_id is not None
    return isinstance(leg, OutboundLeg) and leg.target.device_id is not None and not leg.target.offnet


async def _refer(call: TransferringCall, services: TransferServices, transferor: Leg, event: RequestReceived) -> None:
    """The bridged phone asks to transfer the caller: the REFER answered (202), the outcome NOTIFYed."""
    target = refer_target(event)
    joined = call.joined
    transfer = joined.transfer if joined is not None else None
    if target is None or joined is None or transfer is None or transfer.done() or joined.transferring:
        transferor.host.respond(event.transaction, event.response(403, "Transfer not possible"))
        return
    contact = [("Contact", transferor.host.contact_for(transferor.peer, transferor.local_address))]
    transferor.host.respond(event.transaction, event.response(202, None, contact))
    progress = Progress(transferor, event.request.cseq.number)
    joined.transferor = transferor
    try:
        request = await _carry_out(call, services, transferor, target, progress)
    except Exception as exc:  # the store down, …: the transferor is told, the call goes on as it was
        log.error("call-id %s: transfer failed: %r", call.call_id, exc)
        request = None
        progress.final("SIP/2.0 503 Service Unavailable")
    if request is not None and not transfer.done() and not call.ended.is_set():
        transfer.set_result(request)
        return
    if request is not None and request.join is not None:  # the caller left meanwhile: the party has no one
        request.join.host.spawn(request.join.hangup())
    joined.transferor = None
    if transferor.ended.is_set():  # it left while the transfer failed: the other side has no one
        if transferor is call.a_leg:
            call.end(transferor.end_reason)
        else:
            call.a_leg.host.spawn(call.a_leg.hangup())


async def _carry_out(
    call: TransferringCall, services: TransferServices, transferor: Leg, target: ReferTarget, progress: Progress
) -> TransferRequest | None:
    if target.replaces is not None:
        other = _consultation(call, services, transferor, target.replaces)
        if other is None:  # unknown, another account's, or not the transferor's: all told the same way
            progress.final("SIP/2.0 481 Call/Transaction Does Not Exist")
            return None
        progress.final("SIP/2.0 200 OK")
        return TransferRequest(transferor, target.number, join=_take_party(other))
    progress.trying()
    callflow_id = await services.documents.callflow_for(call.account_id, target.number)
    if callflow_id is None:
        log.info("call-id %s: transfer to %s refused: no callflow reaches it", call.call_id, target.number)
        progress.final("SIP/2.0 404 Not Found")
        return None
    progress.final("SIP/2.0 200 OK")
    return TransferRequest(transferor, target.number, callflow_id)


def _consultation(
    call: TransferringCall, services: TransferServices, transferor: Leg, replaces: tuple[str, str, str]
) -> TransferringCall | None:
    """The transferor's own answered consultation call that *replaces* names, if it is one: in the same account,
    placed by the same device, bridged, and not being transferred itself."""
    call_id, to_tag, from_tag = replaces
    other = services.call_of_leg(call_id)
    dialog = other.a_leg.dialog if other is not None else None
    if other is None or other is call or dialog is None or (dialog.local_tag, dialog.remote_tag) != (to_tag, from_tag):
        return None
    if other.account_id != call.account_id or other.caller_device_id != device_of(call, transferor):
        return None
    joined = other.joined
    if joined is None or joined.bridge is None or joined.transfer is None or joined.transfer.done():
        return None
    return other


def _take_party(other: TransferringCall) -> Leg:
    """Take the consultation call's bridged party away from it: that call ends (its caller, the transferor,
    is hung up) and the party is left alone."""
    joined = other.joined
    assert joined is not None and joined.bridge is not None and joined.transfer is not None
    party = joined.callee
    joined.bridge.unbridge()
    other.legs.remove(party)
    other.joined = None
    joined.transfer.set_exception(HandedOffError())
    other.a_leg.host.spawn(other.a_leg.hangup())
    log.info("call-id %s: its party %s was taken by an attended transfer", other.call_id, party.call_id)
    return party


def _hand_over(call: TransferringCall, bridge: Bridge, request: TransferRequest) -> None:
    """The caller leaves the transferor's bridge (the transferor is hung up if its phone does not hang up
    itself), the transfer is noted, and a recording that does not follow transfers ends."""
    bridge.unbridge()
    call.transfers.append(Transfer(time.time(), request.transferor.call_id, request.number))
    call.recordings.transferred()
    call.a_leg.host.spawn(_hang_up_later(request.transferor))
    log.info("call-id %s: transferred by %s to %s", call.call_id, request.transferor.call_id, request.number)


def _take_place(call: TransferringCall, transferee: Leg) -> None:
    """The caller transferred *transferee*, its party: the transferee becomes the call's party in its place. It
    keeps its channel of the recordings (its side of the call's taps), its digits are the call's, its leaving
    ends the call, and it is the caller the transfer target is shown."""
    caller = call.a_leg
    assert transferee.media is not None
    call.legs.remove(transferee)
    call.a_leg = transferee
    side = caller.media.heard_side if caller.media is not None else TapDirection.OUT
    transferee.media.hold_taps_as(side)
    transferee.media.use_taps(call.taps)
    transferee.taps = call.taps
    if caller.media is not None:
        caller.media.use_taps(Taps())
    caller.taps = caller.on_digit = None
    call.recordings.party_side = side
    transferee.on_digit = call.dtmf.publish
    transferee.on_end(call.party_ended)
    # the target is shown who is transferred to it: a device of ours by its caller ID, else the number dialled
    call.caller_device_id = transferee.target.device_id if isinstance(transferee, OutboundLeg) else None
    call.caller = CallParty(call.number, "")
    log.info("call-id %s: %s takes the caller's place", call.call_id, transferee.call_id)


async def _hang_up_later(leg: Leg) -> None:
    """A transferor's phone hangs up once told the transfer worked; if it has not in a moment, BYE."""
    try:
        await asyncio.wait_for(leg.ended.wait(), TRANSFEROR_GRACE)
    except TimeoutError:
        await leg.hangup()


def _join(call: TransferringCall, party: Leg) -> Joined:
    """Bridge the caller to *party* (another call's, until now), on this call's timeline."""
    assert party.media is not None
    party.media.follow(call.timeline)
    call.legs.append(party)
    joined = Joined(party, bridge_party(call, party))
    call.joined = joined
    party.on_end(hang_up_caller_when_gone(call))
    if party.ended.is_set():
        raise CallEndedError()
    return joined


def bridge_party(call: TransferringCall, leg: Leg) -> Bridge:
    """A bridge between the call's party and *leg*, with the call's digits, music on hold and feature codes."""
    return Bridge(call.a_leg, leg, call.dtmf.publish, call.hold_music, call.codes)
