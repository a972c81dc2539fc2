"""``user``: ring every device the user owns (``owner_id``) and bridge the first to answer."""

from __future__ import annotations

from calltape.callflow.call_api import Endpoint, EndpointKind
from calltape.callflow.module import Branch, Module, register
from calltape.callflow.modules.device import RingData, RingingCall


async def run(call: RingingCall, data: RingData) -> Branch:
    """Ring the user's devices; nobody answered: the failure's child as for ``device``, else ``_``."""
    if data.delay:
        await call.sleep(data.delay)
    failure = await call.bridge([Endpoint(EndpointKind.USER, data.id)], data.options())
    return failure.branches()


MODULE = register(Module("user", RingData, run))
