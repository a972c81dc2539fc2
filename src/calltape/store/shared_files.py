"""Files every node needs — voicemail messages, uploaded and phone-recorded media — kept in the shared store as
well as in the data dir of the node that made them. Another node fetches such a file into its own data dir the
first time it needs it (a message left on one node is played by another; music uploaded through one node's API is
heard on calls on all of them). A file is known by its path under the data dir, the same on every node.

With SQLite the store is not shared (one node): the data dir is the only copy, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from sqlalchemy import delete, insert, select

from calltape.store import schema
from calltape.store.database import Database

log = logging.getLogger(__name__)


class SharedFiles:
    """The store's copies of the files under *data_dir* that every node needs."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self.table = schema.shared_files

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
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.key == key))
            row = {"account_id": account_id, "data": data, "size": len(data), "created": created}
            await conn.execute(insert(self.table).values(key=key, **row))
        os.utime(path, (created, created))  # this copy is as new as the store's

    async def local(self, path: Path) -> bool:
        """Whether *path* is on this node's disk as the store has it: fetched if another node made it, or made it
        again since (a media uploaded anew)."""
        if not self.shared:
            return path.exists()
        t = self.table
        async with self.db.engine.connect() as conn:
            created = (await conn.execute(select(t.c.created).where(t.c.key == self._key(path)))).scalar()
            if created is None:
                return path.exists()  # made before files were shared, or on this node only
            if path.exists() and path.stat().st_mtime >= created:
                return True
            data = (await conn.execute(select(t.c.data).where(t.c.key == self._key(path)))).scalar_one()
        await asyncio.to_thread(_write, path, bytes(data), float(created))
        log.info("fetched %s from the store (made by another node)", self._key(path))
        return True

    async def forget(self, *paths: Path) -> None:
        """The store's copies of *paths* go (the files themselves are the caller's to remove)."""
        if not self.shared:
            return
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.key.in_([self._key(p) for p in paths])))

    async def share_what_is_here(self, *folders: str) -> int:
        """Copy the files under *folders* of the data dir (``voicemail``, ``media``) that the store lacks into it —
        what this node made before files were shared; how many. Files are laid out ``<folder>/<account>/…``."""
        if not self.shared:
            return 0
        async with self.db.engine.connect() as conn:
            known = set((await conn.execute(select(self.table.c.key))).scalars())
        shared = 0
        for folder in folders:
            for path in sorted((self.data_dir / folder).glob("*/**/*")):
                if not path.is_file() or path.name.startswith((".", "draft-")) or path.suffix == ".tmp":
                    continue  # being written, or a greeting not kept yet
                if self._key(path) not in known:
                    await self.keep(path, path.relative_to(self.data_dir / folder).parts[0])
                    shared += 1
        return shared

    def _key(self, path: Path) -> str:
        return path.resolve().relative_to(self.data_dir.resolve()).as_posix()


def _write(path: Path, data: bytes, created: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.fetching")
    tmp.write_bytes(data)
    os.utime(tmp, (created, created))
    tmp.replace(path)
