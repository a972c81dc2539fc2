"""``resources`` and ``offnet``: call out to the public network through carriers (Kazoo's cf_resources and
cf_offnet). ``resources`` uses the account's own carriers (``/v2/accounts/{A}/resources``; with
``use_local_resources: false``, the platform's), ``offnet`` the platform's (``/v2/resources``).

The number is ``to_did``, else the number dialled, turned into E.164 unless ``bypass_e164`` / ``do_not_normalize``.
The answer is bridged until either side hangs up. When every carrier failed, the child for the cause
(``NO_ROUTE_DESTINATION`` when no carrier's rules matched, ``USER_BUSY``, …) or the SIP status (``sip:503``) runs,
else ``_``; with neither, the caller is refused with that status (404 when no carrier matched).
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import Field

from calltape.callflow.call_api import BridgeFailure, CallContext, CallEndedError, OffnetRequest, Ringing
from calltape.callflow.module import Branch, Module, ModuleData, SipHeaders, register


class CarrierCall(CallContext, Ringing, Protocol):
    """What this module uses of a call."""


DEFAULT_STATUS = {"NO_ROUTE_DESTINATION": 404, "NO_ANSWER": 480}


class OffnetData(ModuleData):
    """Kazoo's ``resources`` / ``offnet`` data (callflows.resources.json)."""

    to_did: str | None = Field(None, min_length=1, max_length=64)
    use_local_resources: bool = True
    caller_id_type: Literal["external", "internal", "emergency"] = "external"
    timeout: int | None = Field(None, ge=1, le=3600)
    outbound_flags: list[str] = Field(default_factory=list)
    bypass_e164: bool = False
    do_not_normalize: bool = False
    custom_sip_headers: SipHeaders = Field(default_factory=dict)


async def _call_out(call: CarrierCall, data: OffnetData, local: bool) -> Branch:
    request = OffnetRequest(
        number=data.to_did or call.number,
        local_resources=local,
        caller_id_type=data.caller_id_type,
        timeout=float(data.timeout or 60),
        flags=tuple(data.outbound_flags),
        normalize=not (data.bypass_e164 or data.do_not_normalize),
        custom_sip_headers=dict(data.custom_sip_headers),
    )
    failure = await call.bridge_offnet(request)
    keys = failure.branches()
    if "_" in call.children or any(key in call.children for key in keys):
        return keys
    await call.respond(_status(failure), None, None)
    raise CallEndedError()


def _status(failure: BridgeFailure) -> int:
    """The status the caller is refused with when the flow has no child for the failure: the carrier's, unless
    it speaks of the carrier itself (a challenge, a redirect), which the caller could not act on (then 503)."""
    status = failure.sip_status
    if status is None:
        return DEFAULT_STATUS.get(failure.cause, 480)
    return 503 if status < 400 or status in (401, 407) else status


async def resources(call: CarrierCall, data: OffnetData) -> Branch:
    """Through the account's carriers (or the platform's, with ``use_local_resources: false``)."""
    return await _call_out(call, data, data.use_local_resources)


async def offnet(call: CarrierCall, data: OffnetData) -> Branch:
    """Through the platform's carriers."""
    return await _call_out(call, data, False)


RESOURCES = register(Module("resources", OffnetData, resources))
OFFNET = register(Module("offnet", OffnetData, offnet))
