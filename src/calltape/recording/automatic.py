"""Automatic recording: ``call_recording`` on accounts, users and devices, read as Kazoo 4.3 reads it.

An account holds ``call_recording.account`` (calls into or out of the account as a whole) and
``call_recording.endpoint`` (the default for each of its endpoints); a user or a device holds the endpoint
shape itself. Each is ``{inbound|outbound|any: {onnet|offnet|any: LEAF}}``, where ``any`` stands for both and a
LEAF holds enabled, format, url, time_limit, record_min_sec, record_on_answer, record_on_bridge and
record_sample_rate. ``any`` is spread over both directions and networks first, the named one winning field by
field; an endpoint's settings are then merged field by field: the account's ``endpoint``, its owner, the
device. An endpoint's legacy ``record_call: true`` records every call it takes or makes.

Inbound is from the network the call came from (on-net: one of the account's devices; off-net: a carrier),
outbound to the network it goes to (off-net: a carrier; a device with a static route stands for one until
carriers exist). Each rule that fires says so in the recording's ``origin``, as Kazoo writes it.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from calltape.recording.options import RecordingOptions

log = logging.getLogger(__name__)

Direction = Literal["inbound", "outbound"]
Network = Literal["onnet", "offnet"]
DIRECTIONS: tuple[Direction, ...] = ("inbound", "outbound")
NETWORKS: tuple[Network, ...] = ("onnet", "offnet")
_OLD_SHAPE = {"inbound", "outbound", "any"}  # calltape before 2026-12: the account's rules at the top level
_said_old_shape: set[str] = set()


class RecordingLeaf(RecordingOptions):
    """One direction and network's automatic recording."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = False


class NetworkSettings(BaseModel):
    """``onnet``, ``offnet`` and ``any`` for one direction."""

    model_config = ConfigDict(extra="allow")
    onnet: RecordingLeaf | None = None
    offnet: RecordingLeaf | None = None
    any: RecordingLeaf | None = None


class EndpointRecording(BaseModel):
    """A user's or device's ``call_recording`` (and the account's ``account`` and ``endpoint`` parts)."""

    model_config = ConfigDict(extra="allow")
    inbound: NetworkSettings | None = None
    outbound: NetworkSettings | None = None
    any: NetworkSettings | None = None


class AccountRecording(EndpointRecording):
    """An account's ``call_recording``: ``account`` and ``endpoint`` (the top-level directions are the shape
    calltape used before, read as ``account``)."""

    account: EndpointRecording | None = None
    endpoint: EndpointRecording | None = None


Rules = dict[str, dict[str, dict[str, Any]]]  # direction -> network -> leaf fields, ``any`` spread out


def _merged(*layers: Any) -> dict[str, Any]:
    """Objects merged field by field, deeply; a later layer wins."""
    out: dict[str, Any] = {}
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        for key, value in layer.items():
            out[key] = _merged(out.get(key), value) if isinstance(value, dict) else value
    return out


def spread(settings: Any) -> Rules:
    """``{direction: {network: leaf}}`` with every ``any`` spread over what it stands for."""
    settings = settings if isinstance(settings, dict) else {}
    rules: Rules = {}
    for direction in DIRECTIONS:
        side = _merged(settings.get("any"), settings.get(direction))
        rules[direction] = {network: _merged(side.get("any"), side.get(network)) for network in NETWORKS}
    return rules


def account_rules(account: dict[str, Any] | None) -> tuple[Rules, Rules]:
    """An account's (``account``, ``endpoint``) rules."""
    raw = (account or {}).get("call_recording")
    if not isinstance(raw, dict):
        return spread(None), spread(None)
    if "account" not in raw and "endpoint" not in raw and _OLD_SHAPE & raw.keys():
        account_id = str((account or {}).get("id", ""))
        if account_id not in _said_old_shape:
            _said_old_shape.add(account_id)
            log.warning(
                "account %s: call_recording in calltape's old shape (no 'account' level): read as "
                "call_recording.account; save it as Kazoo's shape",
                account_id,
            )
        return spread(raw), spread(None)
    return spread(raw.get("account")), spread(raw.get("endpoint"))


def _endpoint_settings(doc: dict[str, Any] | None) -> Any:
    """An endpoint's own ``call_recording``, or what its legacy ``record_call`` stands for."""
    doc = doc or {}
    if isinstance(doc.get("call_recording"), dict):
        return doc["call_recording"]
    legacy = doc.get("record_call")
    fields = legacy if isinstance(legacy, dict) else {"record_call": legacy}
    if fields.get("record_call") is not True:
        return None
    leaf = {key: value for key, value in fields.items() if key not in ("record_call", "action")}
    return {"any": {"any": {**leaf, "enabled": True}}}


def endpoint_rules(
    account: dict[str, Any] | None, owner: dict[str, Any] | None, device: dict[str, Any] | None
) -> Rules:
    """An endpoint's rules: the account's ``endpoint``, its owner's and its own, merged field by field."""
    _, account_endpoint = account_rules(account)
    return _merged(account_endpoint, spread(_endpoint_settings(owner)), spread(_endpoint_settings(device)))


def enabled_leaf(rules: Rules, direction: Direction, network: Network) -> RecordingLeaf | None:
    """The rule for *direction* and *network* if it is enabled (a leaf that no longer checks is ignored)."""
    fields = rules.get(direction, {}).get(network) or {}
    if fields.get("enabled") is not True:
        return None
    try:
        return RecordingLeaf.model_validate(fields)
    except ValueError as exc:
        log.warning("call_recording %s %s not used: %s", direction, network, exc)
        return None


def origin(direction: Direction, network: Network, whose: Literal["account", "endpoint"]) -> str:
    """The rule's name in the recording's ``origin``, as Kazoo writes it."""
    if direction == "inbound":
        return f"inbound from {network} to {whose}"
    return f"outbound to {network} from {whose}"
