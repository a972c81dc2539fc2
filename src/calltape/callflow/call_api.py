"""The vocabulary modules use. A module sees a call only through this; never SIP or RTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


class CallEndedError(Exception):
    """The call is over (the caller hung up, cancelled, or the media timed out)."""


@dataclass(frozen=True)
class Endpoint:
    """Something a callflow rings: a device, or every device a user owns."""

    kind: Literal["device", "user"]
    id: str


@dataclass(frozen=True)
class RingOptions:
    """How to ring (Kazoo's ``user``/``device`` data)."""

    timeout: float = 20.0
    strategy: Literal["simultaneous", "single"] = "simultaneous"
    can_call_self: bool = False
    suppress_clid: bool = False
    custom_sip_headers: dict[str, str] = field(default_factory=dict)


class CallApi(Protocol):
    """What a running call offers to callflow modules."""

    call_id: str
    account_id: str
    number: str  # the dialled number
    variables: dict[str, Any]

    async def answer(self) -> None: ...
    async def say(self, text: str, voice: str = "female", language: str = "en-us") -> None: ...
    async def play_media(self, media: str) -> None: ...
    async def play_tone(self, name: str | None, frequencies: tuple[float, ...], seconds: float) -> None: ...
    async def sleep(self, seconds: float) -> None: ...
    async def collect_digits(self, max_digits: int, timeout: float, terminators: str = "#") -> str: ...
    async def echo(self, seconds: float | None) -> None: ...
    async def bridge(self, endpoints: list[Endpoint], options: RingOptions) -> str | None:
        """Ring; bridge the first to answer until the call ends (CallEndedError). If nobody answers:
        ``"busy"`` when every answer was busy, else None."""

    async def hangup(self) -> None: ...
