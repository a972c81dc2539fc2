"""Kazoo's routing callflows on real calls (issue 20): ring groups, IVR menus, failure branches, caller ID changes
and chosen responses. Phones register with digest and answer or refuse as set; what the caller hears is judged
per 250 ms window (each branch plays its own tone), which phone was invited and when is read off the wire."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.audio import heard_for, tone
from tests.e2e.account import Account
from tests.phone import Phone, Received
from tests.ports import rtp_ports
from tests.receiver.audio import wav_bytes
from tests.server import ServerProcess

PASSWORD = "routing-secret-1"
_NUMBERS = itertools.count(4100)
_USERS = itertools.count(1)
HEARD = 2.0  # seconds of a branch's tone that show it ran


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    server = ServerProcess(
        tmp_path_factory.mktemp("routing"),
        ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(25000, 25199)],
    ).start()
    account = Account.create(server, "Office")
    yield account
    account.api.close()
    server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def _callflow(office: Account, flow: dict[str, Any]) -> str:
    number = str(next(_NUMBERS))
    office.put("callflows", {"numbers": [number], "flow": flow})
    return number


def _tone_node(hz: float, seconds: float = 3.0) -> dict[str, Any]:
    return {"module": "tone", "data": {"frequencies": [hz], "duration_ms": int(seconds * 1000)}}


async def _phone(office: Account, **behaviour: Any) -> tuple[Phone, str]:
    """A registered device phone (answering or refusing as *behaviour* says) and its device id."""
    user = f"desk{next(_USERS)}"
    device_id = office.put("devices", {"name": user, "sip": {"username": user, "password": PASSWORD}})
    phone = await Phone(office.server.sip_port, user=user, realm=office.realm).start()
    for key, value in behaviour.items():
        setattr(phone, key, value)
    assert (await phone.register(PASSWORD)).status == 200
    return phone, device_id


async def _invited_at(phone: Phone) -> float:
    await phone.invited.get()
    return time.monotonic()


async def _caller_hears(
    office: Account, number: str, hz: float, *, digits: str = "", say: float = 0.0, within: float = 20.0
) -> Phone:
    """Call *number* (saying a *say* Hz tone), press *digits* once answered, and listen until two seconds of *hz*
    have come (or *within* seconds passed); hang up. The caller's phone, for what it heard."""
    caller = await Phone(office.server.sip_port).start()
    if say:
        caller.say_pcm(tone(say, within))
    response = await caller.call(number)
    assert response.status == 200, response.status
    if digits:
        await asyncio.sleep(0.5)
        caller.send_digits(digits)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and heard_for(caller.received.pcm(), hz) < HEARD:
        await asyncio.sleep(0.25)
    await caller.hangup()
    caller.close()
    return caller


def test_a_ring_group_rings_each_member_from_its_delay_and_bridges_the_first_to_answer(office: Account) -> None:
    async def scenario() -> None:
        early, early_id = await _phone(office)  # rings at once, never answers
        late, late_id = await _phone(office, answer_after=0.3)  # a group member, two seconds in
        late.say_pcm(tone(1000, 8.0))
        group = office.put("groups", {"name": "Sales", "endpoints": {late_id: {"type": "device"}}})
        number = _callflow(
            office,
            {
                "module": "ring_group",
                "data": {
                    "endpoints": [
                        {"id": early_id, "endpoint_type": "device", "timeout": 20},
                        {"id": group, "endpoint_type": "group", "delay": 2},
                    ],
                    "timeout": 20,
                },
            },
        )
        invites = [asyncio.ensure_future(_invited_at(p)) for p in (early, late)]
        caller = await _caller_hears(office, number, 1000, say=440)
        early_at, late_at = await asyncio.gather(*invites)
        await asyncio.wait_for(early.cancelled.wait(), 5)
        assert late_at - early_at >= 1.5, "the delayed member rang with the first"
        assert heard_for(caller.received.pcm(), 1000) >= HEARD, "the caller did not hear the member who answered"
        assert heard_for(late.received.pcm(), 440) >= 2.0, "the member did not hear the caller"
        for phone in (early, late):
            phone.close()

    asyncio.run(scenario())


