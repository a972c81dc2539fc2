"""The vocabulary modules use. A module sees a call only through this; never SIP or RTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from calltape.recording.caller_recorder import Recorded
from calltape.recording.request import RecordingRequest


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


class Mailboxes(Protocol):
    """Voicemail boxes and their messages, as the ``voicemail`` module needs them."""

    async def box(self, account_id: str, box_id: str) -> dict[str, Any] | None: ...
    async def box_for_mailbox(self, account_id: str, mailbox: str) -> dict[str, Any] | None: ...
    async def counts(self, account_id: str, box_id: str) -> dict[str, int]: ...
    async def messages(self, account_id: str, box_id: str) -> list[dict[str, Any]]: ...
    def new_message(self, account_id: str, box_id: str) -> tuple[str, Path]: ...
    async def save_message(
        self, account_id: str, box: dict[str, Any], message_id: str, doc: dict[str, Any]
    ) -> dict[str, Any]: ...
    async def set_folder(self, account_id: str, box_id: str, message_id: str, folder: str) -> None: ...
    async def box_full(self, account_id: str, box: dict[str, Any], limit: int, call_id: str) -> None:
        """A caller found *box* full (its people are told)."""

    async def forward_message(
        self, account_id: str, box: dict[str, Any], message: dict[str, Any], to_box: dict[str, Any]
    ) -> dict[str, Any]:
        """A copy of *message* left in *to_box* as new (its people told as of any new message); the copy."""

    def draft_path(self, account_id: str, box_id: str) -> Path:
        """Where a greeting or name being recorded by phone goes until it is kept."""

    async def keep_recorded(self, account_id: str, box: dict[str, Any], what: str, recorded: Path) -> dict[str, Any]:
        """A greeting (``unavailable``, ``temporary_unavailable``) or the ``name`` recorded by phone is the box's
        now; the box as it is now."""

    async def forget_greeting(self, account_id: str, box: dict[str, Any], what: str) -> dict[str, Any]:
        """The box no longer plays that greeting; the box as it is now."""

    async def set_pin(self, account_id: str, box: dict[str, Any], pin: str) -> dict[str, Any]:
        """The box's new PIN; the box as it is now."""

    def audio_path(self, account_id: str, box_id: str, message_id: str) -> Path: ...


class AccountDocuments(Protocol):
    """An account's documents as callflow modules read them (menus, groups, temporal rules, …)."""

    async def get(self, account_id: str, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    async def save(self, account_id: str, collection: str, doc: dict[str, Any]) -> None: ...
    async def callflow_for(self, account_id: str, number: str) -> str | None:
        """The id of the callflow a number reaches in the account (not its ``no_match``), if any."""

    async def timezone(self, account_id: str) -> str:
        """The account's ``timezone``, else the node's default."""

    async def resources(self, account_id: str | None) -> list[dict[str, Any]]:
        """Carriers: the account's own, or (None) the platform's."""


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


class CallContext(Protocol):
    """Who and where the call is: what every module may read."""

    call_id: str
    account_id: str
    number: str  # the dialled number
    variables: dict[str, Any]
    caller: CallParty
    children: tuple[str, ...]  # the keys of the running node's children, in order (what cf_exe:attempt asks)

    @property
    def mailboxes(self) -> Mailboxes:
        """Voicemail boxes and messages."""

    @property
    def documents(self) -> AccountDocuments:
        """The account's documents."""

    def now(self) -> float:
        """Unix time (the node's clock: tests set it)."""

    async def caller_owner_id(self) -> str | None:
        """The user who owns the calling device, when a device of ours calls and has an owner."""

    async def hangup(self) -> None: ...


class Playback(Protocol):
    """What the caller hears from the flow."""

    async def answer(self) -> None: ...
    async def say(self, text: str, voice: str = "female", language: str = "en-us") -> None: ...
    async def play_media(self, media: str) -> None: ...
    async def play_prompt(self, prompt: str) -> None:
        """Play a media id, an http(s) URL or ``tts://text``."""

    async def play_tone(self, name: str | None, frequencies: tuple[float, ...], seconds: float) -> None: ...
    async def play_file(self, path: Path) -> None: ...
    async def sleep(self, seconds: float) -> None: ...
    async def echo(self, seconds: float | None) -> None: ...


class Keys(Protocol):
    """The caller's key presses."""

    async def collect_digits(self, max_digits: int, timeout: float, terminators: str = "#") -> str: ...
    async def collect_during(
        self, prompt: str | None, max_digits: int, timeout: float, interdigit: float, terminators: str = "#"
    ) -> str:
        """Play *prompt* (a media id, an http(s) URL or ``tts://text``) and collect digits meanwhile: the first key
        stops the prompt; *timeout* seconds after the prompt for the first key, *interdigit* between keys."""


class Ringing(Protocol):
    """Reaching others: phones, carriers, or a chosen refusal."""

    async def bridge(self, endpoints: list[Endpoint], options: RingOptions) -> BridgeFailure:
        """Ring; bridge the first to answer until the call ends (CallEndedError). If nobody answers: why."""

    async def bridge_offnet(self, request: OffnetRequest) -> BridgeFailure:
        """Call out through the carriers whose rules match, each gateway in turn (a busy callee ends the attempt),
        and bridge the answer until the call ends (CallEndedError). If none answered: why (``NO_ROUTE_DESTINATION``
        when no carrier matched)."""

    async def respond(self, status: int, reason: str | None, prompt: str | None) -> None:
        """Refuse an unanswered call with a SIP *status* (after *prompt* as early media); hang up an answered one."""


class Recorder(Protocol):
    """Recording the call, or only the caller."""

    async def record_call(self, request: RecordingRequest, *, on_answer: bool = False, on_bridge: bool = False) -> None:
        """Start recording the call (what the caller says and hears), now or once it is answered or bridged;
        it runs until ``stop_recordings``, its time limit or hangup, and is then delivered."""

    async def stop_recordings(self) -> None:
        """End every ``record_call`` recording of the call."""

    @property
    def recording(self) -> bool:
        """True while a ``record_call`` recording runs."""

    def mask_recordings(self, masked: bool) -> None:
        """While masked, recordings take silence instead of the call's audio."""

    def pause_recordings(self, paused: bool) -> None:
        """While paused, recordings capture nothing (each file leaves the time out or keeps it silent)."""

    async def record_caller(
        self, path: Path, *, max_seconds: float, silence_seconds: float | None, stop_keys: str = "#"
    ) -> Recorded:
        """Answer, and record what the caller says into a WAV at *path* until a stop key, silence, the limit or
        hangup (then the call is over, but the recording is kept)."""

    async def record_caller_to(
        self, request: RecordingRequest, silence_seconds: float | None, silence_threshold: int
    ) -> Recorded:
        """Answer, record only the caller until any key, silence, the time limit or hangup, and deliver it
        (to ``url/<CALL_ID>.<EXT>`` with no query string)."""


class CallApi(CallContext, Playback, Keys, Ringing, Recorder, Protocol):
    """Everything a running call offers (what the engine hands each module). A module names in its signature
    only the parts it uses (``CallContext`` and some of ``Playback``, ``Keys``, ``Ringing``, ``Recorder``)."""
