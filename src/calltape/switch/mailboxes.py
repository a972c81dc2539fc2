"""Voicemail boxes for the ``voicemail`` module: box documents, messages, and the new-message webhook."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx

from calltape.store.database import Database
from calltape.store.documents import VMBOXES, Documents, NotFoundError
from calltape.store.voicemail import VoicemailMessages
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

Doc = dict[str, Any]
WEBHOOK_TIMEOUT = 10.0


class StoredMailboxes:
    """The store behind :class:`calltape.callflow.call_api.Mailboxes`."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.boxes = Documents(db, VMBOXES)
        self.messages_store = VoicemailMessages(db, data_dir)
        self._notifications = TaskSet("voicemail notifications")

    async def box(self, account_id: str, box_id: str) -> Doc | None:
        """A box by id."""
        try:
            return await self.boxes.get(box_id, account_id)
        except NotFoundError:
            return None

    async def box_for_mailbox(self, account_id: str, mailbox: str) -> Doc | None:
        """A box by its mailbox number."""
        return next((b for b in await self.boxes.list(account_id) if str(b.get("mailbox")) == mailbox), None)

    async def counts(self, account_id: str, box_id: str) -> dict[str, int]:
        """Messages per folder."""
        return await self.messages_store.count(account_id, box_id)

    async def messages(self, account_id: str, box_id: str) -> list[Doc]:
        """New messages first, then saved ones, each oldest first."""
        listed = await self.messages_store.list(account_id, box_id)
        return sorted(listed, key=lambda m: m["folder"] != "new")

    def new_message(self, account_id: str, box_id: str) -> tuple[str, Path]:
        """An id and an audio path for a message being recorded."""
        return self.messages_store.new_audio_path(account_id, box_id)

    async def save_message(self, account_id: str, box: Doc, message_id: str, doc: Doc) -> Doc:
        """Store a recorded message; POST it to the box's ``notify_webhook`` (in the background), and with
        ``delete_after_notify`` delete it once the webhook took it (2xx)."""
        message = await self.messages_store.add(account_id, box["id"], message_id, doc)
        if url := box.get("notify_webhook"):
            self._notifications.spawn(self._notify(url, account_id, box, message))
        return message

    async def _notify(self, url: str, account_id: str, box: Doc, message: Doc) -> None:
        if await _post(url, {**message, "vmbox_id": box["id"]}) and box.get("delete_after_notify"):
            await self.messages_store.delete(account_id, box["id"], message["id"])
            log.info("voicemail message %s delivered to %s and deleted", message["id"], url)

    async def set_folder(self, account_id: str, box_id: str, message_id: str, folder: str) -> None:
        """Move a message to new, saved or deleted."""
        await self.messages_store.set_folder(account_id, box_id, message_id, folder)

    def audio_path(self, account_id: str, box_id: str, message_id: str) -> Path:
        """Where a message's WAV is."""
        return self.messages_store.audio_path(account_id, box_id, message_id)


async def _post(url: str, message: Doc) -> bool:
    """POST the message; True if the webhook took it."""
    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT) as client:
            response = await client.post(url, json={"data": message})
    except httpx.HTTPError as exc:
        log.warning("voicemail webhook %s failed: %s", url, exc)
        return False
    if response.status_code >= 300:
        log.warning("voicemail webhook %s answered %d", url, response.status_code)
        return False
    return True
