"""``ring_group``: ring users, devices and groups together or in turn, each member from its own delay for its own
time, as Kazoo's cf_ring_group does.

Members resolve to devices: a user to the devices it owns, a group (``/groups``) to its members, depth first;
a member whose ``disable_until`` (Gregorian seconds) lies ahead is left out, as are repeats of the same member with
the same delay and time. ``simultaneous`` rings all (the earliest delays first), ``single`` one after another in
member order, ``weighted_random`` one after another in a random order weighted by ``weight`` (1–100, 20 by
default). Nobody answered: the failure's child (cause, then ``sip:<status>``) ends the node; otherwise the group
rings again, ``repeats`` times in all, and then ``_`` runs.
"""

from __future__ import annotations

import random
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from calltape.callflow.call_api import CallContext, Endpoint, EndpointKind, Ringing, RingOptions
from calltape.callflow.module import Branch, Module, ModuleData, register


class RingGroupCall(CallContext, Ringing, Protocol):
    """What this module uses of a call."""


GREGORIAN_TO_UNIX = 62167219200  # seconds from year 0 (Kazoo's Gregorian seconds) to 1970
DEFAULT_WEIGHT = 20
MEMBER_TIMEOUT = 20
MAX_GROUP_DEPTH = 10


class Member(BaseModel):
    """One of a ring group's ``endpoints``."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=128)
    endpoint_type: Literal["device", "user", "group"] = "device"
    delay: int = Field(0, ge=0, le=300)
    timeout: int = Field(MEMBER_TIMEOUT, ge=1, le=3600)
    weight: int | None = None
    disable_until: int = 0


class RingGroupData(ModuleData):
    """Kazoo's ``ring_group`` data (callflows.ring_group.json)."""

    endpoints: list[Member] = Field(min_length=1)
    strategy: Literal["simultaneous", "single", "weighted_random"] = "simultaneous"
    timeout: int = Field(20, ge=1, le=3600)
    repeats: int = Field(1, ge=1, le=20)
    fail_on_single_reject: bool = False
    ignore_forward: bool = True
    ringback: str | None = None


async def run(call: RingGroupCall, data: RingGroupData) -> Branch:
    """Ring the group (``repeats`` times); the failure's child if the flow has one, else ``_``."""
    options = RingOptions(
        timeout=float(data.timeout),
        strategy="simultaneous" if data.strategy == "simultaneous" else "single",
        fail_on_single_reject=data.fail_on_single_reject,
        ignore_forward=data.ignore_forward,
        ringback=data.ringback,
        ignore_early_media=True,  # as Kazoo's cf_ring_group bridges: one member's 183 must not hold the caller
    )
    for _ in range(data.repeats):
        members = await _resolve(call, data.endpoints, data.strategy)
        if not members:
            return None
        failure = await call.bridge(_order(members, data.strategy), options)
        if any(key in call.children for key in failure.branches()):
            return failure.branches()
    return None


async def _resolve(call: RingGroupCall, members: list[Member], strategy: str) -> list[tuple[Endpoint, int]]:
    """Members as endpoints (users and devices) with their weights: groups opened once each, a member seen again
    with the same delay and time left out, disabled members left out (Kazoo's ``resolve_endpoint_ids``)."""
    now = call.now() + GREGORIAN_TO_UNIX
    found: list[tuple[Endpoint, int]] = []
    seen: set[tuple[str, float, float | None]] = set()
    opened: set[str] = set()

    async def walk(members: list[Member], depth: int) -> None:
        for member in members:
            if member.disable_until > now:
                continue
            if member.endpoint_type == "group":
                if depth < MAX_GROUP_DEPTH and member.id not in opened:
                    opened.add(member.id)
                    await walk(await _group_members(call, member, strategy), depth + 1)
                continue
            kind = EndpointKind.USER if member.endpoint_type == "user" else EndpointKind.DEVICE
            endpoint = Endpoint(kind, member.id, float(member.delay), float(member.timeout))
            if (member.id, endpoint.delay, endpoint.timeout) not in seen:
                seen.add((member.id, endpoint.delay, endpoint.timeout))
                found.append((endpoint, _weight(member.weight, DEFAULT_WEIGHT)))

    await walk(members, 0)
    return found


async def _group_members(call: RingGroupCall, member: Member, strategy: str) -> list[Member]:
    """A group's members, with the member's delay and time as their defaults and its weight; for ``single``, only
    those with a weight of their own, lightest first (as Kazoo orders a group's members)."""
    group = await call.documents.get(call.account_id, "groups", member.id)
    endpoints = (group or {}).get("endpoints")
    entries = [(key, spec) for key, spec in (endpoints or {}).items() if isinstance(spec, dict)]
    if strategy == "single":
        entries = [(key, spec) for key, spec in entries if spec.get("weight") is not None]
        entries.sort(key=lambda entry: _weight(entry[1]["weight"], 0))
    return [
        Member(
            id=key,
            endpoint_type=spec.get("type", "device"),
            delay=spec.get("delay", member.delay),
            timeout=spec.get("timeout", member.timeout),
            weight=member.weight,
        )
        for key, spec in entries
    ]


def _weight(value: object, default: int) -> int:
    if not isinstance(value, int):
        return default
    return max(1, min(100, value))


def _order(members: list[tuple[Endpoint, int]], strategy: str) -> list[Endpoint]:
    if strategy == "weighted_random":
        return _weighted_random(members)
    if strategy == "simultaneous":
        return sorted((endpoint for endpoint, _ in members), key=lambda endpoint: endpoint.delay)
    return [endpoint for endpoint, _ in members]


def _weighted_random(members: list[tuple[Endpoint, int]]) -> list[Endpoint]:
    """An order in which a heavier member is likelier to come first (each pick weighted by what is left)."""
    left = list(members)
    ordered = []
    while left:
        pick = random.choices(range(len(left)), weights=[weight for _, weight in left])[0]
        ordered.append(left.pop(pick)[0])
    return ordered


MODULE = register(Module("ring_group", RingGroupData, run))
