"""A recording's metadata document, with Kazoo's fields (KAZOO-COMPAT.md, "Recording metadata document")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calltape.media.formats import CONTENT_TYPES
from calltape.recording import names


@dataclass(frozen=True)
class Transfer:
    """The caller was transferred: when (Unix time), by which leg (its Call-ID), to which number."""

    at: float
    by: str
    to: str


@dataclass(frozen=True)
class Hold:
    """The call was on hold (music played to the held side): from when (Unix time), for how long."""

    at: float
    seconds: float


@dataclass(frozen=True)
class CallFacts:
    """What a recording says about its call, read when the recording ends (the callee is known by then)."""

    call_id: str
    account_id: str
    from_: str = ""  # user@host of the From header
    to: str = ""
    request: str = ""  # user@host of the Request-URI
    caller_id_number: str = ""
    caller_id_name: str = ""
    callee_id_number: str = ""
    callee_id_name: str = ""
    owner_id: str | None = None  # the A-leg's owner (the calling device's user), as Kazoo sends it
    callee_owner_id: str | None = None  # the owner of the device that took the call (calltape's own key)
    endpoint_id: str | None = None
    interaction_id: str = ""
    origin: str = ""
    direction: str = "inbound"
    custom_channel_vars: dict[str, Any] = field(default_factory=dict)
    transfers: tuple[Transfer, ...] = ()
    holds: tuple[Hold, ...] = ()


def kazoo_document(
    facts: CallFacts,
    *,
    recording_id: str,
    name: str,
    fmt: str,
    url: str,
    started_at: float,
    duration_ms: int,
    source_type: str,
) -> dict[str, Any]:
    """The metadata document Kazoo writes for a recording."""
    return {
        "name": name,
        "description": f"recording {name}",
        "content_type": CONTENT_TYPES[fmt],
        "media_type": fmt,
        "media_source": "recorded",
        "source_type": source_type,
        "from": facts.from_,
        "to": facts.to,
        "request": facts.request,
        "direction": facts.direction,
        "start": names.gregorian(started_at),
        "duration": round(duration_ms / 1000),
        "duration_ms": duration_ms,
        "caller_id_number": facts.caller_id_number,
        "caller_id_name": facts.caller_id_name,
        "callee_id_number": facts.callee_id_number,
        "callee_id_name": facts.callee_id_name,
        "call_id": facts.call_id,
        "endpoint_id": facts.endpoint_id,
        "owner_id": facts.owner_id,
        **({"callee_owner_id": facts.callee_owner_id} if facts.callee_owner_id else {}),
        "url": url,
        "cdr_id": names.cdr_id(facts.call_id, started_at),
        "interaction_id": facts.interaction_id,
        "origin": facts.origin,
        "custom_channel_vars": facts.custom_channel_vars,
        "recording_id": recording_id,
        **_transfers(facts.transfers, started_at),
        **_holds(facts.holds, started_at),
    }


def _transfers(transfers: tuple[Transfer, ...], started_at: float) -> dict[str, Any]:
    """calltape's ``transfers``: each transfer during the recording, seconds into it, by whom, to which number."""
    shown = [
        {"offset_s": round(t.at - started_at, 3), "by_call_id": t.by, "to": t.to}
        for t in transfers
        if t.at >= started_at
    ]
    return {"transfers": shown} if shown else {}


def stretches_document(stretches: dict[str, list[tuple[int, int]]]) -> dict[str, Any]:
    """``pauses`` and ``masks`` as the metadata lists them: each one's offset in the file and length, in seconds
    (from samples at 8 kHz); a kind with none is left out."""
    return {
        what: [{"offset": offset / 8000, "length": length / 8000} for offset, length in found]
        for what, found in stretches.items()
        if found
    }


def finished_document(doc: dict[str, Any], duration_ms: int) -> dict[str, Any]:
    """*doc* with the finished file's length."""
    return {**doc, "duration_ms": duration_ms, "duration": round(duration_ms / 1000)}


def _holds(holds: tuple[Hold, ...], started_at: float) -> dict[str, Any]:
    """calltape's ``holds``: each hold during the recording, seconds into it, and how long."""
    shown = [
        {"offset_s": round(max(0.0, h.at - started_at), 3), "length_s": round(h.seconds, 3)}
        for h in holds
        if h.at + h.seconds >= started_at
    ]
    return {"holds": shown} if shown else {}
