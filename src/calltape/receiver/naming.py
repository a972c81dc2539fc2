"""Which recording a request is about: its file name, account and metadata, from Kazoo's URL forms.

Kazoo PUTs to ``URL/call_recording_<CALL_ID>.<EXT>?from=…&account_id=…`` (record_call),
``URL/<CALL_ID>.<EXT>`` (record_caller), or, when URL had a query already, puts the file name in
a query parameter (``?k=call_recording_…``, ``?k=v&recording=call_recording_…``). Any prefix is
allowed before the name. Everything that reaches the filesystem is checked here: a name is one
safe path segment and never ``.``/``..``, and raw paths with traversal in any spelling are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from calltape.media.formats import CONTENT_TYPES

_NAME = re.compile(r"^(?:call_recording_)?(?P<id>[^/\\\x00]+)\.(?P<ext>[A-Za-z0-9]{2,5})$")
_RECORDING_VALUE = re.compile(r"^call_recording_[^/\\\x00]+\.[A-Za-z0-9]{2,5}$")
_SAFE_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")  # a Kazoo account id, as record_caller URLs carry it in their path
MAX_NAME = 200


class BadRequestError(ValueError):
    """The request names no acceptable recording (400)."""


@dataclass(frozen=True)
class Upload:
    """A recording upload's identity."""

    name: str  # the file name as Kazoo chose it, e.g. call_recording_abc.mp3
    ext: str  # lower-case extension
    account_id: str  # the query's, else the first account id in the path, else "unknown"
    metadata: dict[str, str]


def check_raw_path(raw_path: bytes) -> list[str]:
    """Decode a request path segment by segment, refusing traversal in any spelling."""
    if b"\x00" in raw_path or b"\\" in raw_path:
        raise BadRequestError("the path contains NUL or a backslash")
    text = raw_path.decode("latin-1")
    if not text.startswith("/"):
        raise BadRequestError("the path must be absolute")
    segments = []
    for raw in text.split("/")[1:]:
        segment = unquote(raw, errors="strict") if "%" in raw else raw
        if segment in (".", "..") or any(c in segment for c in "/\\\x00"):
            raise BadRequestError(f"path segment {raw!r} is not allowed")
        segments.append(segment)
    if "" in segments[:-1]:
        raise BadRequestError("empty path segment")
    return segments


def parse_upload(raw_path: bytes, query_string: bytes) -> Upload:
    """The recording named by a PUT/POST's path and query."""
    segments = check_raw_path(raw_path)
    query = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    last = segments[-1] if segments else ""
    last_match = _NAME.match(last)
    # "/kzr/call_recording_x.mp3" names the file; "/upload.php?file=call_recording_x.mp3" does not
    name = last if last_match and last_match.group("ext").lower() in CONTENT_TYPES else ""
    metadata: dict[str, str] = {}
    for key, value in query:
        if not name and _RECORDING_VALUE.match(value):
            name = value  # the name rode on a query parameter
            continue
        if key.startswith("call_recording_") and not value and _RECORDING_VALUE.match(key) and not name:
            name = key
            continue
        metadata.setdefault(key, value)
    if not name and last_match:
        name = last  # an unknown extension: named, and refused later as an unaccepted format
    match = _NAME.match(name)
    if not match or len(name) > MAX_NAME or name.startswith("."):
        raise BadRequestError("no recording name (…/call_recording_<CALL_ID>.<EXT> or …/<CALL_ID>.<EXT>)")
    if any(c in name for c in "/\\\x00") or name in (".", ".."):
        raise BadRequestError("bad recording name")
    in_path = next((segment for segment in segments[:-1] if _ACCOUNT_ID.match(segment)), None)
    account_id = metadata.get("account_id") or in_path or "unknown"  # record_caller sends no query
    if not _SAFE_ACCOUNT.match(account_id):
        raise BadRequestError("account_id must be 1-64 letters, digits, '-' or '_'")
    return Upload(name=name, ext=match.group("ext").lower(), account_id=account_id, metadata=metadata)
