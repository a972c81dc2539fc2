"""Receiving a body into a temporary file while hashing it: nothing is kept until it is complete."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import uuid
from pathlib import Path

from calltape.media.formats import SNIFF_BYTES

_SPOOL_PREFIX = uuid.uuid4().hex[:12]  # unique per process; a counter names the files within it
_SPOOL_NUMBERS = itertools.count()


class SpoolFile:
    """A body being written to ``<dir>/<uuid>.part``; removed by :meth:`discard` unless handed on."""

    def __init__(self, directory: Path, *, want_md5: bool = False) -> None:
        self.path = directory / f"{_SPOOL_PREFIX}-{next(_SPOOL_NUMBERS)}.part"  # the directory exists already
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5() if want_md5 else None
        self.size = 0
        self.head = b""

    def write(self, chunk: bytes) -> None:
        """Append *chunk* (the page cache absorbs it; :meth:`finish` makes it durable)."""
        if not chunk:
            return
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._sha256.update(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of what was written."""
        return self._sha256.hexdigest()

    def digest_matches(self, content_md5: str | None, repr_digest: str | None) -> bool:
        """Check ``Content-MD5`` (RFC 1864) and ``Repr-Digest`` (RFC 9530, sha-256/sha-512 entries)."""
        if content_md5 is not None and (
            self._md5 is None or base64.b64encode(self._md5.digest()).decode() != content_md5.strip()
        ):
            return False
        if repr_digest:
            entries = dict(_dictionary_item(i) for i in repr_digest.split(","))
            if "sha-256" in entries and entries["sha-256"] != self._sha256.digest():
                return False
        return True

    def sync_and_close(self) -> None:
        """Make the bytes durable and close the file (blocking: call it from a worker thread)."""
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Close and delete the file (safe to call twice)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)


def _dictionary_item(item: str) -> tuple[str, bytes]:
    key, _, value = item.strip().partition("=")
    value = value.strip()
    if not (value.startswith(":") and value.endswith(":")):
        return key.lower(), b""
    try:
        return key.lower(), base64.b64decode(value[1:-1], validate=True)
    except ValueError:
        return key.lower(), b""
