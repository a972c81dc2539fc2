"""``prepend_cid`` and ``set_cid``: change the caller ID the phones this call rings are shown (Kazoo's modules).

``prepend_cid`` puts ``caller_id_name_prefix`` / ``caller_id_number_prefix`` before it — before an earlier prefix
(``apply_to: current``, the default) or instead of it (``original``); ``action: reset`` removes the prefixes.
``set_cid`` replaces the name and number (an empty one keeps the caller's).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from calltape.callflow.call_api import CallContext
from calltape.callflow.module import Branch, Module, ModuleData, register

_CID = Field("", max_length=128)


class PrependCidData(ModuleData):
    """Kazoo's ``prepend_cid`` data."""

    action: Literal["prepend", "reset"] = "prepend"
    caller_id_name_prefix: str = _CID
    caller_id_number_prefix: str = _CID
    apply_to: Literal["current", "original"] = "current"


async def prepend(call: CallContext, data: PrependCidData) -> Branch:
    """Keep the prefixes in the call's variables (the bridging shows them)."""
    if data.action == "reset":
        call.variables.pop("prepend_cid_name", None)
        call.variables.pop("prepend_cid_number", None)
        return None
    name, number = data.caller_id_name_prefix, data.caller_id_number_prefix
    if data.apply_to == "current":
        name += call.variables.get("prepend_cid_name", "")
        number += call.variables.get("prepend_cid_number", "")
    call.variables["prepend_cid_name"], call.variables["prepend_cid_number"] = name, number
    return None


class SetCidData(ModuleData):
    """Kazoo's ``set_cid`` data."""

    caller_id_name: str = _CID
    caller_id_number: str = _CID


async def set_cid(call: CallContext, data: SetCidData) -> Branch:
    """Keep the replacement in the call's variables (an empty field removes it)."""
    for key, value in (("rewrite_cid_name", data.caller_id_name), ("rewrite_cid_number", data.caller_id_number)):
        if value:
            call.variables[key] = value
        else:
            call.variables.pop(key, None)
    return None


PREPEND = register(Module("prepend_cid", PrependCidData, prepend))
SET = register(Module("set_cid", SetCidData, set_cid))
