"""Automatic recording: an account's, user's or device's ``call_recording`` settings (Kazoo's shape).

``{"call_recording": {"inbound": {"onnet": LEAF, "offnet": LEAF}, "outbound": {...}}}``, where ``any``
stands for both networks and a LEAF holds enabled, format, url, time_limit, record_min_sec,
record_on_answer, record_on_bridge and record_sample_rate. For an endpoint (device or user), inbound
means calls *to* it and outbound calls *from* it; for the account, inbound means calls that come into it.
A call from one of the account's devices is on-net, one from outside (a trusted carrier) off-net. A
device's settings win over its owner's; the account's apply independently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from calltape.recording.options import RecordingOptions

Direction = Literal["inbound", "outbound"]
Network = Literal["onnet", "offnet"]


class RecordingLeaf(RecordingOptions):
    """One direction and network's automatic recording."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = False


class DirectionSettings(BaseModel):
    """``onnet``, ``offnet`` and ``any`` for one direction."""

    model_config = ConfigDict(extra="allow")
    onnet: RecordingLeaf | None = None
    offnet: RecordingLeaf | None = None
    any: RecordingLeaf | None = None


class CallRecordingSettings(BaseModel):
    """A ``call_recording`` object (checked when an account, user or device is saved)."""

    model_config = ConfigDict(extra="allow")
    inbound: DirectionSettings | None = None
    outbound: DirectionSettings | None = None
    any: DirectionSettings | None = None


def leaf_for(doc: dict[str, Any] | None, direction: Direction, network: Network) -> RecordingLeaf | None:
    """The enabled leaf of *doc*'s ``call_recording`` for this direction and network, if any."""
    raw = (doc or {}).get("call_recording")
    if not isinstance(raw, dict):
        return None
    try:
        settings = CallRecordingSettings.model_validate(raw)
    except ValidationError:
        return None  # stored before validation existed: ignored rather than guessed
    for side in (getattr(settings, direction), settings.any):
        if side is None:
            continue
        for leaf in (getattr(side, network), side.any):
            if leaf is not None and leaf.enabled:
                return leaf
    return None


def endpoint_leaf(
    device: dict[str, Any] | None, owner: dict[str, Any] | None, direction: Direction, network: Network
) -> RecordingLeaf | None:
    """A device's leaf, else its owner's."""
    return leaf_for(device, direction, network) or leaf_for(owner, direction, network)
