"""Where received recordings end up. ``DirectoryStorage`` is the default; S3 and PostgreSQL live beside it.

Every backend follows the same rules: the stored name is Kazoo's name; the same name with the same
bytes again is a duplicate (nothing new kept); different bytes become ``name.1.ext``, ``name.2.ext``…
— a stored recording is never overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from calltape.receiver.naming import Upload
from calltape.receiver.spool import SpoolFile

Sidecar = dict[str, Any]


@dataclass(frozen=True)
class StoredFile:
    """The outcome of storing one upload."""

    key: str  # account/YYYY/MM/name — also the path under /recordings/
    size: int
    sha256: str
    created: bool  # False: identical bytes were already stored under this name
    location: str  # where it is: a filesystem path, s3://bucket/key, postgresql:…


def versioned_name(name: str, version: int) -> str:
    """``call_recording_x.mp3`` → ``call_recording_x.1.mp3`` for version 1."""
    if version == 0:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{version}.{ext}" if dot else f"{name}.{version}"


def key_prefix(upload: Upload, received: datetime) -> str:
    """``<account>/<YYYY>/<MM>``."""
    return f"{upload.account_id}/{received:%Y}/{received:%m}"


class NameLocks:
    """Serialises stores of one name within this process; striped, so memory stays bounded."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [asyncio.Lock() for _ in range(stripes)]

    def __call__(self, key: str) -> asyncio.Lock:
        return self._locks[hash(key) % len(self._locks)]


def received_between(sidecar: Sidecar, since: str | None, until: str | None) -> bool:
    """Whether a recording's ``received_at`` falls in [since, until] (ISO dates or times, inclusive)."""
    received = str(sidecar.get("received_at", ""))
    return not ((since and received < since) or (until and received[: len(until)] > until))


class Storage(Protocol):
    """What the receiver needs from a backend."""

    spool_dir: Path  # where uploads are spooled while they arrive

    async def store(self, spool: SpoolFile, upload: Upload, sidecar: Sidecar, received: datetime) -> StoredFile: ...
    async def find(self, account_id: str | None, since: str | None, until: str | None) -> list[Sidecar]: ...
    async def stat(self, key: str) -> Sidecar | None: ...
    def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]: ...
    async def close(self) -> None: ...


class DirectoryStorage:
    """``DIR/<account>/<YYYY>/<MM>/<name>`` with a ``<name>.json`` sidecar; link-based, never overwrites."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool_dir = root / ".incoming"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock_for = NameLocks()
        self._made_dirs: set[Path] = set()

    async def store(self, spool: SpoolFile, upload: Upload, sidecar: Sidecar, received: datetime) -> StoredFile:
        prefix = key_prefix(upload, received)
        async with self._lock_for(f"{prefix}/{upload.name}"):
            known = self._known_duplicate(spool, upload.name, prefix)
            if known is not None:  # a repeat of a stored upload: no thread, no disk work beyond lstat
                spool.discard()
                return known
            return await asyncio.to_thread(self._commit_and_discard, spool, upload.name, prefix, sidecar)

    def _known_duplicate(self, spool: SpoolFile, name: str, prefix: str) -> StoredFile | None:
        """The stored version with these bytes, if its hash is already in memory."""
        for version in range(10_000):
            candidate = versioned_name(name, version)
            target = self.root / prefix / candidate
            known = _KNOWN_HASHES.get(target)
            if known is None:
                return None
            if known == spool.sha256 and os.path.lexists(target):
                return StoredFile(f"{prefix}/{candidate}", spool.size, spool.sha256, False, str(target))
        return None

    def _commit_and_discard(self, spool: SpoolFile, name: str, prefix: str, sidecar: Sidecar) -> StoredFile:
        try:
            return self._commit(spool, name, prefix, sidecar)
        finally:
            spool.discard()  # the spool's name only: a stored file keeps its own link

    def _commit(self, spool: SpoolFile, name: str, prefix: str, sidecar: Sidecar) -> StoredFile:
        """Find the name's first free version, unless identical bytes are already stored (blocking).

        A duplicate needs no fsync at all; a new file is made durable before it gets its name.
        """
        directory = self.root / prefix
        if directory not in self._made_dirs:
            directory.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(directory)
        synced = False
        for version in range(10_000):
            candidate = versioned_name(name, version)
            target = directory / candidate
            if os.path.lexists(target):
                if _sha256_of(target) == spool.sha256:
                    return StoredFile(f"{prefix}/{candidate}", spool.size, spool.sha256, False, str(target))
                continue
            if not synced:
                spool.sync_and_close()
                synced = True
            try:
                os.link(spool.path, target)  # atomic, and never replaces an existing file
            except FileExistsError:  # another upload took this name a moment ago: look again
                if _sha256_of(target) == spool.sha256:
                    return StoredFile(f"{prefix}/{candidate}", spool.size, spool.sha256, False, str(target))
                continue
            _KNOWN_HASHES[target] = spool.sha256
            doc = {**sidecar, "name": candidate, "key": f"{prefix}/{candidate}", "version": version}
            _write_atomically(directory / f"{candidate}.json", json.dumps(doc, indent=1).encode())
            _fsync_dir(directory)
            return StoredFile(f"{prefix}/{candidate}", spool.size, spool.sha256, True, str(target))
        raise RuntimeError(f"too many versions of {name}")

    async def find(self, account_id: str | None, since: str | None, until: str | None) -> list[Sidecar]:
        return await asyncio.to_thread(self._find, account_id, since, until)

    def _find(self, account_id: str | None, since: str | None, until: str | None) -> list[Sidecar]:
        out: list[Sidecar] = []
        accounts = (
            [account_id]
            if account_id
            else sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        )
        for account in accounts:
            for sidecar_path in sorted((self.root / account).glob("*/*/*.json")):
                with contextlib.suppress(OSError, ValueError):
                    doc = json.loads(sidecar_path.read_text())
                    if received_between(doc, since, until):
                        out.append(doc)
        return out

    async def stat(self, key: str) -> Sidecar | None:
        path = self.root / key
        if not path.is_file():
            return None
        sidecar_path = path.with_name(path.name + ".json")
        doc: Sidecar = {}
        if sidecar_path.exists():
            doc = json.loads(sidecar_path.read_text())
        return {**doc, "size": path.stat().st_size}

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        with (self.root / key).open("rb") as fh:
            fh.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = fh.read(min(256 * 1024, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    async def close(self) -> None:
        return None


_KNOWN_HASHES: dict[Path, str] = {}  # stored files are never rewritten, so their hashes never change
MAX_KNOWN_HASHES = 100_000


def _sha256_of(path: Path) -> str:
    known = _KNOWN_HASHES.get(path)
    if known is None:
        known = _read_sha256(path)
        if len(_KNOWN_HASHES) >= MAX_KNOWN_HASHES:
            _KNOWN_HASHES.clear()
        _KNOWN_HASHES[path] = known
    return known


def _read_sha256(path: Path) -> str:
    sidecar = path.with_name(path.name + ".json")
    with contextlib.suppress(OSError, ValueError, KeyError):
        return str(json.loads(sidecar.read_text())["sha256"])
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
