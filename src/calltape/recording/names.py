"""Names of recordings, as Kazoo makes them (see KAZOO-COMPAT.md, "The upload request").

``call_recording_<CALL_ID>.<EXT>`` (``_2``, ``_3``… for later recordings of one call), Kazoo's ids and
timestamps, and which recording URLs calltape can deliver to. Where an upload goes is ``delivery/addresses``.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

GREGORIAN_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01: Kazoo's timestamps


URL_SCHEMES = ("http", "https", "ftp", "ftps")
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)  # what MP3 can hold
MIN_TIME_LIMIT = 5  # seconds: Kazoo's minimum time_limit
MAX_TIME_LIMIT = 10800  # seconds: the most Kazoo's schema accepts


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


def file_name(call_id: str, ext: str, sequence: int = 1) -> str:
    """The uploaded file: ``call_recording_<CALL_ID>.<EXT>`` (``…_2.<EXT>`` for the call's second)."""
    suffix = f"_{sequence}" if sequence > 1 else ""
    return f"call_recording_{call_id}{suffix}.{ext}"


def media_name(name: str | None, ext: str) -> str | None:
    """``media_name`` as the recording document's name (Kazoo: it names the document, not the upload), its
    extension added only when it does not have it already."""
    if not name:
        return None
    return name if name.lower().endswith("." + ext) else f"{name}.{ext}"
