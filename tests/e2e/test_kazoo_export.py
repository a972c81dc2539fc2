"""A Kazoo account's documents as Kazoo exports them (issue 20) — users, devices, a voicemail box, a group, a menu,
business-hours rules and callflows, with Kazoo's extra keys and its ids — load through the API unchanged and
route calls as Kazoo would: in hours, the main number's menu key 1 rings the Sales group (the user's phone and the
floor phone) and the first to answer talks to the caller; out of hours, the other line takes a message. The
branch PBX is known by its address (``sip.method: "ip"``) and calls without a password."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audio import heard_for, tone
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess

EXPORT = Path(__file__).parent / "kazoo_export" / "office.json"
ORDER = ("users", "devices", "vmboxes", "groups", "menus", "temporal_rules", "callflows")
REALM = "office.kazoo.example.com"


def _export() -> dict[str, list[dict[str, Any]]]:
    """The export, its rules' windows set around this moment: "Open" holds it (UTC), "Open later" does not."""
    now = datetime.now(UTC)
    second = now.hour * 3600 + now.minute * 60 + now.second
    closed = (second + 7200, second + 10800) if second + 10800 <= 86400 else (second - 10800, second - 7200)
    text = EXPORT.read_text()
    for name, value in (
        ("OPEN_START", max(0, second - 3600)),
        ("OPEN_STOP", min(86400, second + 3600)),
        ("CLOSED_START", closed[0]),
        ("CLOSED_STOP", closed[1]),
    ):
        text = text.replace(f'"@{name}@"', str(value))
    return dict(json.loads(text))


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, httpx.Client, str]]:
    server = ServerProcess(
        tmp_path_factory.mktemp("kazoo"),
        ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27500, 27599)],
    ).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    r = api.put("/v2/accounts", json={"data": {"name": "Kazoo office", "realm": REALM}})
    assert r.status_code == 201, r.text
    account = str(r.json()["data"]["id"])
    export = _export()
    for kind in ORDER:
        for doc in export[kind]:
            r = api.put(f"/v2/accounts/{account}/{kind}", json={"data": doc})
            assert r.status_code == 201, (kind, r.text)
            assert r.json()["data"]["id"] == doc["id"], "the document's Kazoo id was not kept"
    yield server, api, account
    api.close()
    server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


async def _phone(server: ServerProcess, username: str, password: str, **behaviour: Any) -> Phone:
    phone = await Phone(server.sip_port, user=username, realm=REALM).start()
    for key, value in behaviour.items():
        setattr(phone, key, value)
    assert (await phone.register(password)).status == 200
    return phone


def test_in_hours_key_one_rings_the_sales_group_and_the_first_to_answer_talks(
    office: tuple[ServerProcess, httpx.Client, str],
) -> None:
    server, _, _ = office

    async def scenario() -> tuple[Phone, Phone, Phone]:
        sam = await _phone(server, "user_sam1", "k8HqW2pLx", answer_after=0.5)
        floor = await _phone(server, "user_floor", "Zp4mN7rQe")  # rings, never answers
        sam.say_pcm(tone(1000, 20.0))
        caller = await Phone(server.sip_port).start()
        assert (await caller.call("5000")).status == 200
        await asyncio.sleep(0.5)
        caller.send_digits("1")
        deadline = time.monotonic() + 20
        while heard_for(caller.received.pcm(), 1000) < 2.0 and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        await asyncio.wait_for(floor.cancelled.wait(), 5)
        await caller.hangup()
        for phone in (caller, sam, floor):
            phone.close()
        return caller, sam, floor

    caller, sam, floor = asyncio.run(scenario())
    assert not sam.invited.empty() and not floor.invited.empty(), "both of the group's phones ring"
    assert heard_for(caller.received.pcm(), 1000) >= 2.0, "the caller did not reach Sam"


def test_out_of_hours_the_branch_pbx_leaves_a_message_without_a_password(
    office: tuple[ServerProcess, httpx.Client, str],
) -> None:
    server, api, account = office
    box = f"/v2/accounts/{account}/vmboxes/70b0c5000000000000000000000000b1/messages"
    before = len(api.get(box).json()["data"])

    async def scenario() -> int:
        pbx = await Phone(server.sip_port, host="127.0.0.3", user="branch_pbx", realm=REALM).start()
        pbx.say_pcm(tone(600, 30.0))
        response = await pbx.call("5001")
        if response.status == 200:
            await asyncio.sleep(14.0)  # greeting, instructions, beep, then the message
            await pbx.hangup()
        pbx.close()
        return response.status

    assert asyncio.run(scenario()) == 200, "the PBX at its address was not let in"
    deadline = time.monotonic() + 15
    while len(messages := api.get(box).json()["data"]) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(messages) == before + 1, "out of hours, the call did not reach voicemail"
