"""An ordered, case-insensitive header list with SIP's compact names (RFC 3261 §7.3)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from calltape.sip.syntax import WHITESPACE, split_outside_quotes

COMPACT_NAMES = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_CANONICAL = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Expires",
        "From",
        "In-Reply-To",
        "Max-Forwards",
        "Min-Expires",
        "MIME-Version",
        "Organization",
        "Priority",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Record-Route",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Subject",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
        "Path",
        "RSeq",
        "RAck",
        "Event",
        "Allow-Events",
        "Refer-To",
        "Referred-By",
        "Session-Expires",
        "Min-SE",
        "P-Asserted-Identity",
        "Identity",
        "Identity-Info",
        "Accept-Contact",
        "Reject-Contact",
        "Request-Disposition",
    )
}

#: Headers whose values are comma-separated lists (RFC 3261 §7.3.1); others are never split.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Call-Info",
        "Contact",
        "Content-Encoding",
        "Content-Language",
        "Error-Info",
        "In-Reply-To",
        "Proxy-Require",
        "Record-Route",
        "Require",
        "Route",
        "Supported",
        "Unsupported",
        "Via",
        "Warning",
        "Path",
        "Allow-Events",
    )
)

#: Headers that may appear at most once in a message.
SINGLE_HEADERS = frozenset(
    (
        "Call-ID",
        "CSeq",
        "From",
        "To",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Expires",
        "Min-Expires",
    )
)
SINGLE_KEYS = frozenset(name.lower() for name in SINGLE_HEADERS)


def canonical_name(name: str) -> str:
    """The full, conventionally-cased name of a header (compact forms expanded)."""
    lower = name.lower()
    if len(lower) == 1 and lower in COMPACT_NAMES:
        return COMPACT_NAMES[lower]
    return _CANONICAL.get(lower, name)


@lru_cache(maxsize=1024)
def header_key(name: str) -> str:
    """The case-folded canonical name used for lookups."""
    return canonical_name(name).lower()


class Headers:
    """Headers in message order. Names are stored canonically; lookups ignore case."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str, str]] = []  # (lookup key, canonical name, value)
        for name, value in items or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a header."""
        self._items.append((header_key(name), canonical_name(name), value))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of *name* as written (not split)."""
        key = header_key(name)
        for k, _, v in self._items:
            if k == key:
                return v
        return default

    def get_lines(self, name: str) -> list[str]:
        """Every header line of *name*, not split."""
        key = header_key(name)
        return [v for k, _, v in self._items if k == key]

    def get_all(self, name: str) -> list[str]:
        """Every value of *name*; list headers are split on commas outside quotes and <>."""
        lines = self.get_lines(name)
        if header_key(name) not in LIST_HEADERS:
            return lines
        values: list[str] = []
        for line in lines:
            values.extend(p.strip(WHITESPACE) for p in split_outside_quotes(line, ","))
        return values

    def set(self, name: str, value: str) -> None:
        """Replace every *name* header by one with *value* (in the first one's place)."""
        key, canonical = header_key(name), canonical_name(name)
        for i, (k, _, _) in enumerate(self._items):
            if k == key:
                self._items[i] = (key, canonical, value)
                self._items = [item for j, item in enumerate(self._items) if j <= i or item[0] != key]
                return
        self._items.append((key, canonical, value))

    def set_first_value(self, name: str, value: str) -> None:
        """Replace the first comma-separated value of the first *name* line (e.g. the top Via)."""
        key = header_key(name)
        for i, (k, n, line) in enumerate(self._items):
            if k == key:
                rest = split_outside_quotes(line, ",")[1:]
                self._items[i] = (k, n, ",".join([value, *rest]))
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        """Drop every *name* header."""
        key = header_key(name)
        self._items = [item for item in self._items if item[0] != key]

    def count(self, name: str) -> int:
        """How many header lines are named *name*."""
        key = header_key(name)
        return sum(1 for k, _, _ in self._items if k == key)

    def repeated(self) -> frozenset[str]:
        """Lookup keys of the headers that appear on more than one line."""
        seen: dict[str, None] = {}
        repeated = []
        for key, _, _ in self._items:
            if key in seen:
                repeated.append(key)
            seen[key] = None
        return frozenset(repeated)

    def copy(self) -> Headers:
        """A shallow copy."""
        new = Headers()
        new._items = list(self._items)
        return new

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((n, v) for _, n, v in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({[(n, v) for _, n, v in self._items]!r})"
