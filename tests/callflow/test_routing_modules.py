"""The routing modules run by the engine in-process on a FakeCall (issue 20): business hours at chosen moments,
ring groups' members, repeats and failure branches, menus' keys, extensions and retries, caller ID changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from calltape.callflow.call_api import BridgeFailure, EndpointKind
from calltape.recording.caller_recorder import Recorded
from tests.callflow.fake_call import FakeCall, tone_node

GREGORIAN_1970 = 62167219200


def _at(text: str) -> float:
    """Unix time of an ISO moment in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _run(call: FakeCall, flow: dict[str, Any], callflows: dict[str, dict[str, Any]] | None = None) -> list[str]:
    asyncio.run(call.run(flow, callflows))
    return call.heard


def _hours(call: FakeCall) -> tuple[str, str]:
    """Weekday business hours 09:00–17:00 and a public holiday (Kazoo's documents)."""
    weekdays = call.documents.add(
        "temporal_rules",
        {
            "name": "Office hours",
            "cycle": "weekly",
            "interval": 1,
            "wdays": ["monday", "tuesday", "wensday", "thursday", "friday"],
            "time_window_start": 9 * 3600,
            "time_window_stop": 17 * 3600,
            "start_date": 63808128000,  # 2022-01-01 00:00 UTC
        },
    )
    holiday = call.documents.add(
        "temporal_rules",
        {"name": "New year", "cycle": "yearly", "interval": 1, "month": 1, "days": [1], "start_date": 63808128000},
    )
    return weekdays, holiday


def _hours_flow(weekdays: str, holiday: str, **data: Any) -> dict[str, Any]:
    return {
        "module": "temporal_route",
        "data": {"rules": [holiday, weekdays], **data},
        "children": {weekdays: tone_node(100), holiday: tone_node(200), "_": tone_node(300)},
    }


def test_business_hours_route_by_the_rule_active_at_the_moment_in_the_accounts_zone() -> None:
    moments = {
        "2026-12-07T10:00:00": "tone:100",  # a Monday, 10:00 UTC: open
        "2026-12-07T17:00:01": "tone:300",  # one second after closing
        "2026-12-06T10:00:00": "tone:300",  # a Sunday
        "2027-01-01T10:00:00": "tone:200",  # New Year's Day, a Friday: the holiday comes first in `rules`
    }
    for moment, heard in moments.items():
        call = FakeCall(clock=_at(moment))
        weekdays, holiday = _hours(call)
        assert _run(call, _hours_flow(weekdays, holiday)) == [heard], moment
    call = FakeCall(clock=_at("2026-12-07T16:30:00"))  # 16:30 UTC is 08:30 in Los Angeles: not open yet
    call.documents.account_timezone = "America/Los_Angeles"
    weekdays, holiday = _hours(call)
    assert _run(call, _hours_flow(weekdays, holiday)) == ["tone:300"]
    call = FakeCall(clock=_at("2026-12-07T16:30:00"))  # the node's data.timezone wins over the account's
    call.documents.account_timezone = "America/Los_Angeles"
    weekdays, holiday = _hours(call)
    assert _run(call, _hours_flow(weekdays, holiday, timezone="Europe/Paris")) == ["tone:300"]  # 17:30 there


def test_a_rule_set_routes_as_one_and_actions_force_rules_on_and_off() -> None:
    call = FakeCall(clock=_at("2026-12-06T10:00:00"))  # a Sunday: the weekday rule is not active by the calendar
    weekdays, holiday = _hours(call)
    hours = call.documents.add("temporal_rules_sets", {"name": "Open", "temporal_rules": [holiday, weekdays]})
    by_set = {"module": "temporal_route", "data": {}, "children": {hours: tone_node(400), "_": tone_node(300)}}
    assert _run(call, by_set) == ["tone:300"]
    force = {"module": "temporal_route", "data": {"action": "enable", "rules": [weekdays]}}
    call.heard.clear()
    assert _run(call, force) == ["tts://Time of day routes enabled."]
    call.heard.clear()
    assert _run(call, by_set) == ["tone:400"]  # the set's child, for its forced-on member
    call.heard.clear()
    _run(call, {"module": "temporal_route", "data": {"action": "reset", "rules": [weekdays]}})
    assert "enabled" not in call.documents.collections["temporal_rules"][weekdays]
    call.heard.clear()
    assert _run(call, by_set) == ["tone:300"]


