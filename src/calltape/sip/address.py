"""name-addr / addr-spec values of From, To, Contact, Route and Record-Route (RFC 3261 §20)."""

from __future__ import annotations

from dataclasses import dataclass, field

from calltape.sip.syntax import (
    WHITESPACE,
    Params,
    SipSyntaxError,
    cached_parser,
    format_params,
    get_param,
    is_token,
    parse_params,
    quote,
    set_param,
    unquote,
)
from calltape.sip.uri import Uri, parse_uri


@dataclass(frozen=True)
class Address:
    """A URI with an optional display name and header parameters (tag, expires, q, …)."""

    uri: Uri
    display_name: str | None = None
    params: Params = field(default_factory=list)

    def param(self, name: str) -> str | None:
        """A header parameter's value ("" for a flag), or None."""
        return get_param(self.params, name)

    @property
    def tag(self) -> str | None:
        """The tag parameter (From/To)."""
        return self.param("tag")

    def with_param(self, name: str, value: str | None) -> Address:
        """A copy with parameter *name* set."""
        return Address(self.uri, self.display_name, set_param(self.params, name, value))

    def __str__(self) -> str:
        name = f"{quote(self.display_name)} " if self.display_name else ""
        return f"{name}<{self.uri}>{format_params(self.params)}"


@cached_parser
def parse_address(text: str) -> Address:
    """Parse one name-addr or addr-spec with its parameters."""
    text = text.strip(WHITESPACE)
    if not text:
        raise SipSyntaxError("empty address")
    display: str | None = None
    if text.startswith('"'):
        end = _closing_quote(text)
        display = unquote(text[: end + 1])
        text = text[end + 1 :].lstrip(WHITESPACE)
        if not text.startswith("<"):
            raise SipSyntaxError("display name without <uri>")
    elif "<" in text and not text.startswith("<"):
        lt = text.index("<")
        words = text[:lt].split()
        if not all(is_token(w) for w in words):
            raise SipSyntaxError("bad display name")
        display = " ".join(words) or None
        text = text[lt:]
    if text.startswith("<"):
        gt = text.find(">")
        if gt < 0:
            raise SipSyntaxError("missing '>'")
        uri_text, rest = text[1:gt], text[gt + 1 :].lstrip(WHITESPACE)
    else:
        uri_text, semi, rest = text.partition(";")
        rest = semi + rest
    if rest and not rest.startswith(";"):
        raise SipSyntaxError(f"unexpected text after address: {rest[:40]!r}")
    params = parse_params(rest[1:]) if rest else []
    return Address(parse_uri(uri_text.strip(WHITESPACE)), display, params)


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise SipSyntaxError("unbalanced quotes")
