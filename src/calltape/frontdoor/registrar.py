"""The registrar (RFC 3261 §10.3): devices log in with their SIP credentials and bind contacts.

Unknown users, unknown realms and wrong passwords get the same answer (a fresh 401 challenge);
see :mod:`calltape.frontdoor.device_auth`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import formatdate

from calltape.frontdoor.device_auth import DeviceAuthenticator
from calltape.frontdoor.sources import Sources
from calltape.logs import throttle
from calltape.sip.digest import Verdict
from calltape.sip.events import Peer
from calltape.sip.message import Request, Response
from calltape.sip.responses import make_response
from calltape.sip.syntax import WHITESPACE, SipSyntaxError, parse_delta_seconds, text_of
from calltape.sip.uri import SipUri
from calltape.store.directory import SipCredentials
from calltape.store.registrations import (
    Binding,
    BindingChange,
    BindingWriter,
    OutOfOrderError,
    RegisterUpdate,
    Registrations,
)

log = logging.getLogger(__name__)

ReplyFn = Callable[..., Response]


class Registrar:
    """Answers REGISTER requests."""

    def __init__(
        self,
        registrations: Registrations,
        auth: DeviceAuthenticator,
        *,
        min_expires: int = 60,
        max_expires: int = 3600,
        default_expires: int = 3600,
        node: str = "",
        clock: Callable[[], float] = time.time,
        sources: Sources | None = None,
    ) -> None:
        self.registrations = registrations
        self.sources = sources or Sources()  # behind an edge: the address the edge says a REGISTER came from
        self.writer = BindingWriter(registrations)
        self.auth = auth
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self.node = node
        self.clock = clock  # wall-clock: binding expiry and nonces are shared with other nodes

    async def handle(self, request: Request, peer: Peer, to_tag: str) -> Response:
        """The response to one REGISTER."""
        now = self.clock()

        def reply(status: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None) -> Response:
            return make_response(request, status, reason, to_tag=to_tag, headers=headers)

        call_id = request.call_id
        to_uri = request.to.uri
        if not isinstance(to_uri, SipUri) or not to_uri.user:
            return reply(404, "Not Found (the To header must name sip:user@realm)")
        realm = to_uri.host.lower()
        source = self.sources.host_of(request, peer)
        if self.auth.blocked(source, now):
            throttle.log(
                log,
                logging.WARNING,
                ("blocked", source),
                "call-id %s: REGISTER from blocked source %s",
                call_id,
                source,
            )
            retry = [("Retry-After", str(int(self.auth.throttle.block_for)))]
            return reply(403, "Forbidden (too many failed attempts)", retry)
        header = request.headers.get("Authorization")
        device, verdict = await self.auth.login(
            header, "REGISTER", realm, source, now, user=to_uri.user_unescaped or ""
        )
        if device is None:
            if verdict is Verdict.FAILED:
                throttle.log(
                    log,
                    logging.INFO,
                    ("register-failed", source),
                    "call-id %s: REGISTER for %s@%s from %s failed authentication",
                    call_id,
                    to_uri.user,
                    realm,
                    source,
                )
            challenges = self.auth.challenges(realm, now, stale=verdict is Verdict.STALE)
            return reply(401, headers=[("WWW-Authenticate", v) for v in challenges])
        return await self._update_bindings(request, reply, device, realm, peer, now)

    async def _update_bindings(
        self, request: Request, reply: ReplyFn, device: SipCredentials, realm: str, peer: Peer, now: float
    ) -> Response:
        try:
            header_expires = _expires(request.headers.get("Expires"))
        except SipSyntaxError as exc:
            return reply(400, f"Bad Request ({exc})")
        contact_values = request.headers.get_all("Contact")  # the parser has checked every Contact
        wildcard = [v for v in contact_values if v.strip(WHITESPACE) == "*"]
        if wildcard and (len(contact_values) > 1 or header_expires != 0):
            return reply(400, "Bad Request (Contact: * needs Expires: 0 and no other contact)")
        changes: list[BindingChange] = []
        for contact in request.contacts:
            try:
                expires = _expires(contact.param("expires"))
            except SipSyntaxError as exc:
                return reply(400, f"Bad Request ({exc})")
            if expires is None:
                expires = header_expires if header_expires is not None else self.default_expires
            if 0 < expires < self.min_expires:
                return reply(423, headers=[("Min-Expires", str(self.min_expires))])
            changes.append(BindingChange(str(contact.uri), now + min(expires, self.max_expires) if expires else now))
        aor = f"sip:{device.username}@{realm}"
        template = Binding(
            aor=aor,
            contact="",
            account_id=device.account_id,
            device_id=device.device_id,
            call_id=request.call_id,
            cseq=request.cseq.number,
            expires_at=0.0,
            source=f"{peer.transport}:{peer.host}:{peer.port}",
            user_agent=text_of(request.headers.get("User-Agent") or "")[:255],
            node=self.node,
            path=", ".join(request.headers.get_all("Path")),  # an edge proxy's: calls to the device go back through it
        )
        if not wildcard and not changes:
            bindings = await self.registrations.lookup(aor, now)
        else:
            try:
                bindings = await self.writer.apply(RegisterUpdate(template, changes, bool(wildcard), now))
            except OutOfOrderError:
                return reply(400, "Bad Request (CSeq out of order for this Call-ID)")
        source = f"{peer.transport}:{peer.host}:{peer.port}"
        log.info("call-id %s: %s registered %d contact(s) from %s", request.call_id, aor, len(bindings), source)
        headers = [("Contact", f"<{b.contact}>;expires={max(0, int(b.expires_at - now))}") for b in bindings]
        if "path" in (token.strip().lower() for token in request.headers.get_all("Supported")):
            headers += [("Path", value) for value in request.headers.get_all("Path")]  # RFC 3327 §5.3: echoed
        headers.append(("Date", formatdate(usegmt=True)))
        return reply(200, headers=headers)


def _expires(value: str | None) -> int | None:
    return None if value is None else parse_delta_seconds(value)
