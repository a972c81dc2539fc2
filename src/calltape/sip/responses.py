"""Building responses to requests (RFC 3261 §8.2.6) and the standard reason phrases."""

from __future__ import annotations

import secrets

from calltape.sip.address import parse_address
from calltape.sip.headers import Headers
from calltape.sip.message import Request, Response
from calltape.sip.syntax import SipSyntaxError

REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}

#: Headers copied from a request into its response, in this order.
_COPIED = ("Via", "From", "To", "Call-ID", "CSeq")


DIALOG_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})  # requests whose answer may create a dialog


def new_tag() -> str:
    """A fresh From/To tag."""
    return secrets.token_hex(8)


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Response:
    """A response to *request*: Via, From, To, Call-ID and CSeq copied as written, and a dialog-creating
    request's Record-Route in its 1xx/2xx (RFC 3261 §12.1.1: a proxy stays in the dialog).

    *to_tag* is added to To when the request's To has none (and status > 100).
    """
    out = Headers()
    for name in _COPIED:
        for value in request.headers.get_lines(name):
            if name == "To" and to_tag and status > 100 and not _has_tag(value):
                value = f"{value};tag={to_tag}"
            out.add(name, value)
    if 100 < status < 300 and request.method in DIALOG_METHODS:
        for value in request.headers.get_lines("Record-Route"):
            out.add("Record-Route", value)
    for name, value in headers or ():
        out.add(name, value)
    return Response(headers=out, body=body, status=status, reason=reason or REASONS.get(status, "Unknown"))


def _has_tag(to_value: str) -> bool:
    try:
        return parse_address(to_value).tag is not None
    except SipSyntaxError:
        return True  # unparsable: leave it as it is
