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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from calltape.callflow.call_api import RecordingRequest
from calltape.recording.names import MIN_TIME_LIMIT, SAMPLE_RATES, check_url

Direction = Literal["inbound", "outbound"]
Network = Literal["onnet", "offnet"]


class RecordingLeaf(BaseModel):
    """One direction and network's automatic recording."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = False
    format: Literal["mp3", "wav"] | None = None
    url: str | None = None
    method: Literal["put", "post"] = "put"
    time_limit: float | None = Field(None, ge=MIN_TIME_LIMIT)
    record_min_sec: float | None = Field(None, ge=0)
    record_on_answer: bool = False
    record_on_bridge: bool = False
    record_sample_rate: int = 8000

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value) if value else None

    @field_validator("record_sample_rate")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value not in SAMPLE_RATES:
            raise ValueError(f"must be one of {', '.join(map(str, SAMPLE_RATES))}")
        return value

    def request(self, label: str) -> RecordingRequest:
        """What to record."""
        return RecordingRequest(
            format=self.format,
            url=self.url,
            method=self.method,
            time_limit=self.time_limit,
            record_min_sec=self.record_min_sec,
            sample_rate=self.record_sample_rate,
            label=label,
        )


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