def test_a_failed_ring_takes_the_child_for_its_cause_then_its_sip_status(office: Account) -> None:
    async def scenario() -> None:
        busy, busy_id = await _phone(office, refuse_with=486)
        also_busy, also_busy_id = await _phone(office, refuse_with=486)
        by_cause = _callflow(
            office,
            {
                "module": "ring_group",
                "data": {"endpoints": [{"id": i, "endpoint_type": "device"} for i in (busy_id, also_busy_id)]},
                "children": {"USER_BUSY": _tone_node(700), "sip:486": _tone_node(1300), "_": _tone_node(900)},
            },
        )
        by_status = _callflow(
            office,
            {
                "module": "device",
                "data": {"id": busy_id},
                "children": {"sip:486": _tone_node(1300), "_": _tone_node(900)},
            },
        )
        first = await _caller_hears(office, by_cause, 700)
        second = await _caller_hears(office, by_status, 1300)
        assert heard_for(first.received.pcm(), 700) >= HEARD, "USER_BUSY's child did not run"
        assert heard_for(second.received.pcm(), 1300) >= HEARD, "sip:486's child did not run"
        for phone in (busy, also_busy):
            phone.close()

    asyncio.run(scenario())


def test_one_rejection_ends_the_ring_and_repeats_ring_again(office: Account) -> None:
    async def scenario() -> None:
        declining, declining_id = await _phone(office, refuse_with=603)
        slow, slow_id = await _phone(office, answer_after=4.0)
        silent, silent_id = await _phone(office)
        strict = _callflow(
            office,
            {
                "module": "ring_group",
                "data": {
                    "endpoints": [{"id": i, "endpoint_type": "device"} for i in (declining_id, slow_id)],
                    "fail_on_single_reject": True,
                },
                "children": {"_": _tone_node(900)},
            },
        )
        again = _callflow(
            office,
            {
                "module": "ring_group",
                "data": {"endpoints": [{"id": silent_id, "endpoint_type": "device", "timeout": 1}], "repeats": 2},
                "children": {"_": _tone_node(900)},
            },
        )
        first = await _caller_hears(office, strict, 900)
        await asyncio.wait_for(slow.cancelled.wait(), 5)
        assert slow.answered_at is None, "the ring went on after a rejection"
        assert heard_for(first.received.pcm(), 900) >= HEARD
        second = await _caller_hears(office, again, 900)
        assert silent.invited.qsize() == 2, f"rang {silent.invited.qsize()} times, repeats is 2"
        assert heard_for(second.received.pcm(), 900) >= HEARD
        for phone in (declining, slow, silent):
            phone.close()

    asyncio.run(scenario())


def test_a_menu_runs_the_key_pressed_an_extension_dialled_or_max_retries(office: Account) -> None:
    extension = _callflow(office, _tone_node(800, 4.0))
    menu = office.put(
        "menus",
        {
            "name": "Main",
            "retries": 2,
            "timeout": 2000,
            "media": {"greeting": "tts://Press one for sales.", "invalid_media": False, "exit_media": False},
        },
    )
    number = _callflow(
        office,
        {
            "module": "menu",
            "data": {"id": menu},
            "children": {"1": _tone_node(500, 4.0), "max_retries": _tone_node(1200, 4.0)},
        },
    )

    async def scenario() -> None:
        key, hunted, invalid = await asyncio.gather(  # three callers at once
            _caller_hears(office, number, 500, digits="1"),
            _caller_hears(office, number, 800, digits=extension),
            _caller_hears(office, number, 1200, digits="9"),
        )
        assert heard_for(key.received.pcm(), 500) >= HEARD, "key 1's child did not run"
        assert heard_for(hunted.received.pcm(), 800) >= HEARD, "the dialled extension's callflow did not run"
        assert heard_for(invalid.received.pcm(), 1200) >= HEARD, "max_retries did not run"
        assert heard_for(invalid.received.pcm(), 500) < 1.0, "key 1's child ran for a wrong key"

    asyncio.run(scenario())