def _group_flow(members: list[dict[str, Any]], **data: Any) -> dict[str, Any]:
    return {
        "module": "ring_group",
        "data": {"endpoints": members, **data},
        "children": {"USER_BUSY": tone_node(486), "_": tone_node(300)},
    }


def test_a_ring_group_opens_groups_and_users_and_leaves_out_repeats_and_disabled_members() -> None:
    call = FakeCall(clock=_at("2026-12-06T10:00:00"))
    group = call.documents.add(
        "groups",
        {"name": "Sales", "endpoints": {"d2": {"type": "device", "delay": 5}, "u1": {"type": "user"}}},
    )
    members = [
        {"id": "d1", "endpoint_type": "device", "delay": 10, "timeout": 15},
        {"id": group, "endpoint_type": "group", "timeout": 25},
        {"id": "d1", "endpoint_type": "device", "delay": 10, "timeout": 15},  # the same again: left out
        {"id": "d3", "endpoint_type": "device", "disable_until": GREGORIAN_1970 + int(call.clock) + 60},
    ]
    assert _run(call, _group_flow(members, timeout=30)) == ["tone:300"]
    (endpoints, options), *_ = call.rang
    rung = [(e.kind, e.id, e.delay, e.timeout) for e in endpoints]
    assert rung == [  # simultaneous: the earliest delays first
        (EndpointKind.USER, "u1", 0.0, 25.0),
        (EndpointKind.DEVICE, "d2", 5.0, 25.0),
        (EndpointKind.DEVICE, "d1", 10.0, 15.0),
    ]
    assert (options.timeout, options.strategy, options.ignore_forward) == (30.0, "simultaneous", True)


def test_a_ring_group_takes_a_failure_child_at_once_and_otherwise_rings_again() -> None:
    members = [{"id": "d1", "endpoint_type": "device"}]
    busy = FakeCall(ring_outcomes=[BridgeFailure("USER_BUSY", 486)])
    assert _run(busy, _group_flow(members, repeats=3)) == ["tone:486"] and len(busy.rang) == 1
    unanswered = FakeCall(ring_outcomes=[BridgeFailure("NO_ANSWER")] * 3)
    assert _run(unanswered, _group_flow(members, repeats=3)) == ["tone:300"] and len(unanswered.rang) == 3
    answered = FakeCall(ring_outcomes=[BridgeFailure("NO_ANSWER"), None])
    assert _run(answered, _group_flow(members, repeats=3)) == [] and len(answered.rang) == 2


def test_device_failure_children_in_kazoos_order() -> None:
    flow = {
        "module": "device",
        "data": {"id": "d1"},
        "children": {"sip:603": tone_node(603), "busy": tone_node(1), "_": tone_node(300)},
    }
    assert _run(FakeCall(ring_outcomes=[BridgeFailure("CALL_REJECTED", 603)]), flow) == ["tone:603"]
    assert _run(FakeCall(ring_outcomes=[BridgeFailure("USER_BUSY", 486)]), flow) == ["tone:1"]  # calltape's alias
    assert _run(FakeCall(ring_outcomes=[BridgeFailure("NO_ANSWER")]), flow) == ["tone:300"]


def _menu_flow(menu: str) -> dict[str, Any]:
    return {
        "module": "menu",
        "data": {"id": menu},
        "children": {"1": tone_node(1), "timeout": tone_node(999), "_": tone_node(300)},
    }


