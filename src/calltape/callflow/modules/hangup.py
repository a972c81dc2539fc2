"""``hangup``: end the call."""

from __future__ import annotations

from calltape.callflow.call_api import CallContext
from calltape.callflow.module import Branch, Module, ModuleData, register


class HangupData(ModuleData):
    """No settings."""


async def run(call: CallContext, data: HangupData) -> Branch:
    """Hang up (BYE if answered, a final response otherwise)."""
    await call.hangup()
    return None


MODULE = register(Module("hangup", HangupData, run))
