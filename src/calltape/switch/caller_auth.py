"""Who is calling: a device of an account (digest-challenged with 407), a trusted network, or nobody (403)."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from calltape.sip.digest import DigestChallenger, Verdict, parse_auth_header
from calltape.sip.events import Peer
from calltape.sip.message import Request, Response
from calltape.sip.responses import make_response
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.uri import SipUri
from calltape.store.directory import Directory
from calltape.switch.auth_throttle import FailureThrottle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """An accepted caller: the account it belongs to (None: trusted, find it by the dialled number)."""

    account_id: str | None
    device_id: str | None = None


class CallerAuth:
    """Decides whether an INVITE may place a call."""

    def __init__(
        self,
        directory: Directory,
        challenger: DigestChallenger,
        throttle: FailureThrottle,
        trusted_networks: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.challenger = challenger
        self.throttle = throttle
        self.trusted = [ipaddress.ip_network(n) for n in trusted_networks]
        self.clock = clock

    def is_trusted(self, host: str) -> bool:
        """True if *host* is in ``trusted_networks``."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def identify(self, request: Request, peer: Peer, to_tag: str) -> Caller | Response:
        """The caller, or the response to send instead (407 challenge, 403)."""
        if self.is_trusted(peer.host):
            return Caller(None)
        from_uri = request.from_.uri
        realm = from_uri.host.lower() if isinstance(from_uri, SipUri) else ""
        account_id = await self.directory.account_for_realm(realm) if realm else None
        if account_id is None:
            log.info(
                "call-id %s: INVITE from %s refused: unknown realm and untrusted source", request.call_id, peer.host
            )
            return make_response(request, 403, to_tag=to_tag)
        now = self.clock()
        if self.throttle.blocked(peer.host, now):
            return make_response(request, 403, "Forbidden (too many failed attempts)", to_tag=to_tag)
        header = request.headers.get("Proxy-Authorization")
        if header is None:
            return self._challenge(request, realm, now, to_tag)
        try:
            credentials = parse_auth_header(header)
        except SipSyntaxError:
            return self._challenge(request, realm, now, to_tag)
        device = await self.directory.device_credentials(account_id, credentials.username)
        verdict = self.challenger.verify(credentials, "INVITE", realm, device.password if device else None, now)
        if verdict is Verdict.OK and device is not None:
            self.throttle.success(peer.host)
            return Caller(account_id, device.device_id)
        if verdict is Verdict.STALE:
            return self._challenge(request, realm, now, to_tag, stale=True)
        self.throttle.failure(peer.host, now)
        return self._challenge(request, realm, now, to_tag)

    def _challenge(self, request: Request, realm: str, now: float, to_tag: str, *, stale: bool = False) -> Response:
        headers = [("Proxy-Authenticate", v) for v in self.challenger.challenges(realm, now, stale=stale)]
        return make_response(request, 407, to_tag=to_tag, headers=headers)
