"""Where an upload goes, as Kazoo addresses it (KAZOO-COMPAT.md, "The upload request").

The upload URL with the file name placed by Kazoo's rules, its twelve-key query string read from the
recording's metadata, and the placeholders calltape fills in a URL (``{account_id}``, ``{call_id}``,
``{owner_id}``, ``{user_id}``, ``{caller_id_number}``, ``{callee_id_number}``, any case).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

QUERY_KEYS = (
    "from",
    "to",
    "caller_id_name",
    "caller_id_number",
    "call_id",
    "cdr_id",
    "interaction_id",
    "account_id",
    "owner_id",
    "start",
    "duration_ms",
    "recording_id",
)
PLACEHOLDERS = ("account_id", "call_id", "owner_id", "user_id", "caller_id_number", "callee_id_number")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}", re.IGNORECASE)
UNKNOWN = "unknown"  # what a placeholder without a value becomes (an empty path segment breaks receivers)


def fill_placeholders(url: str, values: Mapping[str, str | None]) -> str:
    """Replace ``{account_id}``-style placeholders (any case) by percent-encoded values."""

    def value(match: re.Match[str]) -> str:
        return quote(values.get(match.group(1).lower()) or UNKNOWN, safe="")

    return _PLACEHOLDER.sub(value, url)


def upload_url(base: str, name: str, query: Mapping[str, str | int | None] | None) -> str:
    """Kazoo's upload URL: ``base/name?query``; a *base* with a query already carries the name in its last
    parameter (``?k`` and ``?k=`` → ``?k=name``, ``?k=v`` → ``?k=v&recording=name``). No *query*: none added."""
    encoded = quote(name, safe="")
    if "?" in base:
        if base.endswith("?"):
            url = base + "recording=" + encoded
        elif "=" not in base.rsplit("&", 1)[-1].split("?")[-1]:
            url = base + "=" + encoded
        elif base.endswith("="):
            url = base + encoded
        else:
            url = base + "&recording=" + encoded
        separator = "&"
    else:
        url = base + ("" if base.endswith("/") else "/") + encoded
        separator = "?"
    if query is None:
        return url
    pairs = "&".join(f"{key}={quote(_text(query.get(key)), safe='')}" for key in QUERY_KEYS)
    return url + separator + pairs


def _text(value: str | int | None) -> str:
    return "" if value is None else str(value)


def upload_query(doc: dict[str, Any], account_id: str) -> dict[str, str | int | None]:
    """Kazoo's twelve query keys, read from the metadata document."""
    return {
        "from": doc.get("from"),
        "to": doc.get("to"),
        "caller_id_name": doc.get("caller_id_name"),
        "caller_id_number": doc.get("caller_id_number"),
        "call_id": doc.get("call_id"),
        "cdr_id": doc.get("cdr_id"),
        "interaction_id": doc.get("interaction_id"),
        "account_id": account_id,
        "owner_id": doc.get("owner_id"),
        "start": doc.get("start"),
        "duration_ms": doc.get("duration_ms"),
        "recording_id": doc.get("recording_id"),
    }
