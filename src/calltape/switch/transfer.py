"""Transfers (RFC 3515 REFER with RFC 3892's sipfrag progress, RFC 3891 Replaces): while a call is bridged, the phone
on its far side may hand the caller on.

- **Blind**: ``Refer-To: <sip:NUMBER@…>``. Accepted (202), then NOTIFYs: ``100 Trying``, and ``200 OK`` once the
  number reaches a callflow of the account — the transferor leaves (calltape sends BYE if its phone does not) and
  the caller goes on into that callflow — or ``404 Not Found``, and the bridge stands.
- **Attended**: ``Refer-To: <sip:…?Replaces=CALL-ID;to-tag=…;from-tag=…>`` naming the transferor's other call
  through calltape (the consultation call, answered). The caller is bridged to that call's other party, both of
  the transferor's legs end, and the consultation call ends without its other party. A Replaces that names no
  call of ours gets 481, one of another account 403.

Either way the caller's call, recordings and taps go on: the new party is heard in the same channel, each
transfer is noted for the recordings' metadata, and a recording asked not to follow a transfer ends there. A REFER
from the caller's own side, or while nothing is bridged, gets 403.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol
from urllib.parse import unquote

from calltape.callflow.call_api import AccountDocuments, CallEndedError, TransferredError
from calltape.media.clock import MediaTimeline
from calltape.recording.call_recordings import CallRecordings
from calltape.recording.metadata import Transfer
from calltape.sip.address import parse_address
from calltape.sip.events import RequestReceived
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.uri import SipUri
from calltape.switch.bridge import Bridge, HoldMusicSource
from calltape.switch.leg import InboundLeg, Leg

log = logging.getLogger(__name__)

SUBSCRIPTION_SECONDS = 60


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


class TransferringCall(Protocol):
    """What transfers use of a call."""

    call_id: str
    account_id: str
    a_leg: InboundLeg
    legs: list[Leg]
    transfers: list[Transfer]
    recordings: CallRecordings
    joined: Joined | None
    ended: asyncio.Event
    dtmf: Any  # DigitBus: .publish

    @property
    def timeline(self) -> MediaTimeline: ...
    @property
    def hold_music(self) -> HoldMusicSource: ...


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
        callee = joined.callee
        callee.on_refer = lambda event, callee=callee: callee.host.spawn(_refer(call, services, callee, event))
        ended: asyncio.Future[Any] = asyncio.ensure_future(call.ended.wait())
        try:
            await asyncio.wait({ended, transfer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            callee.on_refer = None
        if call.ended.is_set() or not transfer.done() or transfer.exception() is not None:
            raise CallEndedError()
        request = transfer.result()
        _note(call, joined.bridge, request)
        if request.join is None:
            assert request.callflow_id is not None
            call.joined = None
            raise TransferredError(request.callflow_id)
        joined = _join(call, request.join)


def hang_up_caller_when_gone(call: TransferringCall) -> Callable[[Leg], None]:
    """An end hook for a bridged party: the caller is hung up when the party that is bridged to it leaves (not
    one that was transferred away)."""

    def gone(leg: Leg) -> None:
        if call.joined is not None and call.joined.callee is leg:
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


def notify(leg: Leg, status_line: str, *, final: bool) -> None:
    """Tell the transferor how its transfer goes: a NOTIFY in the REFER's dialog with *status_line* as sipfrag."""
    if leg.dialog is None or leg.ended.is_set():
        return
    state = "terminated;reason=noresource" if final else f"active;expires={SUBSCRIPTION_SECONDS}"
    request = leg.dialog.create_request(
        "NOTIFY",
        leg.host.via_for(leg.peer, leg.local_address),
        body=f"{status_line}\r\n".encode(),
        content_type="message/sipfrag;version=2.0",
    )
    request.headers.add("Event", "refer")
    request.headers.add("Subscription-State", state)
    leg.host.send_request(request, leg.peer, leg)


async def _refer(call: TransferringCall, services: TransferServices, transferor: Leg, event: RequestReceived) -> None:
    """The bridged phone asks to transfer the caller: the REFER answered, and the outcome NOTIFYed."""
    respond = transferor.host.respond
    target = refer_target(event)
    joined = call.joined
    transfer = joined.transfer if joined is not None else None
    if target is None or transfer is None or transfer.done():
        respond(event.transaction, event.response(403, "Transfer not possible"))
        return
    if target.replaces is not None:
        other, status = _consultation(call, services, target.replaces)
        if other is None:
            respond(event.transaction, event.response(status))
            return
        respond(event.transaction, event.response(202))
        notify(transferor, "SIP/2.0 200 OK", final=True)
        transfer.set_result(TransferRequest(transferor, target.number, join=_take_party(other)))
        return
    respond(event.transaction, event.response(202))
    notify(transferor, "SIP/2.0 100 Trying", final=False)
    callflow_id = await services.documents.callflow_for(call.account_id, target.number)
    if callflow_id is None or transfer.done() or call.ended.is_set():
        log.info("call-id %s: transfer to %s refused: no callflow reaches it", call.call_id, target.number)
        notify(transferor, "SIP/2.0 404 Not Found", final=True)
        return
    notify(transferor, "SIP/2.0 200 OK", final=True)
    transfer.set_result(TransferRequest(transferor, target.number, callflow_id))


def _consultation(
    call: TransferringCall, services: TransferServices, replaces: tuple[str, str, str]
) -> tuple[TransferringCall | None, int]:
    """The transferor's answered consultation call that *replaces* names, or why not (481, 403)."""
    call_id, to_tag, from_tag = replaces
    other = services.call_of_leg(call_id)
    dialog = other.a_leg.dialog if other is not None else None
    if other is None or dialog is None or (dialog.local_tag, dialog.remote_tag) != (to_tag, from_tag):
        return None, 481
    if other.account_id != call.account_id:
        return None, 403
    if other is call or other.joined is None or other.joined.bridge is None or other.joined.transfer is None:
        return None, 481
    return other, 202


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


def _note(call: TransferringCall, bridge: Bridge, request: TransferRequest) -> None:
    """The transferor leaves; the transfer is noted for the recordings."""
    bridge.unbridge()
    call.transfers.append(Transfer(time.time(), request.transferor.call_id, request.number))
    call.recordings.transferred()
    call.a_leg.host.spawn(request.transferor.hangup())  # its phone usually hangs up first; if not, BYE
    log.info("call-id %s: transferred by %s to %s", call.call_id, request.transferor.call_id, request.number)


def _join(call: TransferringCall, party: Leg) -> Joined:
    """Bridge the caller to *party* (another call's, until now), on this call's timeline."""
    assert party.media is not None
    party.media.follow(call.timeline)
    call.legs.append(party)
    joined = Joined(party, Bridge(call.a_leg, party, call.dtmf.publish, call.hold_music))
    call.joined = joined
    party.on_end(hang_up_caller_when_gone(call))
    if party.ended.is_set():
        raise CallEndedError()
    return joined
