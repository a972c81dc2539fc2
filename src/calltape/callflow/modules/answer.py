"""``answer``: answer the call."""

from __future__ import annotations

from calltape.callflow.call_api import Playback
from calltape.callflow.module import Branch, Module, ModuleData, register


class AnswerData(ModuleData):
    """No settings."""


async def run(call: Playback, data: AnswerData) -> Branch:
    """Answer, continue with the default child."""
    await call.answer()
    return None


MODULE = register(Module("answer", AnswerData, run))
