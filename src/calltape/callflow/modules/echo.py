"""``echo``: a loopback line — the caller hears themselves (for testing phones and networks)."""

from __future__ import annotations

from pydantic import Field

from calltape.callflow.call_api import Playback
from calltape.callflow.module import Branch, Module, ModuleData, register


class EchoData(ModuleData):
    """How long to echo (seconds); forever (until hangup) when absent."""

    duration: float | None = Field(None, gt=0, le=86400)


async def run(call: Playback, data: EchoData) -> Branch:
    """Answer and echo."""
    await call.echo(data.duration)
    return None


MODULE = register(Module("echo", EchoData, run))
