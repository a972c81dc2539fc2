"""What a recording says about a call (Kazoo's metadata): who called whom, through what, and what happened."""

from __future__ import annotations

from typing import Protocol

from calltape.recording.metadata import CallFacts, Transfer
from calltape.sip.uri import SipUri, parse_uri
from calltape.switch.call_types import CallParty
from calltape.switch.hold_music import HoldMusic
from calltape.switch.leg import InboundLeg, Leg
from calltape.switch.outbound import OutboundLeg
from calltape.switch.services import CallServices


class FactsOfCall(Protocol):
    """The parts of a call its facts are read from."""

    call_id: str
    account_id: str
    number: str
    caller: CallParty
    caller_device_id: str | None
    callflow_name: str
    interaction_id: str
    inbound: InboundLeg
    legs: list[Leg]
    transfers: list[Transfer]
    hold_music: HoldMusic
    services: CallServices


async def call_facts(call: FactsOfCall) -> CallFacts:
    """What a recording says about *call*, as it stands now."""
    request = call.inbound.request  # the caller's INVITE, whoever the party is now
    callee = next((leg for leg in reversed(call.legs) if isinstance(leg, OutboundLeg)), None)  # the latest
    owner_id = None
    if call.caller_device_id is not None:
        owner_id = await call.services.endpoints.owner_of(call.account_id, call.caller_device_id)
    return CallFacts(
        call_id=call.call_id,
        account_id=call.account_id,
        from_=_user_at_host(request.from_.uri),
        to=_user_at_host(request.to.uri),
        request=_user_at_host(parse_uri(request.uri)),
        caller_id_number=call.caller.number,
        caller_id_name=call.caller.name,
        callee_id_number=call.number,
        owner_id=owner_id,
        callee_owner_id=callee.target.owner_id if callee is not None else None,
        endpoint_id=callee.target.device_id if callee is not None else call.caller_device_id,
        interaction_id=call.interaction_id,
        origin=f"callflow : {call.callflow_name}" if call.callflow_name else "callflow",
        transfers=tuple(call.transfers),
        holds=call.hold_music.all_holds(),
    )


def _user_at_host(uri: object) -> str:
    """``user@host`` of a SIP URI (Kazoo's ``from``, ``to`` and ``request``)."""
    if isinstance(uri, SipUri):
        return f"{uri.user_unescaped or ''}@{uri.host}" if uri.user_unescaped else uri.host
    return ""
