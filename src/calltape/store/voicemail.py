"""Voicemail messages: a row per message (caller, time, length, folder) and its audio file in the data dir:
``<message id>.mp3`` or ``.wav``, as its box's ``media_extension`` was when it was left — also in the shared store
(``shared_files.py``), so that every node can play it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import Doc, NotFoundError
from calltape.store.shared_files import SharedFiles

FOLDERS = ("new", "saved", "deleted")
AUDIO_SUFFIXES = (".mp3", ".wav")


class VoicemailMessages:
    """The messages of every box of every account."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.root = data_dir / "voicemail"
        self.table = schema.vm_messages
        self.files = SharedFiles(db, data_dir)

    def new_audio_path(self, account_id: str, box_id: str) -> tuple[str, Path]:
        """A fresh message id and where its audio is recorded, as WAV (the directory exists)."""
        message_id = uuid.uuid4().hex
        path = self.root / account_id / box_id / f"{message_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        return message_id, path

    async def local_audio(self, account_id: str, box_id: str, message_id: str) -> Path | None:
        """A message's audio on this node's disk (fetched from the store if another node took the message); None
        if it is gone."""
        base = self.root / account_id / box_id / message_id
        for suffix in AUDIO_SUFFIXES:
            if await self.files.local(path := base.with_suffix(suffix)):
                return path
        return None

    def audio_path(self, account_id: str, box_id: str, message_id: str) -> Path:
        """Where a message's audio is on this node (its MP3 if it has one, else its WAV)."""
        base = self.root / account_id / box_id / message_id
        for suffix in AUDIO_SUFFIXES:
            if (path := base.with_suffix(suffix)).exists():
                return path
        return base.with_suffix(".wav")

    async def add(self, account_id: str, box_id: str, message_id: str, doc: Doc) -> Doc:
        """Store a message (folder ``new``) and its audio for every node; the folder is a column of its own, added to
        the document when read."""
        audio = self.audio_path(account_id, box_id, message_id)
        if audio.exists():
            await self.files.keep(audio, account_id)
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(self.table).values(
                    id=message_id, account_id=account_id, vmbox_id=box_id, folder="new", doc=doc, created=time.time()
                )
            )
        return {**doc, "folder": "new", "id": message_id}

    async def list(self, account_id: str, box_id: str, folders: tuple[str, ...] = ("new", "saved")) -> list[Doc]:
        """A box's messages in *folders*, oldest first."""
        t = self.table
        query = (
            select(t.c.id, t.c.doc, t.c.folder)
            .where((t.c.account_id == account_id) & (t.c.vmbox_id == box_id) & t.c.folder.in_(folders))
            .order_by(t.c.created)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{**doc, "folder": folder, "id": message_id} for message_id, doc, folder in rows]

    async def count(self, account_id: str, box_id: str) -> dict[str, int]:
        """How many messages each folder holds."""
        t = self.table
        query = (
            select(t.c.folder, func.count())
            .where((t.c.account_id == account_id) & (t.c.vmbox_id == box_id))
            .group_by(t.c.folder)
        )
        async with self.db.engine.connect() as conn:
            counts: dict[str, int] = {str(f): int(n) for f, n in (await conn.execute(query)).all()}
        return {folder: counts.get(folder, 0) for folder in FOLDERS}

    async def get(self, account_id: str, box_id: str, message_id: str) -> Doc:
        """One message, or NotFoundError."""
        t = self.table
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(t.c.doc, t.c.folder).where(self._where(account_id, box_id, message_id)))
            ).first()
        if row is None:
            raise NotFoundError(message_id)
        return {**row[0], "folder": row[1], "id": message_id}

    async def set_folder(self, account_id: str, box_id: str, message_id: str, folder: str) -> Doc:
        """Move a message to *folder* (new, saved or deleted)."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                update(self.table).where(self._where(account_id, box_id, message_id)).values(folder=folder)
            )
        if result.rowcount == 0:
            raise NotFoundError(message_id)
        return await self.get(account_id, box_id, message_id)

    async def delete(self, account_id: str, box_id: str, message_id: str) -> None:
        """Remove a message and its audio."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self._where(account_id, box_id, message_id)))
        if result.rowcount == 0:
            raise NotFoundError(message_id)
        base = self.root / account_id / box_id / message_id
        paths = [base.with_suffix(suffix) for suffix in AUDIO_SUFFIXES]
        await self.files.forget(*paths)
        for path in paths:
            path.unlink(missing_ok=True)

    def _where(self, account_id: str, box_id: str, message_id: str) -> Any:
        t = self.table
        return (t.c.id == message_id) & (t.c.account_id == account_id) & (t.c.vmbox_id == box_id)
