"""The vocabulary modules use. A module sees a call only through this; never SIP or RTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from calltape.recording.caller_recorder import Recorded
from calltape.recording.request import RecordingRequest
from calltape.switch.call_types import BUSY_STATUSES as BUSY_STATUSES
from calltape.switch.call_types import BridgeFailure as BridgeFailure
from calltape.switch.call_types import CallEndedError as CallEndedError
from calltape.switch.call_types import CallParty as CallParty
from calltape.switch.call_types import Endpoint as Endpoint
from calltape.switch.call_types import EndpointKind as EndpointKind
from calltape.switch.call_types import OffnetRequest as OffnetRequest
from calltape.switch.call_types import RingOptions as RingOptions
from calltape.switch.call_types import TransferredError as TransferredError
from calltape.switch.directory import AccountDocuments as AccountDocuments
from calltape.switch.directory import Mailboxes as Mailboxes


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
        """True while a ``record_call`` recording runs or waits to start (a toggle then stops it)."""

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