def test_a_menu_runs_keys_extensions_timeouts_and_gives_up_after_its_retries() -> None:
    def call_with(keys: list[str], **menu: Any) -> tuple[FakeCall, str]:
        call = FakeCall(keys=keys)
        call.documents.numbers["2001"] = "cf-2001"
        doc = {"name": "Main", "retries": 3, "media": {"greeting": "tts://Hello"}, **menu}
        return call, call.documents.add("menus", doc)

    callflows = {"cf-2001": {"flow": tone_node(2001)}}
    call, menu = call_with(["7", "1"])  # an invalid key, then 1
    heard = _run(call, _menu_flow(menu), callflows)
    assert heard == ["tts://Hello", "tts://Invalid entry.", "tts://Hello", "tone:1"]
    call, menu = call_with(["2001"])  # an extension: its callflow, after the transfer prompt
    assert _run(call, _menu_flow(menu), callflows)[-2:] == [
        "tts://Please hold while your call is transferred.",
        "tone:2001",
    ]
    call, menu = call_with(["2001"], hunt_deny="^2")
    assert _run(call, _menu_flow(menu), callflows)[1] == "tts://Invalid entry."
    call, menu = call_with([""])  # nothing pressed: the timeout child
    assert _run(call, _menu_flow(menu), callflows) == ["tts://Hello", "tone:999"]
    call, menu = call_with(["8", "8", "8"], media={"greeting": "tts://Hello", "invalid_media": False})
    flow = _menu_flow(menu)
    flow["children"] = {"_": tone_node(300)}
    assert _run(call, flow, callflows) == [
        "tts://Hello",
        "tts://Hello",
        "tts://Hello",
        "tts://Too many attempts.",
        "tts://Please hold while your call is transferred.",
        "tone:300",
    ]


def test_caller_id_changes_and_a_response_end_the_flow() -> None:
    call = FakeCall()
    flow = {
        "module": "set_cid",
        "data": {"caller_id_name": "Front Desk", "caller_id_number": "5550100"},
        "children": {
            "_": {
                "module": "prepend_cid",
                "data": {"caller_id_name_prefix": "B ", "caller_id_number_prefix": "2"},
                "children": {
                    "_": {
                        "module": "prepend_cid",
                        "data": {"caller_id_name_prefix": "A ", "caller_id_number_prefix": "1"},
                        "children": {
                            "_": {"module": "response", "data": {"code": 503}, "children": {"_": tone_node(1)}}
                        },
                    }
                },
            }
        },
    }
    assert _run(call, flow) == []  # the response ended the flow: its child never ran
    assert call.variables == {
        "rewrite_cid_name": "Front Desk",
        "rewrite_cid_number": "5550100",
        "prepend_cid_name": "A B ",
        "prepend_cid_number": "12",
    }
    assert call.responded == (503, None) and call.hung_up


def test_carrier_modules_ask_for_the_right_carriers_and_number_and_refuse_when_no_child_takes_the_failure() -> None:
    call = FakeCall(number="5551234567")
    flow = {
        "module": "resources",
        "data": {"caller_id_type": "internal", "timeout": 30},
        "children": {"_": tone_node(1)},
    }
    assert _run(call, flow) == ["tone:1"]
    [request] = call.called_out
    assert (request.number, request.local_resources, request.caller_id_type, request.timeout) == (
        "5551234567",
        True,
        "internal",
        30.0,
    )
    call = FakeCall(ring_outcomes=[BridgeFailure("USER_BUSY", 486)])
    flow = {"module": "offnet", "data": {"to_did": "+442071234567", "bypass_e164": True}}
    assert _run(call, flow) == [] and call.responded == (486, None)  # no child: the caller is refused with it
    [request] = call.called_out
    assert (request.number, request.local_resources, request.normalize) == ("+442071234567", False, False)
    call = FakeCall()  # no carrier matched and no child: 404
    assert _run(call, {"module": "resources", "data": {"use_local_resources": False}}) == []
    assert call.responded == (404, None) and not call.called_out[0].local_resources


