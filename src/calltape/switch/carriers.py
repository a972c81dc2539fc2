"""Calls out to the public network through carriers (Kazoo's stepswitch): the gateways whose carriers' rules
match the number, tried one after another — a gateway that fails (5xx, 408, 403, no answer, unreachable) hands
the call to the next; a busy or declining callee (486, 600, 603) ends the attempt, being busy everywhere. The
carrier is shown the caller ID its gateway asks for (external by default), answers 401/407 with the gateway's
credentials, and the call counts as off-net (the account's outbound off-net recording runs). When any matching
carrier is an emergency one, every gateway is shown the emergency caller ID (Kazoo's stepswitch_bridge)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from calltape.carriers.routes import GatewayAttempt, routes_for
from calltape.sip.events import Peer
from calltape.switch.bridging import BridgedCall, connect
from calltape.switch.call_types import BUSY_STATUSES, BridgeFailure, OffnetRequest, RingOptions
from calltape.switch.outbound import Target

log = logging.getLogger(__name__)

NO_ROUTE = "NO_ROUTE_DESTINATION"


async def bridge_offnet(call: BridgedCall, request: OffnetRequest) -> BridgeFailure:
    """Try the carriers for *request*; bridge the answer until the call ends (CallEndedError), or say why not."""
    services = call.services
    resources = await services.documents.resources(call.account_id if request.local_resources else None)
    converters: dict[str, str] | None = None if request.normalize else {}
    attempts = routes_for(request.number, resources, flags=request.flags, converters=converters)
    emergency = any(attempt.emergency for attempt in attempts)  # then every gateway shows the emergency caller ID
    targets = []
    for attempt in attempts:
        target = await _target(call, request, attempt, emergency)
        if target is not None:
            targets.append(target)
    if not targets:
        log.info("call-id %s: no carrier for %s", call.call_id, request.number)
        return BridgeFailure(NO_ROUTE)
    log.info("call-id %s: calling %s through %d gateway(s)", call.call_id, request.number, len(targets))
    options = RingOptions(timeout=request.timeout, strategy="single")
    return await connect(call, targets, options, stop_on=BUSY_STATUSES)


async def _target(call: BridgedCall, request: OffnetRequest, attempt: GatewayAttempt, emergency: bool) -> Target | None:
    if attempt.certificate_sha256 == b"":
        log.warning(
            "call-id %s: carrier %s: certificate_fingerprint is not a SHA-256 fingerprint: gateway %s not called",
            call.call_id,
            attempt.resource_name,
            attempt.host,
        )
        return None
    peer = await _peer(attempt)
    if peer is None:
        return None
    kind = request.caller_id_type if attempt.caller_id_type == "external" else attempt.caller_id_type
    if emergency:
        kind = "emergency"
    found = await call.services.endpoints.caller_id_for_carriers(call.account_id, call.caller_device_id, kind)
    number, name = found or (call.caller.number, call.caller.name)
    headers = {**request.custom_sip_headers, **attempt.custom_sip_headers}
    return Target(
        attempt.uri,
        peer,
        number,
        name,
        credentials=(attempt.username or "", attempt.password) if attempt.password else None,
        headers=tuple(headers.items()),
        offnet=True,
        srtp=attempt.srtp,
        srtp_required=attempt.srtp_required,
        certificate_sha256=attempt.certificate_sha256,
    )


async def _peer(attempt: GatewayAttempt) -> Peer | None:
    """Where a gateway is reached (a host name resolved here, once per call; over TLS kept, for its certificate
    to be checked against it)."""
    host = attempt.host.strip("[]")
    if attempt.transport == "tls":
        return Peer("tls", host, attempt.port)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, attempt.port, family=socket.AF_INET)
        except OSError as exc:
            log.warning("carrier %s: cannot resolve %s: %s", attempt.resource_name, host, exc)
            return None
        host = str(infos[0][4][0])
    return Peer(attempt.transport, host, attempt.port)
