"""Bytes → :class:`Request` / :class:`Response` (RFC 3261 §7, §18.3, §25).

The parser is strict where a wrong guess would be harmful (framing, the headers that identify a
transaction) and liberal elsewhere: unknown headers are kept as text and parsed only when used.
A request it rejects raises :class:`SipParseError` carrying the status to answer with and the
partial request (so the caller can copy Via, From, To, Call-ID and CSeq into the answer).
"""

from __future__ import annotations

from calltape.digits import is_number
from calltape.sip.headers import SINGLE_KEYS, Headers, canonical_name
from calltape.sip.message import SIP_VERSION, Message, Request, Response
from calltape.sip.syntax import WHITESPACE, SipSyntaxError, is_call_id, is_token, parse_delta_seconds, parse_uint
from calltape.sip.uri import parse_uri

MAX_MESSAGE_SIZE = 65535
MAX_CONTENT_LENGTH = 2**31 - 1


class SipParseError(ValueError):
    """A message that cannot be accepted.

    ``status`` is the response a request deserves (400, 505, …) or None when nothing should be
    sent (broken responses, garbage). ``request`` is what could be parsed of the request.
    """

    def __init__(self, reason: str, status: int | None = 400, request: Request | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.request = request


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """Split at the blank line after the headers; None if there is none yet."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return data[:end], data[end + 4 :]
    end = data.find(b"\n\n")
    if end >= 0:
        return data[:end], data[end + 2 :]
    return None


def parse_message(data: bytes, *, framed: bool = False) -> Message:
    """Parse one message.

    ``framed`` is true when a stream transport already cut the body to Content-Length; for a
    datagram, a Content-Length larger than the body is an error and a smaller one truncates it.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError("message too large", 513)
    data = data.lstrip(b"\r\n")
    parts = split_head(data)
    head_bytes, body = parts if parts is not None else (data.rstrip(b"\r\n"), b"")
    head = head_bytes.decode("utf-8", "surrogateescape").replace("\r\n", "\n")
    lines = head.split("\n")
    start, header_lines = lines[0], lines[1:]
    try:
        message = _parse_start_line(start)
    except SipParseError as exc:
        if exc.request is not None:  # answerable: give it the headers to answer with
            _parse_headers(header_lines, exc.request.headers)
        raise
    problem = _parse_headers(header_lines, message.headers)
    if problem is not None:  # every good line was still kept: the 400 copies Via, From, To, Call-ID, CSeq
        raise _error(message, problem)
    message.body = _frame_body(message, body, framed)
    if isinstance(message, Request):
        _check_request(message)
    else:
        _check_response(message)
    return message


def _parse_start_line(line: str) -> Message:
    if line.startswith("SIP/"):
        parts = line.split(" ", 2)
        if len(parts) < 2 or len(parts[1]) != 3 or not is_number(parts[1]) or parts[1][0] == "0":
            raise SipParseError("bad status line", None)
        if parts[0] != SIP_VERSION:
            raise SipParseError("unsupported version", None)
        return Response(status=int(parts[1]), reason=parts[2] if len(parts) > 2 else "")
    parts = line.split(" ")
    if len(parts) != 3 or not is_token(parts[0]):
        # Without a usable request line there is nothing to answer to.
        if len(parts) >= 3 and is_token(parts[0]) and any(p.startswith("SIP/") for p in parts[2:]):
            raise SipParseError("bad request line", 400, Request(method=parts[0], uri=parts[1]))
        raise SipParseError("unparsable start line", None)
    method, uri, version = parts
    return Request(method=method, uri=uri, version=version)


def _parse_headers(lines: list[str], headers: Headers) -> str | None:
    """Add every well-formed header line to *headers*; the first problem found, or None.

    A broken line does not stop the others from being read (RFC 3261 §8.2.6.2: the answer still
    needs the request's From, To, Call-ID and CSeq, wherever they are).
    """
    problems: list[str] = []
    current: str | None = None
    for line in lines:
        if line[:1] in (" ", "\t"):
            if current is None:
                problems.append("continuation line before first header")
            else:
                current += " " + line.strip(WHITESPACE)
            continue
        if current is not None:
            _add_header(current, headers, problems)
        current = line
    if current is not None:
        _add_header(current, headers, problems)
    return problems[0] if problems else None


def _add_header(line: str, headers: Headers, problems: list[str]) -> None:
    name, colon, value = line.partition(":")
    name = name.rstrip(WHITESPACE)
    if not colon or not is_token(name):
        problems.append(f"bad header line {line[:40]!r}")
        return
    headers.add(name, value.strip(WHITESPACE))


def _frame_body(message: Message, body: bytes, framed: bool) -> bytes:
    lengths = message.headers.get_lines("Content-Length")
    if len(lengths) > 1:
        raise _error(message, "more than one Content-Length")
    if not lengths:
        return body
    try:
        length = parse_uint(lengths[0], MAX_CONTENT_LENGTH, "Content-Length")
    except SipSyntaxError as exc:
        raise _error(message, str(exc)) from None
    if not framed and length > len(body):
        raise _error(message, "Content-Length larger than the body")
    return body[:length]


def _check_request(request: Request) -> None:
    """Mandatory headers present, single-valued ones single, and the scalars in range."""
    if request.version != SIP_VERSION:
        if request.version.startswith("SIP/"):
            raise SipParseError("Version Not Supported", 505, request)
        raise _error(request, "bad SIP version")
    try:
        parse_uri(request.uri)
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            if not (request.headers.get(name) or "").strip(WHITESPACE):
                raise SipSyntaxError(f"missing {name}")
        if twice := request.headers.repeated() & SINGLE_KEYS:
            raise SipSyntaxError(f"more than one {canonical_name(min(twice))}")
        # parsed here so that a bad one is a 400 now, not a surprise later (the results are cached)
        request.vias, request.from_, request.to  # noqa: B018
        if not is_call_id(request.call_id):
            raise SipSyntaxError("bad Call-ID")
        cseq = request.cseq
        max_forwards = request.headers.get("Max-Forwards")
        if max_forwards is not None:
            parse_uint(max_forwards, 255, "Max-Forwards")
        expires = request.headers.get("Expires")
        if expires is not None:
            parse_delta_seconds(expires, "Expires")
        for contact in request.contacts:
            if (contact_expires := contact.param("expires")) is not None:
                parse_delta_seconds(contact_expires, "Contact expires")
    except SipSyntaxError as exc:
        raise _error(request, str(exc)) from None
    if cseq.method != request.method:
        raise _error(request, "CSeq method does not match the request method")


def _check_response(response: Response) -> None:
    try:
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            if name not in response.headers:
                raise SipSyntaxError(f"missing {name}")
        response.top_via, response.cseq, response.from_, response.to  # noqa: B018 - parsed to validate
        if not is_call_id(response.call_id):
            raise SipSyntaxError("bad Call-ID")
    except SipSyntaxError as exc:
        raise SipParseError(str(exc), None) from None


def _error(message: Message, reason: str) -> SipParseError:
    if isinstance(message, Request):
        return SipParseError(reason, 400, message)
    return SipParseError(reason, None)