def test_groups_that_hold_each_other_are_opened_once() -> None:
    call = FakeCall()
    first = call.documents.add("groups", {"name": "A", "endpoints": {"d1": {"type": "device"}}})
    second = call.documents.add("groups", {"name": "B", "endpoints": {first: {"type": "group"}, "d2": {}}})
    call.documents.collections["groups"][first]["endpoints"][second] = {"type": "group"}  # a loop
    _run(call, _group_flow([{"id": first, "endpoint_type": "group"}]))
    [(endpoints, _options)] = call.rang
    assert sorted(e.id for e in endpoints) == ["d1", "d2"]


def test_an_unknown_account_timezone_takes_the_default_branch() -> None:
    call = FakeCall(clock=_at("2026-12-07T10:00:00"))
    call.documents.account_timezone = "Mars/Olympus_Mons"
    weekdays, holiday = _hours(call)
    assert _run(call, _hours_flow(weekdays, holiday)) == ["tone:300"]


def test_a_carriers_challenge_or_redirect_reaches_the_caller_as_503() -> None:
    for status, refused in ((407, 503), (302, 503), (404, 404)):
        call = FakeCall(ring_outcomes=[BridgeFailure("CALL_REJECTED", status)])
        _run(call, {"module": "offnet", "data": {}})
        assert call.responded == (refused, None), status


def _box(call: FakeCall) -> str:
    box = {"id": "b1", "name": "Sales", "mailbox": "3000", "pin": "1234", "skip_instructions": True}
    call.mailboxes.boxes["b1"] = box
    for index, when in enumerate((100, 300, 200)):  # three new messages, the newest second
        call.mailboxes.messages_of.setdefault("b1", []).append({"id": f"m{index}", "folder": "new", "timestamp": when})
    return "b1"


def test_voicemail_star_during_the_greeting_logs_in_and_kazoos_keys_walk_the_messages_newest_first() -> None:
    call = FakeCall(keys=["*", "1234", "1", "6", "4", "7", "1", "", ""])
    box = _box(call)
    heard = _run(call, {"module": "voicemail", "data": {"id": box}})
    played = [h for h in heard if h.startswith("file:")]
    assert played == ["file:m1", "file:m2", "file:m1", "file:m2", "file:m0"]  # newest first; 6 on, 4 back
    folders = {m["id"]: m["folder"] for m in call.mailboxes.messages_of[box]}
    assert folders == {"m1": "deleted", "m2": "saved", "m0": "new"}  # 7 deleted m1, 1 kept m2, no key left m0
    assert "recording" not in heard  # logging in leaves no message


def test_voicemail_zero_during_the_greeting_goes_to_the_operator() -> None:
    call = FakeCall(keys=["0"])
    box = _box(call)
    call.documents.numbers["0"] = "cf-operator"
    heard = _run(call, {"module": "voicemail", "data": {"id": box}}, {"cf-operator": {"flow": tone_node(700)}})
    assert heard[-1] == "tone:700" and "recording" not in heard


def test_voicemail_full_box_tells_its_people_records_nothing_and_zero_is_no_limit() -> None:
    call = FakeCall()
    box = _box(call)  # three messages
    call.mailboxes.boxes[box]["max_message_count"] = 3
    heard = _run(call, {"module": "voicemail", "data": {"id": box}})
    assert "recording" not in heard and any("full" in h for h in heard)
    assert call.mailboxes.full_notices == [(box, 3)]
    call.mailboxes.boxes[box]["max_message_count"] = 0  # Kazoo's: no limit
    assert "recording" in _run(call, {"module": "voicemail", "data": {"id": box}})
    assert call.mailboxes.full_notices == [(box, 3)]


