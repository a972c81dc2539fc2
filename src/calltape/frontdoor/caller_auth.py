"""Who is calling: a device of an account (digest-challenged with 407), a trusted network, a forward that
calltape placed itself (signed, see forwarding.py), or nobody (403)."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from calltape.frontdoor.device_auth import DeviceAuthenticator
from calltape.frontdoor.sources import Sources
from calltape.logs import throttle
from calltape.sip.digest import Verdict
from calltape.sip.events import Peer
from calltape.sip.message import Request, Response
from calltape.sip.responses import make_response
from calltape.sip.uri import SipUri
from calltape.switch.forwarding import FORWARD_HEADER, Forwarding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """An accepted caller: the account it belongs to (None: trusted, find it by the dialled number)."""

    account_id: str | None
    device_id: str | None = None
    forward_hops: int | None = None  # a forward of ours, this many deep


class CallerAuth:
    """Decides whether an INVITE may place a call."""

    def __init__(
        self,
        auth: DeviceAuthenticator,
        trusted_networks: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
        forwarding: Forwarding | None = None,
        sources: Sources | None = None,
    ) -> None:
        self.auth = auth
        self.sources = sources or Sources()
        self.trusted = [ipaddress.ip_network(n) for n in trusted_networks]
        self.clock = clock
        self.forwarding = forwarding

    def is_trusted(self, host: str) -> bool:
        """True if *host* is in ``trusted_networks``."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # an IPv4 carrier seen by a dual-stack socket
        return any(address in network for network in self.trusted)

    async def identify(self, request: Request, peer: Peer, to_tag: str) -> Caller | Response:
        """The caller, or the response to send instead (407 challenge, 403)."""
        if FORWARD_HEADER in request.headers and self.forwarding is not None:
            forwarded = self.forwarding.verify(request)
            if forwarded is None:
                throttle.log(
                    log,
                    logging.WARNING,
                    ("bad-forward", peer.host),
                    "call-id %s: INVITE from %s refused: its %s does not verify",
                    request.call_id,
                    peer.host,
                    FORWARD_HEADER,
                )
                return make_response(request, 403, "Forbidden (call forward signature invalid)", to_tag=to_tag)
            return Caller(forwarded.account_id, forwarded.device_id, forwarded.hops)
        source = self.sources.host_of(request, peer)  # behind an edge: the address the edge says
        if self.is_trusted(source):  # a carrier: no device's address claim can take its calls
            return Caller(None)
        by_address = await self.auth.directory.device_at(source)
        if by_address is not None:  # a device authenticated by its address (a PBX): no digest
            self.auth.vouch(source)
            return Caller(*by_address)
        from_uri = request.from_.uri
        realm = from_uri.host.lower() if isinstance(from_uri, SipUri) else ""
        if not realm or await self.auth.directory.account_for_realm(realm) is None:
            throttle.log(
                log,
                logging.INFO,
                ("untrusted", source),
                "call-id %s: INVITE from %s refused: untrusted source, unknown realm",
                request.call_id,
                source,
            )
            return make_response(request, 403, to_tag=to_tag)
        now = self.clock()
        if self.auth.blocked(source, now):
            return make_response(request, 403, "Forbidden (too many failed attempts)", to_tag=to_tag)
        header = request.headers.get("Proxy-Authorization")
        device, verdict = await self.auth.login(header, "INVITE", realm, source, now)
        if device is not None:
            return Caller(device.account_id, device.device_id)
        challenges = self.auth.challenges(realm, now, stale=verdict is Verdict.STALE)
        return make_response(request, 407, to_tag=to_tag, headers=[("Proxy-Authenticate", v) for v in challenges])
