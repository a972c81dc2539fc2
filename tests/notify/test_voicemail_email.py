"""Kazoo's voicemail e-mails as built when the event happens: who gets them (teletype 4.3's rules), what they say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from calltape.notify.voicemail import box_full_email, new_message_email

ACCOUNT = {"id": "a" * 32, "name": "Acme", "realm": "acme.example.com", "timezone": "America/New_York"}
MESSAGE = {
    "id": "m" * 32,
    "caller_id_number": "+14155550100",
    "caller_id_name": "Ada",
    "timestamp": 1796580000,  # 2026-12-06 18:00:00 UTC
    "length": 83_400,
    "call_id": "call-1",
}


def _box(**extra: Any) -> dict[str, Any]:
    return {"id": "b" * 32, "name": "Sales", "mailbox": "2000", **extra}


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "m.wav"
    path.write_bytes(b"RIFF" + bytes(1996))
    return path


@pytest.mark.parametrize(
    ("box_emails", "owner", "expected"),
    [
        (
            ["desk@acme.example.com"],
            {"email": "ada@acme.example.com", "vm_to_email_enabled": True},
            ["ada@acme.example.com", "desk@acme.example.com"],
        ),
        # a user document without the flag (imported: the API stores true) counts as false, as in teletype
        (["desk@acme.example.com"], {"email": "ada@acme.example.com"}, ["desk@acme.example.com"]),
        ([], {"email": "ada@acme.example.com", "vm_to_email_enabled": True}, ["ada@acme.example.com"]),
        # the owner does not want them: left out, even when the box lists the owner's address
        (
            ["ada@acme.example.com", "desk@acme.example.com"],
            {"email": "ada@acme.example.com", "vm_to_email_enabled": False},
            ["desk@acme.example.com"],
        ),
        (["desk@acme.example.com", "desk@acme.example.com"], None, ["desk@acme.example.com"]),
        ([], {"first_name": "Ada"}, None),  # nobody to tell
    ],
)
def test_new_message_recipients_follow_teletype(
    box_emails: list[str], owner: dict[str, Any] | None, expected: list[str] | None, audio: Path
) -> None:
    email = new_message_email(ACCOUNT, _box(notify_email_addresses=box_emails), owner, MESSAGE, audio)
    assert (email["emails"]["to"] if email else None) == expected


def test_new_message_email_says_who_when_and_how_long_and_carries_the_audio(audio: Path) -> None:
    owner = {"email": "ada@acme.example.com", "first_name": "Ada", "timezone": "Europe/Paris"}
    owner["vm_to_email_enabled"] = True
    email = new_message_email(ACCOUNT, _box(), owner, MESSAGE, audio)
    assert email is not None
    assert email["subject"] == "New voicemail from Ada (+14155550100)"
    text = email["rendered_templates"]["text/plain"]
    assert "Hi Ada," in text
    assert "Caller: Ada (+14155550100)" in text
    assert "Length: 00:01:23" in text
    assert "Received: Sunday, December 6, 2026 at 19:00 CET" in text  # the owner's timezone first
    assert "File Size: 2000 bytes" in text
    assert "Account Name: Acme" in text
    assert email["attachments"] == [
        {"path": str(audio), "filename": f"{MESSAGE['id']}.wav", "content_type": "audio/x-wav"}
    ]
    assert "after_sent" not in email


def test_without_the_message_on_notify_there_is_no_attachment_and_delete_after_notify_is_carried(audio: Path) -> None:
    box = _box(notify_email_addresses=["desk@acme.example.com"], include_message_on_notify=False)
    box["delete_after_notify"] = True
    email = new_message_email(ACCOUNT, box, None, MESSAGE, audio)
    assert email is not None and email["attachments"] == []
    assert "attachment" not in email["rendered_templates"]["text/plain"]
    assert "Received: Sunday, December 6, 2026 at 13:00 EST" in email["rendered_templates"]["text/plain"]
    assert email["after_sent"] == {"move_to_deleted": {"vmbox_id": box["id"], "message_id": MESSAGE["id"]}}


def test_an_unknown_caller_and_a_name_equal_to_the_number() -> None:
    for message, caller in (({}, "an unknown caller"), ({"caller_id_name": "100", "caller_id_number": "100"}, "100")):
        email = new_message_email(
            ACCOUNT, _box(notify_email_addresses=["x@y.z"]), None, message | {"id": "m"}, Path("/nonexistent")
        )
        assert email is not None and email["subject"] == f"New voicemail from {caller}"


def test_box_full_goes_to_the_owner_whatever_vm_to_email_enabled_and_to_the_box_list() -> None:
    owner = {"email": "ada@acme.example.com", "vm_to_email_enabled": False}
    email = box_full_email(ACCOUNT, _box(notify_email_addresses=["desk@acme.example.com"]), owner, 100)
    assert email is not None and email["emails"]["to"] == ["ada@acme.example.com", "desk@acme.example.com"]
    assert "reached\nthe limit of 100 messages" in email["rendered_templates"]["text/plain"]
    assert box_full_email(ACCOUNT, _box(), None, 100) is None
