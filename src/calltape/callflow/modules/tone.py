"""``tone``: a beep, ringback, busy or dial tone, or any frequencies for a duration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from calltape.callflow.call_api import Playback
from calltape.callflow.module import Branch, Module, ModuleData, register


class ToneData(ModuleData):
    """A named tone, or frequencies (Hz) played for duration_ms."""

    name: Literal["beep", "ringback", "busy", "dialtone"] | None = None
    frequencies: list[float] = Field(default_factory=list, max_length=4)
    duration_ms: int = Field(1000, ge=20, le=600_000)


async def run(call: Playback, data: ToneData) -> Branch:
    """Answer if needed, then play the tone."""
    name = data.name if data.name or data.frequencies else "beep"
    await call.play_tone(name, tuple(data.frequencies), data.duration_ms / 1000)
    return None


MODULE = register(Module("tone", ToneData, run))
