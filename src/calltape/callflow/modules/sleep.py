"""``sleep``: wait (Kazoo: ``duration`` with ``unit`` s, ms, m or h)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from calltape.callflow.call_api import Playback
from calltape.callflow.module import Branch, Module, ModuleData, register

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class SleepData(ModuleData):
    """How long."""

    duration: float = Field(ge=0)
    unit: Literal["ms", "s", "m", "h"] = "s"


async def run(call: Playback, data: SleepData) -> Branch:
    """Wait; a hangup ends the wait."""
    await call.sleep(data.duration * UNITS[data.unit])
    return None


MODULE = register(Module("sleep", SleepData, run))
