"""The vocabulary modules use. A module sees a call only through this; never SIP or RTP."""

from __future__ import annotations

from typing import Any, Protocol


class CallEndedError(Exception):
    """The call is over (the caller hung up, cancelled, or the media timed out)."""


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
    async def hangup(self) -> None: ...
