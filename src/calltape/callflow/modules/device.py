"""``device``: ring one device (at every contact it registered, or its static route) and bridge the answer."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import Field

from calltape.callflow.call_api import Endpoint, EndpointKind, Playback, Ringing, RingOptions
from calltape.callflow.module import Branch, Module, ModuleData, SipHeaders, register


class RingingCall(Playback, Ringing, Protocol):
    """What this module uses of a call."""


class RingData(ModuleData):
    """Kazoo's data for ``device`` and ``user`` (``timeout`` in seconds)."""

    id: str = Field(min_length=1)
    timeout: float = Field(20, gt=0, le=3600)
    delay: float = Field(0, ge=0, le=300)
    strategy: Literal["simultaneous", "single"] = "simultaneous"
    can_call_self: bool = False
    suppress_clid: bool = False
    custom_sip_headers: SipHeaders = Field(default_factory=dict)

    def options(self) -> RingOptions:
        """The ringing choices."""
        return RingOptions(
            self.timeout, self.strategy, self.can_call_self, self.suppress_clid, dict(self.custom_sip_headers)
        )


async def run(call: RingingCall, data: RingData) -> Branch:
    """Ring the device; nobody answered: the child for the cause (``USER_BUSY``, ``NO_ANSWER``, …), else for the
    SIP status (``sip:486``), else ``busy`` when it was busy, else ``_`` (Kazoo's cf_util bridge failure)."""
    if data.delay:
        await call.sleep(data.delay)
    failure = await call.bridge([Endpoint(EndpointKind.DEVICE, data.id)], data.options())
    return failure.branches()


MODULE = register(Module("device", RingData, run))
