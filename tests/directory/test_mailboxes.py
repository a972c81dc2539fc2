"""The voicemail store's notices on a real SQLite store: a new message queues Kazoo's voicemail_to_email for the
box's owner, delete_after_notify moves it to the deleted folder once sent, and a full box is e-mailed about once
an hour however many callers find it full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calltape.directory.mailboxes import StoredMailboxes
from calltape.media.library import MediaLibrary
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, USERS, VMBOXES, Documents
from calltape.store.notifications import Notification


class ListOutbox:
    def __init__(self) -> None:
        self.queued: list[tuple[str, str, str, dict[str, Any]]] = []

    async def queue(self, account_id: str, template_id: str, call_id: str, doc: dict[str, Any]) -> str:
        self.queued.append((account_id, template_id, call_id, doc))
        return str(len(self.queued))


async def test_new_message_full_box_and_delete_after_notify(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'calltape.db'}")
    await db.open()
    try:
        account = await Documents(db, ACCOUNTS).create({"name": "Acme", "realm": "acme.example.com"})
        ada = {"first_name": "Ada", "email": "ada@acme.example.com", "vm_to_email_enabled": True}
        user = await Documents(db, USERS).create(ada, account["id"])
        box_doc = {"name": "Sales", "mailbox": "2000", "owner_id": user["id"], "delete_after_notify": True}
        box = await Documents(db, VMBOXES).create(box_doc, account["id"])
        outbox = ListOutbox()
        mailboxes = StoredMailboxes(db, tmp_path, MediaLibrary(tmp_path), outbox=outbox)
        message_id, path = mailboxes.new_message(account["id"], box["id"])
        path.write_bytes(b"RIFF")
        doc = {"caller_id_number": "100", "caller_id_name": "", "timestamp": 1, "length": 4000, "call_id": "c1"}
        await mailboxes.save_message(account["id"], box, message_id, doc)
        [(account_id, template, call_id, email)] = outbox.queued
        assert (account_id, template, call_id) == (account["id"], "voicemail_to_email", "c1")
        assert (
            email["emails"]["to"] == ["ada@acme.example.com"]
            and "Account Name: Acme" in email["rendered_templates"]["text/plain"]
        )
        assert email["attachments"][0]["path"] == str(path)

        sent = Notification("n1", account["id"], template, call_id, 0.0, 0, email)
        await mailboxes.notified(sent)
        assert [m["folder"] for m in await mailboxes.messages_store.list(account["id"], box["id"], ("deleted",))] == [
            "deleted"
        ]
        assert path.exists()  # Kazoo's deleted folder: the audio stays until the message is removed

        for _ in range(3):  # three callers find the box full: one e-mail
            await mailboxes.box_full(account["id"], box, 1, "c2")
        assert [q[1] for q in outbox.queued] == ["voicemail_to_email", "voicemail_full"]
    finally:
        await db.close()


async def test_a_forwarded_message_is_a_new_message_of_the_other_box_with_its_audio_and_its_email(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'calltape.db'}")
    await db.open()
    try:
        account = await Documents(db, ACCOUNTS).create({"name": "Acme", "realm": "acme.example.com"})
        boxes = Documents(db, VMBOXES)
        sales = await boxes.create({"name": "Sales", "mailbox": "2000"}, account["id"])
        support_doc = {"name": "Support", "mailbox": "2001", "notify_email_addresses": ["support@acme.example.com"]}
        support = await boxes.create(support_doc, account["id"])
        outbox = ListOutbox()
        mailboxes = StoredMailboxes(db, tmp_path, MediaLibrary(tmp_path), outbox=outbox)
        message_id, path = mailboxes.new_message(account["id"], sales["id"])
        path.write_bytes(b"RIFF-the-message")
        doc = {"caller_id_number": "100", "caller_id_name": "", "timestamp": 1, "length": 4000, "call_id": "c1"}
        message = await mailboxes.save_message(account["id"], sales, message_id, doc)
        copy = await mailboxes.forward_message(account["id"], sales, message, support)
        assert copy["folder"] == "new" and copy["id"] != message_id and copy["caller_id_number"] == "100"
        assert copy["forwarded_from"] == {"vmbox_id": sales["id"], "message_id": message_id}
        assert mailboxes.audio_path(account["id"], support["id"], copy["id"]).read_bytes() == b"RIFF-the-message"
        [(_, template, _, email)] = outbox.queued  # Sales has nobody to tell; Support's list is told
        assert template == "voicemail_to_email" and email["emails"]["to"] == ["support@acme.example.com"]
        assert [m["id"] for m in await mailboxes.messages(account["id"], sales["id"])] == [message_id]  # kept
    finally:
        await db.close()
