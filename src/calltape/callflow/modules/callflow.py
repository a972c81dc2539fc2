"""``callflow``: continue in another callflow of the same account."""

from __future__ import annotations

from pydantic import Field

from calltape.callflow.call_api import CallContext
from calltape.callflow.module import Branch, Jump, Module, ModuleData, register


class CallflowData(ModuleData):
    """The target callflow's id."""

    id: str = Field(pattern=r"^[0-9a-fA-F]{32}$")


async def run(call: CallContext, data: CallflowData) -> Branch:
    """Jump."""
    return Jump(data.id)


MODULE = register(Module("callflow", CallflowData, run))