def test_voicemail_settings_record_greetings_change_the_pin_and_the_temporary_greeting_plays_first() -> None:
    keys = ["1234", "5", "1", "1", "3", "4321", "4321", "4", "1", "0", "#"]  # PIN, settings: 1 greeting saved,
    call = FakeCall(keys=keys)  # 3 new PIN twice, 4 temporary greeting saved, 0 main menu, # goodbye
    box = _box(call)
    _run(call, {"module": "voicemail", "data": {"id": box, "action": "check"}})
    stored = call.mailboxes.boxes[box]
    assert stored["pin"] == "4321" and set(stored["media"]) == {"unavailable", "temporary_unavailable"}
    assert call.heard.count("recording") == 2 and "tts://Your password has been changed." in call.heard

    caller = FakeCall(mailboxes=call.mailboxes)
    heard = _run(caller, {"module": "voicemail", "data": {"id": box}})
    assert heard[0] == stored["media"]["temporary_unavailable"]  # Kazoo's: the temporary greeting first
    call = FakeCall(
        keys=["4321", "5", "5", "3", "12", "99", "123", "123", "1", "2", "0", "#"], mailboxes=call.mailboxes
    )
    _run(call, {"module": "voicemail", "data": {"id": box, "action": "check"}})
    assert "temporary_unavailable" not in stored["media"] and stored["pin"] == "4321"  # deleted; bad PINs refused
    assert call.heard.count("tts://That password is not valid.") == 3


def test_voicemail_forward_copies_the_message_to_another_box_and_keeps_it_saved() -> None:
    call = FakeCall(keys=["1234", "1", "3", "3000", "3001", "", "#"])  # 3: forward; this box first, then 3001
    box = _box(call)
    call.mailboxes.boxes["b2"] = {"id": "b2", "name": "Support", "mailbox": "3001"}
    _run(call, {"module": "voicemail", "data": {"id": box, "action": "check"}})
    [copy] = call.mailboxes.messages_of["b2"]
    assert copy["folder"] == "new" and copy["forwarded_from"] == {"vmbox_id": box} and copy["timestamp"] == 300
    assert {m["id"]: m["folder"] for m in call.mailboxes.messages_of[box]}["m1"] == "saved"  # Kazoo's: then saved
    assert "tts://That is this mailbox." in call.heard and "tts://The message was forwarded." in call.heard

    call = FakeCall(keys=["1234", "1", "3", "9999"], mailboxes=call.mailboxes)  # no such box: not forwarded
    _run(call, {"module": "voicemail", "data": {"id": box, "action": "check"}})
    assert len(call.mailboxes.messages_of["b2"]) == 1
    assert "tts://That mailbox does not exist. The message was not forwarded." in call.heard


def test_voicemail_pound_opens_the_review_three_records_again_and_one_saves_the_second_take() -> None:
    call = FakeCall(keys=["", "3", "1"], recorded=[Recorded(8.0, "key", "#"), Recorded(6.0, "key", "#")])
    box = _box(call)
    call.mailboxes.boxes[box]["max_message_length"] = 120
    heard = _run(call, {"module": "voicemail", "data": {"id": box}})
    assert heard.count("recording") == 2 and call.recording_limits == [120.0, 120.0]
    [kept] = [m for m in call.mailboxes.messages_of[box] if m["id"] not in ("m0", "m1", "m2")]
    assert kept["length"] == 6000 and heard[-1] == "tts://Your message has been saved. Goodbye."


def test_voicemail_a_message_shorter_than_min_message_length_is_not_kept_and_the_caller_is_told() -> None:
    call = FakeCall(keys=[""], recorded=[Recorded(2.0, "silence")])
    box = _box(call)
    call.mailboxes.boxes[box]["min_message_length"] = 3
    heard = _run(call, {"module": "voicemail", "data": {"id": box}})
    assert len(call.mailboxes.messages_of[box]) == 3  # only the three it had
    assert heard[-1] == "tts://Your message was too short and has not been saved. Goodbye."
    assert call.recording_limits == [500.0]  # Kazoo's max_message_length when the box says none
