"""Kazoo's voicemail e-mails (teletype 4.3): ``voicemail_to_email`` for a new message and ``voicemail_full`` for a
box that cannot take one. Each is built when its event happens, as the document the outbox keeps and sends.

Recipients, as teletype: the box's ``notify_email_addresses``, and its owner's ``email`` — for a new message only
if the owner's ``vm_to_email_enabled`` is true (the API stores true when a user is made, as crossbar does; a user
document without it, imported from elsewhere, counts as false, as in teletype; false also takes the owner's
address out of the box's list). The message audio is attached unless the box's ``include_message_on_notify`` is false.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calltape.media.formats import CONTENT_TYPES, format_of

Doc = dict[str, Any]

NEW_MESSAGE = "voicemail_to_email"
BOX_FULL = "voicemail_full"


def new_message_email(account: Doc, box: Doc, owner: Doc | None, message: Doc, audio: Path) -> Doc | None:
    """The e-mail for *message* just left in *box* (None: nobody is to be told)."""
    recipients = _box_emails(box)
    owner_email = str((owner or {}).get("email") or "")
    if owner_email:
        wanted = (owner or {}).get("vm_to_email_enabled") is True
        recipients = [owner_email, *recipients] if wanted else [r for r in recipients if r != owner_email]
    recipients = list(dict.fromkeys(recipients))
    if not recipients:
        return None
    caller = _name_number(message)
    length = _hms(int(message.get("length", 0)) // 1000)
    received = _local_time(float(message.get("timestamp", 0)), owner, box, account)
    kind = format_of(audio)
    file_name = f"{message['id']}.{kind}"
    attach = box.get("include_message_on_notify", True) is not False
    size = audio.stat().st_size if attach and audio.exists() else 0
    lines = [
        "New Voicemail",
        "",
        f"Hi{_first_name(owner)},",
        "",
        f"You have a new voicemail from {caller} for",
        f"your voicemail box at {box.get('name', '')} (number: {box.get('mailbox', '')}).",
    ]
    if attach:
        lines += ["", "Please find the message audio file in the attachment."]
    lines += [
        "",
        "=== Voicemail Message Details ===",
        "",
        f"    Caller: {caller}",
        f"    Callee: {message.get('to', '') or box.get('mailbox', '')} (originally dialed number)",
        f"    Received: {received}",
        f"    Length: {length}",
    ]
    if attach:
        lines += [f"    File Name: {file_name}", f"    File Type: {kind.upper()}", f"    File Size: {size} bytes"]
    doc: Doc = {
        "emails": {"to": recipients},
        "subject": f"New voicemail from {caller}",
        "rendered_templates": {"text/plain": "\n".join(lines + _account_lines(account))},
        "attachments": [{"path": str(audio), "filename": file_name, "content_type": CONTENT_TYPES[kind]}]
        if attach
        else [],
        "voicemail": {"vmbox_id": box["id"], "message_id": message["id"], "length": length},
    }
    if box.get("delete_after_notify") is True:
        doc["after_sent"] = {"move_to_deleted": {"vmbox_id": box["id"], "message_id": message["id"]}}
    return doc


def box_full_email(account: Doc, box: Doc, owner: Doc | None, limit: int) -> Doc | None:
    """The e-mail telling *box*'s people it is full (None: nobody to tell)."""
    recipients = list(
        dict.fromkeys([*([str(owner["email"])] if owner and owner.get("email") else []), *_box_emails(box)])
    )
    if not recipients:
        return None
    lines = [
        "Voicemail Box Full",
        "",
        f"Hi{_first_name(owner)},",
        "",
        f"Your voicemail box {box.get('name', '')} ({box.get('mailbox', '')}) reached",
        f"the limit of {limit} messages and no new voicemail",
        "messages will be stored in your voicemail box.",
        "",
        "    > Please review and clean up your voicemail box messages to",
        "      continue receiving new messages.",
    ]
    return {
        "emails": {"to": recipients},
        "subject": f"Voicemail box {box.get('name', '')} is full",
        "rendered_templates": {"text/plain": "\n".join(lines + _account_lines(account))},
        "attachments": [],
        "voicemail": {"vmbox_id": box["id"], "max_messages": limit},
    }


def _box_emails(box: Doc) -> list[str]:
    return [str(a) for a in box.get("notify_email_addresses") or [] if a]


def _first_name(owner: Doc | None) -> str:
    name = str((owner or {}).get("first_name") or "")
    return f" {name}" if name else ""


def _name_number(message: Doc) -> str:
    """Kazoo's ``caller_id.name_number``: "Name (number)", or whichever of them there is."""
    name, number = str(message.get("caller_id_name") or ""), str(message.get("caller_id_number") or "")
    if name and number and name != number:
        return f"{name} ({number})"
    return name or number or "an unknown caller"


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _local_time(timestamp: float, *docs: Doc | None) -> str:
    """Kazoo's ``date_called.local``: in the owner's, the box's or the account's timezone (UTC if none)."""
    zone = ZoneInfo("UTC")
    for doc in docs:
        if doc and doc.get("timezone"):
            try:
                zone = ZoneInfo(str(doc["timezone"]))
                break
            except (ZoneInfoNotFoundError, ValueError):
                continue
    when = datetime.fromtimestamp(timestamp, zone)
    return f"{when:%A, %B} {when.day}, {when.year} at {when:%H:%M} {when.tzname()}"


def _account_lines(account: Doc) -> list[str]:
    return [
        "",
        "",
        "",
        "Account Information",
        "",
        f"    Account ID: {account.get('id', '')}",
        f"    Account Name: {account.get('name', '')}",
        f"    Account Realm: {account.get('realm', '')}",
    ]