def test_caller_id_is_replaced_and_prefixed_for_the_phone_that_rings(office: Account) -> None:
    async def scenario() -> None:
        desk, desk_id = await _phone(office, answer_after=0.2)
        number = _callflow(
            office,
            {
                "module": "set_cid",
                "data": {"caller_id_name": "Front Desk", "caller_id_number": "5550100"},
                "children": {
                    "_": {
                        "module": "prepend_cid",
                        "data": {"caller_id_name_prefix": "VIP ", "caller_id_number_prefix": "99"},
                        "children": {"_": {"module": "device", "data": {"id": desk_id}}},
                    }
                },
            },
        )
        desk.say_pcm(tone(1000, 10.0))
        await _caller_hears(office, number, 1000)
        invite = await asyncio.wait_for(desk.invited.get(), 5)
        from_header = invite.headers.get("From") or ""
        assert from_header.startswith('"VIP Front Desk" <sip:995550100@'), from_header
        desk.close()

    asyncio.run(scenario())


def test_response_refuses_the_call_with_the_chosen_status_and_reason(office: Account) -> None:
    number = _callflow(office, {"module": "response", "data": {"code": 503, "message": "Closed for lunch"}})

    async def scenario() -> None:
        caller = await Phone(office.server.sip_port).start()
        response = await caller.call(number)
        caller.close()
        assert (response.status, response.reason) == (503, "Closed for lunch")

    asyncio.run(scenario())


def test_business_hours_route_a_real_call_by_the_rule_open_now(office: Account) -> None:
    """Kazoo's documents as exported: a daily rule whose window holds this moment (UTC) and one whose does not."""
    now = datetime.now(UTC)
    second = now.hour * 3600 + now.minute * 60 + now.second
    open_window = (max(0, second - 3600), min(86400, second + 3600))
    closed_window = (second + 7200, second + 10800) if second + 10800 <= 86400 else (second - 10800, second - 7200)
    rules = {
        name: office.put(
            "temporal_rules",
            {
                "name": name,
                "cycle": "daily",
                "interval": 1,
                "start_date": 63808128000,
                "time_window_start": start,
                "time_window_stop": stop,
            },
        )
        for name, (start, stop) in (("closed", closed_window), ("open", open_window))
    }
    number = _callflow(
        office,
        {
            "module": "temporal_route",
            "data": {"timezone": "UTC", "rules": [rules["closed"], rules["open"]]},
            "children": {rules["closed"]: _tone_node(700), rules["open"]: _tone_node(500), "_": _tone_node(900)},
        },
    )
    caller = asyncio.run(_caller_hears(office, number, 500))
    assert heard_for(caller.received.pcm(), 500) >= HEARD, "the open rule's child did not run"


def test_a_ring_groups_own_ringback_is_early_media_until_a_member_answers(office: Account) -> None:
    base = f"/v2/accounts/{office.account_id}/media"
    media_id = office.put("media", {"name": "ringback"})
    r = office.api.put(f"{base}/{media_id}/raw", content=wav_bytes(1.0, 1200), headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200, r.text

    async def scenario() -> tuple[float, float]:
        member, member_id = await _phone(office, answer_after=3.0)
        member.say_pcm(tone(1000, 10.0))
        number = _callflow(
            office,
            {
                "module": "ring_group",
                "data": {"endpoints": [{"id": member_id, "endpoint_type": "device"}], "ringback": media_id},
            },
        )
        caller = await Phone(office.server.sip_port).start()
        assert (await caller.call(number)).status == 200  # after three seconds of ringing
        answered = caller.answered_at or 0.0
        deadline = time.monotonic() + 10
        while heard_for(caller.received.pcm(), 1000) < HEARD and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        await caller.hangup()
        for phone in (caller, member):
            phone.close()
        before = [(t, pt, payload) for t, pt, payload in caller.received.frames if t < answered]
        return heard_for(Received(before).pcm(), 1200), heard_for(caller.received.pcm(), 1000)

    ringback_heard, member_heard = asyncio.run(scenario())
    assert ringback_heard >= 2.0, "the caller did not hear the ring group's ringback (early media) while it rang"
    assert member_heard >= HEARD, "the caller did not reach the member who answered"
