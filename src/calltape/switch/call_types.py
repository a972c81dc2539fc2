"""What a call is asked for and what comes of it: how to ring, whom, through which carriers; why nobody answered;
the errors that end a callflow's wait. The call model speaks these; the callflow modules name them through
``callflow/call_api.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


class CallEndedError(Exception):
    """The call is over (the caller hung up, cancelled, or the media timed out)."""


class TransferredError(Exception):
    """The caller was transferred (a REFER from the other party): the flow goes on in another callflow."""

    def __init__(self, callflow_id: str) -> None:
        super().__init__(callflow_id)
        self.callflow_id = callflow_id


@dataclass(frozen=True)
class CallParty:
    """Who is calling, as far as SIP says."""

    number: str
    name: str


class EndpointKind(StrEnum):
    """What an :class:`Endpoint` names (Kazoo's endpoint types)."""

    DEVICE = "device"
    USER = "user"


@dataclass(frozen=True)
class Endpoint:
    """Something a callflow rings: a device, or every device a user owns; a ring group's member starts ringing
    *delay* seconds in and rings for its own *timeout* (None: the node's)."""

    kind: EndpointKind
    id: str
    delay: float = 0.0
    timeout: float | None = None


@dataclass(frozen=True)
class RingOptions:
    """How to ring (Kazoo's ``user``/``device``/``ring_group`` data)."""

    timeout: float = 20.0
    strategy: Literal["simultaneous", "single"] = "simultaneous"
    can_call_self: bool = False
    suppress_clid: bool = False
    custom_sip_headers: dict[str, str] = field(default_factory=dict)
    fail_on_single_reject: bool = False  # one phone's rejection ends the attempt for all
    ignore_forward: bool = False  # ring the devices themselves, not where they forward to
    ringback: str | None = None  # what the caller hears while the phones ring (a media id, URL or tts://text)
    ignore_early_media: bool = False  # the caller never hears a ringing phone's early media


@dataclass(frozen=True)
class OffnetRequest:
    """A call out to the public network through carriers (Kazoo's ``resources`` / ``offnet`` data)."""

    number: str  # as dialled (``to_did``, else the call's number)
    local_resources: bool  # the account's own carriers, else the platform's
    caller_id_type: str = "external"  # which caller ID the carrier is shown: external, internal or emergency
    timeout: float = 60.0  # how long each gateway may ring
    flags: tuple[str, ...] = ()  # a carrier must carry all of them
    normalize: bool = True  # to E.164 first (false: Kazoo's ``bypass_e164`` / ``do_not_normalize``)
    custom_sip_headers: dict[str, str] = field(default_factory=dict)


BUSY_STATUSES = frozenset({486, 600, 603})


@dataclass(frozen=True)
class BridgeFailure:
    """Why nobody was bridged: the cause as Kazoo names it (``USER_BUSY``, ``NO_ANSWER``, …; empty when there was
    nothing to ring) and the SIP status that decided it (None when nothing answered at all)."""

    cause: str
    sip_status: int | None = None

    @property
    def busy(self) -> bool:
        """Every phone that answered was busy (or declined)."""
        return self.sip_status in BUSY_STATUSES

    def branches(self) -> tuple[str, ...]:
        """The children a flow may have for it, in Kazoo's order (cause, then ``sip:<status>``; then calltape's
        older ``busy``)."""
        keys = [self.cause] if self.cause else []
        if self.sip_status is not None:
            keys.append(f"sip:{self.sip_status}")
        if self.busy:
            keys.append("busy")
        return tuple(keys)
