"""Names and addresses of recordings, as Kazoo makes them (see KAZOO-COMPAT.md, "The upload request").

``call_recording_<CALL_ID>.<EXT>`` (``_2``, ``_3``… for later recordings of one call), the upload URL
with the file name placed by Kazoo's rules, its twelve-key query string, and the placeholders calltape
fills in a URL (``{account_id}``, ``{call_id}``, ``{owner_id}``, ``{user_id}``, ``{caller_id_number}``,
``{callee_id_number}``, any case).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

GREGORIAN_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01: Kazoo's timestamps
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


URL_SCHEMES = ("http", "https", "ftp", "ftps")
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)  # what MP3 can hold
MIN_TIME_LIMIT = 5  # seconds: Kazoo's minimum time_limit


def check_url(value: str) -> str:
    """A recording ``url`` calltape can deliver to (http, https, ftp, ftps, with a host), or ValueError."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        raise ValueError(f"must be an http, https, ftp or ftps URL, not {parts.scheme or 'a relative'!r} one")
    if not parts.hostname:
        raise ValueError("must name a host")
    return value


def gregorian(unix_time: float) -> int:
    """Kazoo's time: whole seconds since year 0."""
    return int(unix_time) + GREGORIAN_OFFSET


def recording_id(unix_time: float | None = None) -> str:
    """A Kazoo-style document id: ``YYYYMM-<32 hex>``."""
    return time.strftime("%Y%m", time.gmtime(time.time() if unix_time is None else unix_time)) + "-" + uuid.uuid4().hex


def cdr_id(call_id: str, unix_time: float) -> str:
    """``YYYYMM-<call_id>``."""
    return time.strftime("%Y%m", time.gmtime(unix_time)) + "-" + call_id


def file_name(call_id: str, ext: str, sequence: int = 1, media_name: str | None = None) -> str:
    """``call_recording_<CALL_ID>.<EXT>`` (``…_2.<EXT>`` for the call's second), or *media_name* with its
    extension added only when it does not have it already."""
    suffix = f"_{sequence}" if sequence > 1 else ""
    if media_name:
        stem = media_name[: -len(ext) - 1] if media_name.lower().endswith("." + ext) else media_name
        return f"{stem}{suffix}.{ext}"
    return f"call_recording_{call_id}{suffix}.{ext}"


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
