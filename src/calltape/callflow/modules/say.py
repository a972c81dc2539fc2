"""``say`` (Kazoo's ``tts``): speak text with the TTS engine."""

from __future__ import annotations

from pydantic import Field

from calltape.callflow.call_api import Playback
from calltape.callflow.module import Branch, Module, ModuleData, register


class SayData(ModuleData):
    """What to say and how."""

    text: str = Field(min_length=1, max_length=4000)
    voice: str = "female"
    language: str = Field("en-us", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


async def run(call: Playback, data: SayData) -> Branch:
    """Answer if needed, then speak."""
    await call.say(data.text, data.voice, data.language)
    return None


MODULE = register(Module("say", SayData, run), "tts")
