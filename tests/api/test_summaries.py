"""Lists show Kazoo 4.3's listing fields (crossbar_listing views), checked against hand-written expectations."""

from __future__ import annotations

from calltape.api import summaries


def test_a_device_lists_as_kazoos_device_listing() -> None:
    device = {
        "id": "d1",
        "name": "desk",
        "owner_id": "u1",
        "enabled": True,
        "sip": {"username": "alice", "password": "secret-pw", "invite_format": "contact"},
        "call_forward": {"enabled": True},
    }
    assert summaries.device(device) == {
        "id": "d1",
        "name": "desk",
        "username": "alice",
        "mac_address": "",
        "owner_id": "u1",
        "enabled": True,
        "device_type": "sip_device",
        "flags": [],
    }


def test_a_user_lists_with_its_features() -> None:
    user = {
        "id": "u1",
        "first_name": "Ada",
        "last_name": "L",
        "username": "ada",
        "priv_level": "admin",
        "call_forward": {"enabled": False, "failover": True},
        "caller_id": {"external": {"number": "+15550100"}},
        "smartpbx": {"find_me_follow_me": {"enabled": True}, "conferencing": {"enabled": False}},
        "pvt_md5_auth": "never listed",
    }
    assert summaries.user(user) == {
        "id": "u1",
        "features": ["find_me_follow_me", "call_forward_failover", "caller_id"],
        "username": "ada",
        "first_name": "Ada",
        "last_name": "L",
        "priv_level": "admin",
        "flags": [],
    }


def test_a_callflow_lists_its_modules_once_each_in_walking_order() -> None:
    flow = {
        "module": "record_call",
        "data": {},
        "children": {
            "_": {"module": "user", "data": {"id": "u1"}, "children": {"module": "voicemail", "data": {}}},
            "busy": {"module": "record_call", "data": {"action": "stop"}},
            "x": {"module": "hangup", "data": {"skip_module": True}},
        },
    }
    summary = summaries.callflow({"id": "c1", "numbers": ["100"], "flow": flow})
    assert summary == {
        "id": "c1",
        "numbers": ["100"],
        "featurecode": False,
        "modules": ["record_call", "user", "voicemail"],
        "flags": [],
    }


def test_boxes_and_media_list_as_kazoos() -> None:
    assert summaries.vmbox({"id": "b1", "name": "Ada", "mailbox": "100", "owner_id": "u1", "messages": 3}) == {
        "id": "b1",
        "name": "Ada",
        "mailbox": "100",
        "owner_id": "u1",
        "messages": 3,
        "flags": [],
    }
    media = {"id": "m1", "name": "hello", "media_source": "upload", "language": "EN-us", "prompt_id": "vm-hello"}
    assert summaries.media(media) == {
        "id": "m1",
        "name": "hello",
        "media_source": "upload",
        "language": "en-us",
        "is_prompt": True,
    }
