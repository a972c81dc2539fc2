"""``collect_dtmf``: gather digits into a variable; the child whose key is the digits runs, else ``_``."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from calltape.callflow.call_api import CallContext, Keys
from calltape.callflow.module import Branch, Module, ModuleData, register


class KeysCall(CallContext, Keys, Protocol):
    """What this module uses of a call."""


class CollectDtmfData(ModuleData):
    """How many digits, how long to wait, what ends the input, where to keep it."""

    max_digits: int = Field(1, ge=1, le=64)
    timeout: float = Field(5.0, gt=0, le=300)
    terminator: str = Field("#", pattern=r"^[0-9*#]{0,3}$")
    collection_name: str = Field("default", min_length=1, max_length=64)


async def run(call: KeysCall, data: CollectDtmfData) -> Branch:
    """Collect, store in ``variables[collection_name]``, branch on the digits."""
    digits = await call.collect_digits(data.max_digits, data.timeout, data.terminator)
    call.variables[data.collection_name] = digits
    return digits or None


MODULE = register(Module("collect_dtmf", CollectDtmfData, run))
