"""Active calls as ``GET /v2/accounts/{A}/channels`` lists them (Kazoo calls a live call a channel)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from calltape.switch.call import Call
from calltape.switch.leg import Leg
from calltape.switch.outbound import OutboundLeg


def live_legs(call: Call) -> list[Leg]:
    """The caller's leg and every bridged leg that has not ended."""
    return [call.a_leg, *(leg for leg in call.legs if not leg.ended.is_set())]


def describe(call: Call, recorded_calls: Collection[str], age: float, now: float) -> dict[str, Any]:
    """One call as JSON: who calls whom, since when (*age* seconds before Unix time *now*), its legs, whether it
    is being recorded (*recorded_calls*: call ids with a recording running)."""
    return {
        "uuid": call.call_id,
        "call_id": call.call_id,
        "account_id": call.account_id,
        "direction": "inbound",
        "caller_id_number": call.caller.number,
        "caller_id_name": call.caller.name,
        "destination": call.number,
        "callflow": call.callflow_name,
        "started": round(now - age, 3),
        "duration_s": round(age, 1),
        "answered": call.answered,
        "recording": call.recording or call.call_id in recorded_calls,
        "legs": [_leg(leg) for leg in live_legs(call)],
    }


def _leg(leg: Leg) -> dict[str, Any]:
    media = leg.media
    doc: dict[str, Any] = {
        "call_id": leg.call_id,
        "direction": "outbound" if isinstance(leg, OutboundLeg) else "inbound",
        "state": leg.state.value,
        "peer": f"{leg.peer.host}:{leg.peer.port}",
        "packets_in": media.packets_in if media is not None else 0,
        "packets_out": media.packets_out if media is not None else 0,
    }
    if isinstance(leg, OutboundLeg):
        doc["device_id"] = leg.target.device_id
        doc["owner_id"] = leg.target.owner_id
    return doc
