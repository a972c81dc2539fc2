"""Files every node needs — voicemail messages, uploaded and phone-recorded media — kept in the shared store as
well as in the data dir of the node that made them. Another node fetches such a file into its own data dir the
first time it needs it (a message left on one node is played by another; music uploaded through one node's API is
heard on calls on all of them), and again once it was made anew; a file deleted is deleted everywhere (its row
stays as a tombstone). A file is known by its path under the data dir, the same on every node; a local copy is
as new as the store's when its mtime is the row's ``created`` (set by the store's side, so clocks do not matter).

With SQLite the store is not shared (one node): the data dir is the only copy, as before. While PostgreSQL is
away, the copies on disk are used as they are: a call never waits for the store to play a file it has.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from calltape.logs import throttle
from calltape.store import schema
from calltape.store.database import Database, store_away

log = logging.getLogger(__name__)

FRESH_FOR = 10.0  # seconds a copy checked against the store is taken as current without asking again


class SharedFiles:
    """The store's copies of the files under *data_dir* that every node needs."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self.table = schema.shared_files
        self._checked: dict[str, float] = {}  # key → until when its local copy is taken as current
        self._fetching: dict[str, asyncio.Lock] = {}

    @property
    def shared(self) -> bool:
        """Whether other nodes use this store (PostgreSQL)."""
        return not self.db.is_sqlite

    async def keep(self, path: Path, account_id: str) -> None:
        """Copy *path* (a file under the data dir, just written) into the store, replacing an older copy."""
        if not self.shared:
            return
        data = await asyncio.to_thread(path.read_bytes)
        key, created = self._key(path), time.time()
        row = {"key": key, "account_id": account_id, "data": data, "size": len(data), "created": created}
        upsert = insert(self.table).values(**row, deleted=False)
        newer = upsert.excluded.created > self.table.c.created  # two nodes at once: the later upload wins
        fields = ("data", "size", "created", "deleted")
        upsert = upsert.on_conflict_do_update(
            index_elements=["key"], set_={f: upsert.excluded[f] for f in fields}, where=newer
        )
        async with self.db.engine.begin() as conn:
            await conn.execute(upsert)
        os.utime(path, (created, created))  # this copy is as new as the store's
        self._checked[key] = time.monotonic() + FRESH_FOR

    async def local(self, path: Path, *, now: bool = False) -> bool:
        """Whether *path* is on this node's disk as the store has it: fetched if another node made it (or made it
        anew), removed if it was deleted. A copy checked in the last ``FRESH_FOR`` seconds is taken as it is,
        unless *now* (an API download: exactly what the store has). While the store is away, the copy on disk is
        used as it is."""
        if not self.shared:
            return path.exists()
        key = self._key(path)
        if not now and path.exists() and self._checked.get(key, 0.0) > time.monotonic():
            return True
        try:
            return await self._as_stored(path, key)
        except Exception as exc:
            if not store_away(exc):
                raise
            throttle.log(log, logging.WARNING, "files-store-away", "the store is away (%r): files used as on disk", exc)
            return path.exists()

    async def forget(self, *paths: Path) -> None:
        """*paths* are deleted on every node: their rows become tombstones (the files here are the caller's)."""
        if not self.shared:
            return
        keys = [self._key(path) for path in paths]
        tombstone = {"data": b"", "size": 0, "created": time.time(), "deleted": True}
        async with self.db.engine.begin() as conn:
            await conn.execute(update(self.table).where(self.table.c.key.in_(keys)).values(**tombstone))
        for key in keys:
            self._checked.pop(key, None)

    async def share_what_is_here(self, *folders: str) -> int:
        """Copy the files under *folders* of the data dir (``voicemail``, ``media``) that the store has never
        known into it — what this node made before files were shared; how many. Files are laid out
        ``<folder>/<account>/…``; one the store knows (or knew: deleted) is left alone."""
        if not self.shared:
            return 0
        async with self.db.engine.connect() as conn:
            known = set((await conn.execute(select(self.table.c.key))).scalars())
        shared = 0
        for folder in folders:
            for path in sorted((self.data_dir / folder).glob("*/**/*")):
                if not path.is_file() or path.name.startswith((".", "draft-")) or path.suffix == ".tmp":
                    continue  # being written, or a greeting not kept yet
                if self._key(path) in known:
                    continue
                data = await asyncio.to_thread(path.read_bytes)
                account_id = path.relative_to(self.data_dir / folder).parts[0]
                row = {"key": self._key(path), "account_id": account_id, "data": data, "size": len(data)}
                async with self.db.engine.begin() as conn:
                    created = time.time()
                    await conn.execute(insert(self.table).values(**row, created=created).on_conflict_do_nothing())
                os.utime(path, (created, created))
                shared += 1
        return shared

    async def _as_stored(self, path: Path, key: str) -> bool:
        t = self.table
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(t.c.created, t.c.deleted).where(t.c.key == key))).one_or_none()
        if row is None:
            return path.exists()  # made before files were shared, or on this node only
        if row.deleted:
            await asyncio.to_thread(path.unlink, True)
            return False
        if not (path.exists() and _same_time(path.stat().st_mtime, row.created)):
            async with self._fetching.setdefault(key, asyncio.Lock()):  # one fetch per file at a time
                if not (path.exists() and _same_time(path.stat().st_mtime, row.created)):
                    await self._fetch(path, key)
        self._checked[key] = time.monotonic() + FRESH_FOR
        return True

    async def _fetch(self, path: Path, key: str) -> None:
        t = self.table
        async with self.db.engine.connect() as conn:
            data, created = (await conn.execute(select(t.c.data, t.c.created).where(t.c.key == key))).one()
        await asyncio.to_thread(_write, path, bytes(data), float(created))
        log.info("fetched %s from the store (made by another node)", key)

    def _key(self, path: Path) -> str:
        """*path*'s name in the store: relative to the data dir (a path outside it has none)."""
        relative = path.relative_to(self.data_dir)
        if ".." in relative.parts:
            raise ValueError(f"{path} is not under the data dir")
        return relative.as_posix()


def _same_time(mtime: float, created: float) -> bool:
    return abs(mtime - created) < 0.001


def _write(path: Path, data: bytes, created: float) -> None:
    """*data* to *path* in one step (a unique temporary file beside it, renamed), its mtime the row's ``created``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.utime(tmp, (created, created))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
