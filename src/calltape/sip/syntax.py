"""Lexical helpers shared by the SIP parsers (RFC 3261 §25.1).

Everything here works on already-unfolded header text. Functions raise
:class:`SipSyntaxError` on input the grammar does not allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from calltape.digits import is_number

WHITESPACE = " \t"
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_WORD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+")

Params = list[tuple[str, str | None]]
T = TypeVar("T")
CACHED_TEXT_LIMIT = 256  # longer header values are parsed every time: a flood of them must not fill the caches


def cached_parser(parse: Callable[[str], T]) -> Callable[[str], T]:
    """*parse* with its results for short texts cached (they are immutable; a message's headers are read
    many times, and the same addresses come back call after call)."""
    cached = lru_cache(maxsize=8192)(parse)

    def parse_text(text: str) -> T:
        return cached(text) if len(text) <= CACHED_TEXT_LIMIT else parse(text)

    parse_text.__doc__ = parse.__doc__
    return parse_text


class SipSyntaxError(ValueError):
    """Text that does not match the SIP grammar."""


def is_call_id(text: str) -> bool:
    """True if *text* is a Call-ID: ``word ["@" word]`` (RFC 3261 §25.1)."""
    local, at, host = text.partition("@")
    return _WORD.fullmatch(local) is not None and (not at or _WORD.fullmatch(host) is not None)


def is_token(text: str) -> bool:
    """True if *text* is a non-empty RFC 3261 token."""
    return _TOKEN.fullmatch(text) is not None


def split_outside_quotes(text: str, separator: str, *, angle: bool = True) -> list[str]:
    """Split *text* on *separator* where it is not inside quotes (or <...> if *angle*)."""
    if '"' not in text and not (angle and "<" in text):
        return text.split(separator)  # the common case, without walking the characters
    parts: list[str] = []
    start = 0
    in_quotes = False
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_quotes:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quotes = False
        elif c == '"':
            in_quotes = True
        elif angle and c == "<":
            depth += 1
        elif angle and c == ">" and depth:
            depth -= 1
        elif c == separator and not depth:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if in_quotes:
        raise SipSyntaxError("unbalanced quotes")
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> Params:
    """Parse ``;a=b;c`` (text starts after the first ``;``) into pairs, strictly."""
    params: Params = []
    for raw in split_outside_quotes(text, ";", angle=False):
        item = raw.strip(WHITESPACE)
        if not item:
            raise SipSyntaxError("empty parameter")
        name, eq, value = item.partition("=")
        name = name.rstrip(WHITESPACE)
        if not is_token(name):
            raise SipSyntaxError(f"bad parameter name {name!r}")
        if not eq:
            params.append((name, None))
            continue
        value = value.lstrip(WHITESPACE)
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise SipSyntaxError("bad quoted parameter")
        elif _WORD.fullmatch(value) is None:
            raise SipSyntaxError(f"bad parameter value for {name!r}")
        params.append((name, value))
    return params


def format_params(params: Params) -> str:
    """Serialise parameter pairs as ``;a=b;c``."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def get_param(params: Params, name: str) -> str | None:
    """The value of parameter *name* (case-insensitive); "" for a flag; None if absent."""
    lname = name.lower()
    for k, v in params:
        if k.lower() == lname:
            return "" if v is None else v
    return None


def set_param(params: Params, name: str, value: str | None) -> Params:
    """A copy of *params* with *name* set to *value* (replacing any existing one)."""
    lname = name.lower()
    out = [(k, v) for k, v in params if k.lower() != lname]
    out.append((name, value))
    return out


def unquote(text: str) -> str:
    """Remove surrounding quotes and backslash escapes from a quoted-string."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        out = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out)
    return text


def quote(text: str) -> str:
    """Make a quoted-string of *text*."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bounded_digits_value(digits: str, limit: int) -> int | None:
    """The value of a run of ASCII digits, or None above *limit*. Leading zeros are allowed, however many:
    they are cut before ``int()`` sees the text, which otherwise refuses more than 4,300 digits."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(limit)):
        return None
    value = int(significant)
    return value if value <= limit else None


def parse_uint(text: str, limit: int, what: str) -> int:
    """Parse a run of ASCII digits no greater than *limit* (leading zeros allowed, length bounded first)."""
    text = text.strip(WHITESPACE)
    if not is_number(text, max_digits=None):  # leading zeros are allowed: the length is bounded below
        raise SipSyntaxError(f"bad {what}")
    value = bounded_digits_value(text, limit)
    if value is None:
        raise SipSyntaxError(f"{what} out of range")
    return value


MAX_DELTA_SECONDS = 2**32 - 1


def parse_delta_seconds(text: str, what: str = "expires value") -> int:
    """``delta-seconds`` (RFC 3261 §25.1): digits; values beyond 2**32-1 count as 2**32-1 (§20.19)."""
    text = text.strip(WHITESPACE)
    if not is_number(text, max_digits=None):  # leading zeros are allowed: the length is bounded below
        raise SipSyntaxError(f"bad {what} {text[:20]!r}")
    value = bounded_digits_value(text, MAX_DELTA_SECONDS)
    return MAX_DELTA_SECONDS if value is None else value


def text_of(value: str) -> str:
    """*value* as valid Unicode: bytes that were not UTF-8 (kept as surrogates by the parser) become U+FFFD.

    Header values keep the bytes they arrived with; free text that leaves the SIP layer (a User-Agent
    stored in the database, a display name in a log or a record) goes through this once.
    """
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def is_utf8(value: str) -> bool:
    """True if *value* arrived as valid UTF-8 (the parser keeps other bytes as surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: Headers a flow or a carrier document may not set: they make the request what it is, or assert an identity.
RESERVED_HEADERS = frozenset(
    {
        "via", "from", "to", "call-id", "cseq", "contact", "max-forwards", "content-length", "content-type",
        "route", "record-route", "authorization", "proxy-authorization", "p-asserted-identity",
        "p-preferred-identity", "identity", "refer-to", "replaces", "require", "proxy-require",
    }
)  # fmt: skip


def custom_header_problem(name: str, value: str) -> str | None:
    """Why *name*: *value* cannot be added to a request we send (None if it can): a token name, no line break
    in the value, and none of the headers that make a request what it is."""
    if not is_token(name):
        return f"header name {name!r} is not a SIP token"
    if name.lower() in RESERVED_HEADERS:
        return f"header {name!r} is set by calltape, not by a document"
    if any(ch in value for ch in "\r\n\0"):
        return f"header {name!r}: a value may not hold a line break"
    return None
