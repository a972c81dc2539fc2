"""Dialog state (RFC 3261 §12): identity, route set, CSeq counters, remote target, and in-dialog requests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from calltape.sip.address import parse_address
from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.syntax import SipSyntaxError
from calltape.sip.uri import SipUri, parse_sip_uri
from calltape.sip.via import MAGIC_COOKIE

TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
_NOT_IN_REQUEST_URI = frozenset({"method", "maddr", "ttl", "transport", "lr"})  # RFC 3261 §19.1.5


class DialogError(ValueError):
    """A request that does not fit the dialog (e.g. a CSeq going backwards: answer 500)."""


def new_branch() -> str:
    """A fresh RFC 3261 branch parameter."""
    return MAGIC_COOKIE + secrets.token_hex(10)


@dataclass
class Dialog:
    """One side's view of a dialog. ``local_*`` is us, ``remote_*`` the peer."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # the address in our From (as UAC) / To (as UAS), without tag
    remote_uri: str
    remote_target: str  # the peer's Contact URI
    route_set: list[str] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None
    local_contact: str = ""

    @property
    def id(self) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag)."""
        return self.call_id, self.local_tag, self.remote_tag

    @classmethod
    def as_uas(cls, request: Request, local_tag: str, local_contact: str = "") -> Dialog:
        """The dialog a 2xx (or 101-199 with a tag) to *request* creates on the server side (§12.1.1)."""
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",  # RFC 2543 peers send no tag (§12.1.1: then it is empty)
            local_uri=_without_tag(request.headers.get("To") or ""),
            remote_uri=_without_tag(request.headers.get("From") or ""),
            remote_target=_contact_uri(request),
            route_set=request.headers.get_all("Record-Route"),
            local_seq=secrets.randbelow(2**16) + 1,
            remote_seq=request.cseq.number,
            local_contact=local_contact,
        )

    @classmethod
    def as_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog a response with a To tag creates on the client side (§12.1.2)."""
        tag = response.to.tag
        if tag is None:
            raise DialogError("the response's To has no tag")
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=tag,
            local_uri=_without_tag(request.headers.get("From") or ""),
            remote_uri=_without_tag(request.headers.get("To") or ""),
            remote_target=_contact_uri(response),
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            local_seq=request.cseq.number,
            remote_seq=None,
            local_contact=request.headers.get("Contact") or "",
        )

    def receive_request(self, request: Request) -> None:
        """Check and absorb an in-dialog request (§12.2.2): CSeq order, then target refresh."""
        number = request.cseq.number
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_seq is not None and number <= self.remote_seq:
                raise DialogError(f"CSeq {number} is not above {self.remote_seq}")
            self.remote_seq = number
        if request.method in TARGET_REFRESH_METHODS and request.headers.get("Contact"):
            self.remote_target = _contact_uri(request)

    def receive_response(self, response: Response, method: str) -> None:
        """A 2xx to a target-refresh request updates the remote target (§12.2.1.2)."""
        if 200 <= response.status < 300 and method in TARGET_REFRESH_METHODS and response.headers.get("Contact"):
            self.remote_target = _contact_uri(response)

    def create_request(
        self, method: str, via: str, *, body: bytes = b"", content_type: str | None = None, cseq: int | None = None
    ) -> Request:
        """A request within the dialog (§12.2.1.1). *via* is ``SIP/2.0/UDP host:port`` (a branch is added).

        ACK reuses the INVITE's CSeq number (pass it as *cseq*); other methods take the next local one.
        """
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        uri, routes = self._request_uri_and_routes()
        headers = Headers()
        headers.add("Via", f"{via};branch={new_branch()}")
        headers.add("Max-Forwards", "70")
        for route in routes:
            headers.add("Route", route)
        headers.add("From", f"{self.local_uri};tag={self.local_tag}")
        headers.add("To", f"{self.remote_uri};tag={self.remote_tag}")
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        if self.local_contact and method in TARGET_REFRESH_METHODS:
            headers.add("Contact", self.local_contact)
        if content_type:
            headers.add("Content-Type", content_type)
        return Request(headers=headers, body=body, method=method, uri=uri)

    def next_hop(self) -> SipUri:
        """Where an in-dialog request goes: the first route, else the remote target."""
        first = self.route_set[0] if self.route_set else f"<{self.remote_target}>"
        return route_uri(first)

    def _request_uri_and_routes(self) -> tuple[str, list[str]]:
        if not self.route_set:
            return self.remote_target, []
        first = route_uri(self.route_set[0])
        if first.param("lr") is not None:  # loose routing
            return self.remote_target, list(self.route_set)
        # strict router: it becomes the Request-URI, the remote target goes last in Route
        kept = [p for p in first.params if p[0].lower() not in _NOT_IN_REQUEST_URI]
        strict = SipUri(first.host, first.user, first.password, first.port, first.scheme, kept)
        return str(strict), [*self.route_set[1:], f"<{self.remote_target}>"]


def _without_tag(value: str) -> str:
    address = parse_address(value)
    return str(address.__class__(address.uri, address.display_name, [p for p in address.params if p[0] != "tag"]))


def _contact_uri(message: Request | Response) -> str:
    contacts = message.contacts
    if contacts:
        return str(contacts[0].uri)
    if isinstance(message, Request) and not is_rfc3261(message):  # RFC 2543 had no Contact: reach its From
        return str(message.from_.uri)
    raise DialogError("no Contact to use as the remote target")


def is_rfc3261(request: Request) -> bool:
    """True if the sender follows RFC 3261 (its top Via's branch carries the magic cookie)."""
    return (request.top_via.branch or "").startswith(MAGIC_COOKIE)


def route_uri(route: str) -> SipUri:
    """The SIP URI of a Route, Record-Route or Path value (SipSyntaxError if it has none)."""
    uri = parse_address(route).uri
    if not isinstance(uri, SipUri):
        raise SipSyntaxError(f"route {route!r} is not a SIP URI")
    return parse_sip_uri(str(uri))
