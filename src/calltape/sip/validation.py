"""The UAS checks every request passes before the application sees it (RFC 3261 §8.2.1–8.2.3).

In RFC order: method (405/501), URI scheme (416), extensions in Require (420), the body's media
type (415), and for INVITE whether we can answer with SDP at all (406).
"""

from __future__ import annotations

from dataclasses import dataclass

from calltape.sip.address import parse_address
from calltape.sip.dialog import is_rfc3261
from calltape.sip.message import Request, Response
from calltape.sip.responses import make_response, new_tag
from calltape.sip.syntax import WHITESPACE
from calltape.sip.uri import SipUri, parse_uri

KNOWN_METHODS = frozenset(
    {
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "REGISTER",
        "INFO",
        "UPDATE",
        "PRACK",
        "SUBSCRIBE",
        "NOTIFY",
        "REFER",
        "MESSAGE",
        "PUBLISH",
    }
)
SUPPORTED_SCHEMES = frozenset({"sip", "sips", "tel"})
#: Body types understood per method; a request whose body is of another type gets 415.
BODY_TYPES = {
    "INVITE": frozenset({"application/sdp"}),
    "ACK": frozenset({"application/sdp"}),
    "UPDATE": frozenset({"application/sdp"}),
    "PRACK": frozenset({"application/sdp"}),
    "INFO": frozenset({"application/dtmf-relay", "application/dtmf"}),
}
_SDP_ACCEPT = frozenset({"application/sdp", "application/*", "*/*"})


@dataclass(frozen=True)
class Capabilities:
    """What this UAS implements, advertised in Allow/Supported/Accept."""

    allow: frozenset[str]
    supported: frozenset[str] = frozenset()

    @property
    def allow_header(self) -> str:
        """The Allow header value."""
        return ", ".join(sorted(self.allow))


def check_request(request: Request, caps: Capabilities) -> Response | None:
    """The error response *request* deserves before any processing, or None if it may proceed."""
    method = request.method
    if method not in caps.allow:
        status = 405 if method in KNOWN_METHODS else 501
        return _reply(request, status, [("Allow", caps.allow_header)])
    if parse_uri(request.uri).scheme not in SUPPORTED_SCHEMES:  # the parser already checked the URI
        return _reply(request, 416)
    if method not in ("ACK", "CANCEL"):
        unsupported = [tag for tag in request.headers.get_all("Require") if tag and tag not in caps.supported]
        if unsupported:
            return _reply(request, 420, [("Unsupported", ", ".join(unsupported))])
    if request.body and method != "CANCEL":
        accepted = BODY_TYPES.get(method, frozenset())
        if request.content_type not in accepted:
            accept = ", ".join(sorted(accepted)) or "application/sdp"
            return _reply(request, 415, [("Accept", accept)])
    if method == "INVITE" and request.to.tag is None and (problem := _dialog_problem(request)):
        return make_response(request, 400, f"Bad Request ({problem})", to_tag=new_tag())
    if method == "INVITE" and "Accept" in request.headers:
        offered = {v.split(";", 1)[0].strip(WHITESPACE).lower() for v in request.headers.get_all("Accept")}
        if offered and not offered & _SDP_ACCEPT:
            return _reply(request, 406, [("Accept", "application/sdp")])
    return None


def _dialog_problem(request: Request) -> str | None:
    """What keeps a new INVITE from making a dialog: its Contact and Record-Route (RFC 3261 §8.1.1.8, §12.1.1)."""
    contacts = request.contacts
    if not contacts and not is_rfc3261(request):  # RFC 2543 required none: the From is the target
        contacts = [request.from_]
    if len(contacts) != 1 or not isinstance(contacts[0].uri, SipUri):
        return "an INVITE needs exactly one Contact with a SIP URI"
    for value in request.headers.get_all("Record-Route"):
        if not isinstance(parse_address(value).uri, SipUri):
            return "a Record-Route that is not a SIP URI"
    return None


def _reply(request: Request, status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return make_response(request, status, to_tag=new_tag(), headers=headers)
