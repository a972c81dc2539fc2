"""The Via header (RFC 3261 §20.42) with rport/received (RFC 3581)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from calltape.sip.syntax import (
    Params,
    SipSyntaxError,
    cached_parser,
    format_params,
    get_param,
    is_token,
    parse_params,
    parse_uint,
    set_param,
)
from calltape.sip.uri import parse_hostport

MAGIC_COOKIE = "z9hG4bK"
_PROTOCOL = re.compile(r"^\s*([^/\s]+)\s*/\s*([^/\s]+)\s*/\s*([^\s;]+)\s*(.*)$", re.S)


@dataclass(frozen=True)
class Via:
    """One Via hop: protocol, transport, sent-by and parameters."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=list)
    protocol: str = "SIP/2.0"

    def param(self, name: str) -> str | None:
        """A parameter's value ("" for a flag), or None."""
        return get_param(self.params, name)

    @property
    def branch(self) -> str | None:
        """The branch parameter."""
        return self.param("branch")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        """(host, port) as the sender wrote them."""
        return self.host, self.port

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with parameter *name* set."""
        return Via(self.transport, self.host, self.port, set_param(self.params, name, value), self.protocol)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {self.host}{port}{format_params(self.params)}"


@cached_parser
def parse_via(text: str) -> Via:
    """Parse one via-parm."""
    name, version, transport, host, port, param_text = _sent_by(text)
    params = parse_params(param_text) if param_text is not None else []
    for key, value in params:
        if key.lower() == "rport" and value is not None:
            parse_uint(value, 65535, "rport")
    return Via(transport.upper(), host, port, params, f"{name.upper()}/{version}")


def has_sent_by(text: str) -> bool:
    """True if the via-parm's protocol and sent-by parse (its parameters may not): enough to answer along it."""
    try:
        _sent_by(text)
    except SipSyntaxError:
        return False
    return True


def _sent_by(text: str) -> tuple[str, str, str, str, int | None, str | None]:
    """(protocol name, version, transport, host, port, parameter text or None)."""
    m = _PROTOCOL.match(text)
    if not m:
        raise SipSyntaxError(f"bad Via {text[:60]!r}")
    name, version, transport, rest = m.groups()
    if not (is_token(name) and is_token(version) and is_token(transport)):
        raise SipSyntaxError(f"bad Via protocol in {text[:60]!r}")
    sent_by, semi, param_text = rest.partition(";")
    host, port = parse_hostport(sent_by.strip())
    return name, version, transport, host, port, param_text if semi else None
