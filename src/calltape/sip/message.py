"""SIP requests and responses, their typed header accessors, and serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field

from calltape.sip.address import Address, parse_address
from calltape.sip.headers import Headers
from calltape.sip.syntax import WHITESPACE, SipSyntaxError, parse_uint
from calltape.sip.via import Via, parse_via

SIP_VERSION = "SIP/2.0"
MAX_CSEQ = 2**31 - 1


@dataclass(frozen=True)
class CSeq:
    """The CSeq header: sequence number and method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """Parse ``1234 INVITE``."""
    parts = text.split()
    if len(parts) != 2:
        raise SipSyntaxError("bad CSeq")
    return CSeq(parse_uint(parts[0], MAX_CSEQ, "CSeq number"), parts[1])


@dataclass(eq=True)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        """The Call-ID."""
        value = self.headers.get("Call-ID")
        if not value:
            raise SipSyntaxError("missing Call-ID")
        return value

    @property
    def cseq(self) -> CSeq:
        """The CSeq header, parsed."""
        value = self.headers.get("CSeq")
        if value is None:
            raise SipSyntaxError("missing CSeq")
        return parse_cseq(value)

    @property
    def from_(self) -> Address:
        """The From header, parsed."""
        return _address(self.headers.get("From"), "From")

    @property
    def to(self) -> Address:
        """The To header, parsed."""
        return _address(self.headers.get("To"), "To")

    @property
    def vias(self) -> list[Via]:
        """Every Via, top first."""
        return [parse_via(v) for v in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        """The topmost Via."""
        values = self.headers.get_all("Via")
        if not values:
            raise SipSyntaxError("missing Via")
        return parse_via(values[0])

    @property
    def contacts(self) -> list[Address]:
        """Contact addresses (empty for ``*`` or none)."""
        return [parse_address(v) for v in self.headers.get_all("Contact") if v.strip(WHITESPACE) != "*"]

    @property
    def content_type(self) -> str:
        """The media type, lower-cased, without parameters ("" if absent)."""
        value = self.headers.get("Content-Type") or ""
        return value.split(";", 1)[0].strip(WHITESPACE).lower()

    def serialize_head(self, start_line: str) -> bytes:
        lines = [start_line]
        wrote_length = False
        for name, value in self.headers:
            if name == "Content-Length":
                if wrote_length:
                    continue
                value = str(len(self.body))
                wrote_length = True
            lines.append(f"{name}: {value}")
        if not wrote_length:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body


@dataclass(eq=True)
class Request(_Message):
    """A SIP request."""

    method: str = ""
    uri: str = ""
    version: str = SIP_VERSION

    def serialize(self) -> bytes:
        """The request's bytes; Content-Length always matches the body."""
        return self.serialize_head(f"{self.method} {self.uri} {self.version}")


@dataclass(eq=True)
class Response(_Message):
    """A SIP response."""

    status: int = 200
    reason: str = "OK"
    version: str = SIP_VERSION

    def serialize(self) -> bytes:
        """The response's bytes; Content-Length always matches the body."""
        return self.serialize_head(f"{self.version} {self.status} {self.reason}")


Message = Request | Response


def _address(value: str | None, name: str) -> Address:
    if value is None:
        raise SipSyntaxError(f"missing {name}")
    return parse_address(value)
