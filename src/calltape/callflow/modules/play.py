"""``play``: play an uploaded media (by id) or a file at an http(s) URL (fetched once, then cached)."""

from __future__ import annotations

from pydantic import Field

from calltape.callflow.call_api import Playback
from calltape.callflow.module import Branch, Module, ModuleData, register


class PlayData(ModuleData):
    """Which media."""

    id: str = Field(min_length=1, pattern=r"^([0-9a-fA-F]{32}|https?://\S+)$")


async def run(call: Playback, data: PlayData) -> Branch:
    """Answer if needed, then play."""
    await call.play_media(data.id)
    return None


MODULE = register(Module("play", PlayData, run))
