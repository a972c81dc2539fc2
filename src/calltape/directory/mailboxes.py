"""Voicemail boxes for the ``voicemail`` module: box documents, messages, and who is told of a new message or a
full box (Kazoo's e-mails through the notification outbox; calltape's ``notify_webhook``)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from calltape.http_client import HTTP_ERRORS, request_once
from calltape.media.library import MediaLibrary
from calltape.notify.voicemail import BOX_FULL, NEW_MESSAGE, box_full_email, new_message_email
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, MEDIA, USERS, VMBOXES, Documents, NotFoundError
from calltape.store.notifications import Notification
from calltape.store.voicemail import VoicemailMessages
from calltape.tasks import TaskSet

log = logging.getLogger(__name__)

Doc = dict[str, Any]
WEBHOOK_TIMEOUT = 10.0
FULL_NOTICE_EVERY = 3600.0  # a full box is e-mailed about at most this often (each caller who finds it full)


class Outbox(Protocol):
    """Where notifications go to be sent (the mailer)."""

    async def queue(self, account_id: str, template_id: str, call_id: str, doc: Doc) -> str:
        """Keep it and send it; its id."""


class StoredMailboxes:
    """The store behind :class:`calltape.callflow.call_api.Mailboxes`."""

    def __init__(self, db: Database, data_dir: Path, media_library: MediaLibrary, outbox: Outbox | None = None) -> None:
        self.boxes = Documents(db, VMBOXES)
        self.media = Documents(db, MEDIA)
        self.media_library = media_library
        self.accounts = Documents(db, ACCOUNTS)
        self.users = Documents(db, USERS)
        self.messages_store = VoicemailMessages(db, data_dir)
        self.outbox = outbox  # None: nobody is e-mailed (tools, tests)
        self._webhooks = TaskSet("voicemail webhooks")
        self._full_noticed: dict[str, float] = {}  # box id → when its full notice was queued

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
        """Store a recorded message; queue Kazoo's ``voicemail_to_email`` for the box's people and POST the
        message to the box's ``notify_webhook`` (in the background). ``delete_after_notify`` moves the message to
        the deleted folder once told (the e-mail sent, or the webhook took it)."""
        message = await self.messages_store.add(account_id, box["id"], message_id, doc)
        path = self.audio_path(account_id, box["id"], message_id)
        try:
            email = new_message_email(
                await self._account(account_id), box, await self._owner(account_id, box), message, path
            )
        except Exception:  # the message is kept: told or not, the caller hears it was saved
            log.exception("call-id %s: the voicemail e-mail could not be made", doc.get("call_id", ""))
            email = None
        if email is not None:
            await self._queue(account_id, NEW_MESSAGE, str(doc.get("call_id", "")), email)
        if url := box.get("notify_webhook"):
            self._webhooks.spawn(self._notify(url, account_id, box, message))
        return message

    async def forward_message(self, account_id: str, box: Doc, message: Doc, to_box: Doc) -> Doc:
        """Kazoo's forward (key 3): a copy of *message* left in *to_box* as new, its people told as of any new
        message; the copy."""
        copy_id, copy_path = self.new_message(account_id, to_box["id"])
        source = await self.message_audio(account_id, box["id"], message["id"])
        if source is None:
            raise FileNotFoundError(f"voicemail message {message['id']}: its audio is gone")
        await asyncio.to_thread(shutil.copyfile, source, copy_path.with_suffix(source.suffix))
        doc = {k: v for k, v in message.items() if k not in ("id", "folder")}
        doc["forwarded_from"] = {"vmbox_id": box["id"], "message_id": message["id"]}
        log.info("voicemail message %s of box %s forwarded to box %s", message["id"], box["id"], to_box["id"])
        return await self.save_message(account_id, to_box, copy_id, doc)

    async def box_full(self, account_id: str, box: Doc, limit: int, call_id: str) -> None:
        """A caller found *box* full: Kazoo's ``voicemail_full`` e-mail (at most once an hour per box)."""
        now = time.monotonic()
        if now - self._full_noticed.get(box["id"], -FULL_NOTICE_EVERY) < FULL_NOTICE_EVERY:
            return
        try:
            email = box_full_email(await self._account(account_id), box, await self._owner(account_id, box), limit)
        except Exception:
            log.exception("call-id %s: the full-box e-mail could not be made", call_id)
            return
        if email is None or await self._queue(account_id, BOX_FULL, call_id, email):
            self._full_noticed[box["id"]] = now

    async def notified(self, notification: Notification) -> None:
        """After an e-mail was sent: ``delete_after_notify``'s move to the deleted folder."""
        move = notification.doc.get("after_sent", {}).get("move_to_deleted")
        if move:
            await self._move_to_deleted(notification.account_id, move["vmbox_id"], move["message_id"])

    async def _queue(self, account_id: str, template_id: str, call_id: str, email: Doc) -> bool:
        """Keep the e-mail in the outbox; False (logged) if the store failed: the call goes on regardless."""
        if self.outbox is None:
            return True
        try:
            notification_id = await self.outbox.queue(account_id, template_id, call_id, email)
        except Exception:
            log.exception("call-id %s: the %s e-mail could not be queued", call_id, template_id)
            return False
        log.info("call-id %s: %s e-mail %s queued for %s", call_id, template_id, notification_id, email["emails"]["to"])
        return True

    async def _account(self, account_id: str) -> Doc:
        try:
            return await self.accounts.get(account_id)
        except NotFoundError:
            return {"id": account_id}

    async def _owner(self, account_id: str, box: Doc) -> Doc | None:
        if not box.get("owner_id"):
            return None
        try:
            return await self.users.get(str(box["owner_id"]), account_id)
        except NotFoundError:
            return None

    async def _notify(self, url: str, account_id: str, box: Doc, message: Doc) -> None:
        if await _post(url, {**message, "vmbox_id": box["id"]}) and box.get("delete_after_notify"):
            await self._move_to_deleted(account_id, box["id"], message["id"])
            log.info("voicemail message %s delivered to %s", message["id"], url)

    async def _move_to_deleted(self, account_id: str, box_id: str, message_id: str) -> None:
        try:
            await self.messages_store.set_folder(account_id, box_id, message_id, "deleted")
        except NotFoundError:  # removed by its owner meanwhile
            return
        log.info("voicemail message %s moved to the deleted folder (delete_after_notify)", message_id)

    async def set_folder(self, account_id: str, box_id: str, message_id: str, folder: str) -> None:
        """Move a message to new, saved or deleted."""
        await self.messages_store.set_folder(account_id, box_id, message_id, folder)

    def draft_path(self, account_id: str, box_id: str) -> Path:
        """Where a greeting or a name being recorded by phone goes until it is kept."""
        return self.messages_store.new_audio_path(account_id, box_id)[1].with_name(f"draft-{uuid.uuid4().hex}.wav")

    async def keep_recorded(self, account_id: str, box: Doc, what: str, recorded: Path) -> Doc:
        """A greeting (*what*: ``unavailable`` or ``temporary_unavailable``) or the owner's name (``name``) recorded
        by phone becomes media of the account, named in the box's ``media`` (the name: its owner's, if it has
        one), as Kazoo's. Media recorded this way before is overwritten in place; an uploaded one is left alone.
        Returns the box as it is now."""
        owner = await self._owner(account_id, box) if what == "name" else None
        holder = owner or box
        previous = (holder.get("media") or {}).get(what)
        media_id = previous if previous and await self._recorded_by_phone(account_id, previous) else uuid.uuid4().hex
        data = await asyncio.to_thread(recorded.read_bytes)
        seconds = await self.media_library.store_upload(account_id, media_id, data, "audio/wav")
        media_doc = {"name": f"{box.get('name', 'mailbox')} {what.replace('_', ' ')}", "media_source": "recording"}
        if media_id == previous:
            await self.media.replace(media_id, {**media_doc, "duration": seconds}, account_id)
        else:
            await self.media.create({**media_doc, "id": media_id, "duration": seconds}, account_id)
        recorded.unlink(missing_ok=True)
        log.info("voicemail box %s: %s recorded by phone as media %s", box["id"], what, media_id)
        if owner is not None:
            await self._update(self.users, account_id, owner, {"media": {**(owner.get("media") or {}), what: media_id}})
            return box
        return await self._update(self.boxes, account_id, box, {"media": {**(box.get("media") or {}), what: media_id}})

    async def forget_greeting(self, account_id: str, box: Doc, what: str) -> Doc:
        """The box no longer plays its *what* greeting (the media stays in the account); the box as it is now."""
        media = {k: v for k, v in (box.get("media") or {}).items() if k != what}
        return await self._update(self.boxes, account_id, box, {"media": media})

    async def set_pin(self, account_id: str, box: Doc, pin: str) -> Doc:
        """The box's new PIN; the box as it is now."""
        return await self._update(self.boxes, account_id, box, {"pin": pin})

    async def _update(self, documents: Documents, account_id: str, doc: Doc, changes: Doc) -> Doc:
        """*changes* on the document as stored now (an edit made by the API during the call stays)."""
        current = await documents.get(doc["id"], account_id)
        stored = {k: v for k, v in {**current, **changes}.items() if k != "id"}
        return await documents.replace(doc["id"], stored, account_id)

    async def _recorded_by_phone(self, account_id: str, media_id: str) -> bool:
        try:
            return (await self.media.get(media_id, account_id)).get("media_source") == "recording"
        except NotFoundError:
            return False

    def audio_path(self, account_id: str, box_id: str, message_id: str) -> Path:
        """Where a message just left on this node is."""
        return self.messages_store.audio_path(account_id, box_id, message_id)

    async def message_audio(self, account_id: str, box_id: str, message_id: str) -> Path | None:
        """A message's audio on this node (fetched if another node took it), or None if it is gone."""
        return await self.messages_store.local_audio(account_id, box_id, message_id)


async def _post(url: str, message: Doc) -> bool:
    """POST the message; True if the webhook took it."""
    body = json.dumps({"data": message}).encode()
    try:
        answer = await request_once(
            "POST", url, timeout=WEBHOOK_TIMEOUT, body=body, headers={"Content-Type": "application/json"}
        )
    except HTTP_ERRORS as exc:
        log.warning("voicemail webhook %s failed: %r", url, exc)
        return False
    if not answer.ok:
        log.warning("voicemail webhook %s answered %d", url, answer.status)
        return False
    return True
