"""SIP and SIPS URIs (RFC 3261 §19.1), and other absolute URIs kept opaque."""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass, field
from urllib.parse import unquote as pct_unquote

from calltape.sip.syntax import (
    Params,
    SipSyntaxError,
    cached_parser,
    format_params,
    get_param,
    parse_params,
    parse_uint,
)

_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+-.")
_HOST = re.compile(r"[A-Za-z0-9\-.]+")
_URI_FORBIDDEN = frozenset(' \t\r\n<>"')


@dataclass(frozen=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI, kept close to its written form."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: Params = field(default_factory=list)
    headers: str = ""

    def param(self, name: str) -> str | None:
        """A URI parameter's value ("" for a flag), or None."""
        return get_param(self.params, name)

    @property
    def transport(self) -> str:
        """The transport parameter, lower-cased; udp when absent (RFC 3263 default)."""
        return (self.param("transport") or "udp").lower()

    @property
    def user_unescaped(self) -> str | None:
        """The user part with %-escapes decoded."""
        return None if self.user is None else pct_unquote(self.user)

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}{headers}"


@dataclass(frozen=True)
class AbsoluteUri:
    """A URI of a scheme other than sip/sips (tel:, http:, …), kept as written."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


Uri = SipUri | AbsoluteUri


@cached_parser
def parse_uri(text: str) -> Uri:
    """Parse an absolute URI; SIP and SIPS URIs are parsed fully."""
    scheme, colon, rest = text.partition(":")
    if (
        not colon
        or not scheme
        or not scheme[0].isalpha()
        or not all(c in _SCHEME_CHARS for c in scheme)
        or not rest
        or not text.isascii()  # non-ASCII must be %-escaped (RFC 3261 §19.1.2, §25.1)
        or any(c in _URI_FORBIDDEN for c in text)
    ):
        raise SipSyntaxError(f"bad URI {text[:60]!r}")
    if scheme.lower() not in ("sip", "sips"):
        return AbsoluteUri(scheme.lower(), rest)
    return _parse_sip_uri(scheme.lower(), rest)


def _parse_sip_uri(scheme: str, rest: str) -> SipUri:
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
        if not user:
            raise SipSyntaxError("empty user part")
    rest, _, headers = rest.partition("?")
    hostport, semi, param_text = rest.partition(";")
    params = parse_params(param_text) if semi else []
    host, port = parse_hostport(hostport)
    return SipUri(host, user, password, port, scheme, params, headers)


def parse_hostport(text: str) -> tuple[str, int | None]:
    """Parse ``host[:port]`` (IPv6 references in brackets, checked; ports 0-65535)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipSyntaxError("bad IPv6 reference")
        try:
            ipaddress.IPv6Address(text[1:end])
        except ValueError:
            raise SipSyntaxError(f"bad IPv6 reference {text[: end + 1]!r}") from None
        host, rest = text[: end + 1], text[end + 1 :]
    else:
        host, colon, port_text = text.partition(":")
        rest = ":" + port_text if colon else ""
        if _HOST.fullmatch(host) is None:
            raise SipSyntaxError(f"bad host {host[:40]!r}")
    if not rest:
        return host, None
    if not rest.startswith(":"):
        raise SipSyntaxError(f"bad port in {text[:60]!r}")
    return host, parse_uint(rest[1:], 65535, "port")


def parse_sip_uri(text: str) -> SipUri:
    """Parse *text*, which must be a sip: or sips: URI."""
    uri = parse_uri(text)
    if not isinstance(uri, SipUri):
        raise SipSyntaxError(f"not a SIP URI: {text!r}")
    return uri
