"""``user``: ring every device the user owns (``owner_id``) and bridge the first to answer."""

from __future__ import annotations

from calltape.callflow.call_api import CallApi, Endpoint, EndpointKind
from calltape.callflow.module import Branch, Module, register
from calltape.callflow.modules.device import RingData


async def run(call: CallApi, data: RingData) -> Branch:
    """Ring the user's devices; ``busy`` when all were busy, else ``_`` when nobody answered."""
    if data.delay:
        await call.sleep(data.delay)
    return await call.bridge([Endpoint(EndpointKind.USER, data.id)], data.options())


MODULE = register(Module("user", RingData, run))
