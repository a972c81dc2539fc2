"""A Kazoo tenant's recordings (issue 19): automatic recording from a Kazoo account document records exactly the
calls it names, and an upload looks to a Kazoo receiver as Kazoo's would.

The account's ``call_recording`` is written as Kazoo 4.3's schema has it: ``account.inbound.offnet`` (calls from
carriers into the account) and ``endpoint.outbound.onnet`` (calls each endpoint places to another endpoint).
Carriers call from 127.0.0.2 (the only trusted source); devices call from 127.0.0.1 and answer the server's
digest challenge, so the server knows which device placed the call. A call that no rule names must leave no
recording; one that a rule names leaves exactly one, whose origin names the rule.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.audio import channel_hz, tone
from tests.e2e.account import PASSWORD, Account, running, wait_delivered
from tests.e2e.sipp_runner import free_port
from tests.e2e.test_recording import QUERY_KEYS
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports

KZR_ROOT = Path(__file__).parent  # kzr/index.php (the seed's) and kzr_router.php (its .htaccess)
CALLER_HZ, CALLEE_HZ = 440.0, 1000.0


@dataclass
class Site(Account):
    sink: UploadSink = field(default_factory=UploadSink)

    def recordings_of(self, call_id: str) -> list[dict[str, Any]]:
        return self.recordings(call_id=call_id)

    def delivered(self, call_id: str) -> dict[str, Any]:
        return wait_delivered(self.api, self.account_id, call_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    sink = UploadSink().start()
    leaf = {"enabled": True, "url": f"{sink.url}/auto"}
    recording = {"account": {"inbound": {"offnet": leaf}}, "endpoint": {"outbound": {"onnet": leaf}}}
    args = ["--trusted-networks", "127.0.0.2/32", "--rtp-ports", rtp_ports(25600, 25799)]
    try:
        with running(
            tmp_path_factory.mktemp("auto"), args, "Auto", Site, doc={"call_recording": recording}, sink=sink
        ) as site:
            yield site
    finally:
        sink.stop()


async def _call(site: Site, caller: Phone, number: str, callee: Phone | None, seconds: float) -> tuple[str, float]:
    """*caller* calls *number* (answered by *callee*, or by the flow itself); hangs up after *seconds*."""
    await caller.start()
    caller.say_pcm(tone(CALLER_HZ, seconds + 5))
    if callee is not None:
        callee.say_pcm(tone(CALLEE_HZ, seconds + 5))
    try:
        assert (await caller.call(number)).status == 200
        answered = time.monotonic()
        await asyncio.sleep(seconds)
        hung_up = time.monotonic()
        await caller.hangup()
        if callee is not None:
            await callee.wait_bye(5)
        return caller.call_id, hung_up - answered
    finally:
        caller.close()
        if callee is not None:
            callee.close()


def _device_phone(site: Site, username: str) -> Phone:
    return Phone(site.server.sip_port, user=username, realm=site.realm, password=PASSWORD)


async def _route_callee(site: Site, port: int) -> Phone:
    callee = Phone(site.server.sip_port, user="callee")
    await callee.start_on(port)
    callee.answer_after = 0.2
    return callee


def test_a_carrier_call_into_the_account_is_recorded_by_the_account_rule(site: Site) -> None:
    echo = site.callflow({"module": "echo", "data": {}})
    call_id, seconds = asyncio.run(_call(site, Phone(site.server.sip_port, host="127.0.0.2"), echo, None, 2.0))
    doc = site.delivered(call_id)
    assert doc["origin"] == "inbound from offnet to account"
    [upload] = [u for u in site.sink.uploads if call_id in u.path]
    pcm, rate, _ = decode(upload.body, "mp3")
    assert abs(len(pcm) / rate - seconds) <= 0.1
    assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15


def test_a_device_calling_another_device_is_recorded_by_the_endpoint_default_merged_with_its_own(site: Site) -> None:
    port = free_port()
    site.device("alice")
    desk = site.device("desk", invite_format="route", route=f"sip:desk@127.0.0.1:{port}")
    number = site.callflow({"module": "device", "data": {"id": desk}})
    # the route device stands for a carrier: on-net rules do not name this call
    call_id, _ = asyncio.run(_offnet_call(site, number, port))
    assert site.recordings_of(call_id) == []

    onnet = site.device("bob")  # rung where it registered: on-net
    bob_number = site.callflow({"module": "device", "data": {"id": onnet}})
    alice = next(d for d in _devices(site) if d["name"] == "alice")
    r = site.api.patch(  # alice changes the format only: the rest comes from the account's endpoint default
        f"/v2/accounts/{site.account_id}/devices/{alice['id']}",
        json={"data": {"call_recording": {"outbound": {"onnet": {"format": "wav"}}}}},
    )
    assert r.status_code == 200, r.text
    call_id, seconds = asyncio.run(_onnet_call(site, bob_number))
    doc = site.delivered(call_id)
    assert doc["origin"] == "outbound to onnet from endpoint"
    [upload] = [u for u in site.sink.uploads if call_id in u.path]
    assert upload.path.startswith("/auto/") and upload.path.endswith(".wav")
    pcm, rate, _ = decode(upload.body, "wav")
    assert abs(len(pcm) / rate - seconds) <= 0.1
    assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15
    assert abs(channel_hz(pcm[:, 1], rate) - CALLEE_HZ) < 15


def _devices(site: Site) -> list[dict[str, Any]]:
    return list(site.api.get(f"/v2/accounts/{site.account_id}/devices").json()["data"])


async def _offnet_call(site: Site, number: str, port: int) -> tuple[str, float]:
    callee = await _route_callee(site, port)
    return await _call(site, _device_phone(site, "alice"), number, callee, 1.0)


async def _onnet_call(site: Site, number: str) -> tuple[str, float]:
    bob = await Phone(site.server.sip_port, user="bob", realm=site.realm).start()
    bob.answer_after = 0.2
    assert (await bob.register(PASSWORD)).status == 200
    return await _call(site, _device_phone(site, "alice"), number, bob, 2.0)


def test_the_upload_names_the_callers_owner_and_keeps_kazoos_file_name_whatever_the_media_name(site: Site) -> None:
    """Kazoo 4.3: ``owner_id`` is the A-leg's owner; ``media_name`` names the recording document only."""
    owner = site.put("users", {"first_name": "Carol", "last_name": "Caller"})
    carol = site.device("carol")
    r = site.api.patch(f"/v2/accounts/{site.account_id}/devices/{carol}", json={"data": {"owner_id": owner}})
    assert r.status_code == 200, r.text
    flow = {
        "module": "record_call",
        "data": {"url": f"{site.sink.url}/kz", "media_name": "sales call"},
        "children": {"_": {"module": "echo", "data": {}}},
    }
    number = site.callflow(flow)
    caller = Phone(site.server.sip_port, user="carol", realm=site.realm, password=PASSWORD)
    call_id, seconds = asyncio.run(_call(site, caller, number, None, 2.0))
    docs = _delivered_all(site, call_id)
    named = [d for d in docs if d["name"] == "sales call.mp3"]
    assert len(named) == 1 and named[0]["owner_id"] == owner
    assert named[0]["file_name"] == f"call_recording_{call_id}.mp3"
    uploads = [u for u in site.sink.uploads if u.path.startswith("/kz/")]
    [upload] = [u for u in uploads if call_id in u.path]
    assert upload.path == f"/kz/call_recording_{call_id}.mp3"
    assert dict(upload.query)["owner_id"] == owner
    pcm, rate, _ = decode(upload.body, "mp3")
    assert abs(len(pcm) / rate - seconds) <= 0.1


def _delivered_all(site: Site, call_id: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Every recording of the call, once all are delivered (the endpoint rule records this call too)."""
    deadline = time.monotonic() + timeout
    while True:
        found = site.recordings_of(call_id)
        if found and all(doc["state"] == "delivered" for doc in found):
            return found
        assert time.monotonic() < deadline, f"recordings of {call_id} not delivered: {found}"
        time.sleep(0.1)


def test_the_seeds_php_receiver_takes_the_upload_of_a_call_with_an_owner_and_a_media_name(
    site: Site, tmp_path: Path
) -> None:
    """The seed page's receiver (.htaccess + kzr/index.php, as written, under PHP's own server) gets the file
    byte for byte at Kazoo's URL, with Kazoo's twelve query keys and the caller's owner."""
    log = tmp_path / "requests.log"
    port = free_port()
    php = subprocess.Popen(
        ["php", "-S", f"127.0.0.1:{port}", "-t", str(KZR_ROOT), str(KZR_ROOT / "kzr_router.php")],
        env={**os.environ, "KZR_LOG": str(log)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    owner = site.put("users", {"first_name": "Dora", "last_name": "Dialler"})
    site.put("devices", {"name": "dora", "owner_id": owner, "sip": {"username": "dora", "password": PASSWORD}})
    flow = {
        "module": "record_call",
        "data": {"url": f"http://127.0.0.1:{port}/kzr", "media_name": "dora's call"},
        "children": {"_": {"module": "echo", "data": {}}},
    }
    number = site.callflow(flow)
    stored: Path | None = None
    try:
        caller = Phone(site.server.sip_port, user="dora", realm=site.realm, password=PASSWORD)
        call_id, _ = asyncio.run(_call(site, caller, number, None, 1.5))
        stored = Path(f"/tmp/{call_id}.mp3")  # where the seed's script puts it
        docs = _delivered_all(site, call_id)
        [doc] = [d for d in docs if d["name"] == "dora's call.mp3"]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == doc["sha256"]
        [line] = [entry for entry in log.read_text().splitlines() if f"call_recording_{call_id}.mp3" in entry]
        method, target = line.split(" ", 1)
        path, _, query = target.partition("?")
        assert (method, path) == ("PUT", f"/kzr/call_recording_{call_id}.mp3")
        pairs = parse_qsl(query, keep_blank_values=True)
        assert [key for key, _ in pairs] == QUERY_KEYS
        assert dict(pairs)["owner_id"] == owner and dict(pairs)["recording_id"] == doc["id"]
    finally:
        php.terminate()
        php.wait(5)
        if stored is not None:
            stored.unlink(missing_ok=True)


def test_a_user_signed_in_sees_the_recordings_of_its_calls_and_no_others(site: Site) -> None:
    """priv_level user (Kazoo's default): its own calls' recordings are listed and readable; another's are not."""
    owner = site.put("users", {"first_name": "Eve", "last_name": "E", "username": "eve", "password": "eve-secret-1"})
    site.put("devices", {"name": "eve", "owner_id": owner, "sip": {"username": "eve", "password": PASSWORD}})
    echo = site.callflow({"module": "echo", "data": {}})
    mine, _ = asyncio.run(_call(site, _device_phone(site, "eve"), echo, None, 1.0))  # recorded by the endpoint rule
    theirs, _ = asyncio.run(_call(site, Phone(site.server.sip_port, host="127.0.0.2"), echo, None, 1.0))  # a carrier's
    mine_doc, theirs_doc = site.delivered(mine), site.delivered(theirs)
    credentials = hashlib.md5(b"eve:eve-secret-1").hexdigest()
    signed = httpx.put(
        f"{site.server.api_url}/v2/user_auth", json={"data": {"credentials": credentials, "account_realm": site.realm}}
    )
    assert signed.status_code == 201, signed.text
    headers = {"X-Auth-Token": signed.json()["auth_token"]}
    base = f"{site.server.api_url}/v2/accounts/{site.account_id}/recordings"
    listed = httpx.get(base, headers=headers, params={"paginate": "false"}).json()["data"]
    assert mine_doc["id"] in {r["id"] for r in listed} and theirs_doc["id"] not in {r["id"] for r in listed}
    assert {r["owner_id"] for r in listed} == {owner}
    assert httpx.get(f"{base}/{mine_doc['id']}", headers=headers).status_code == 200
    assert httpx.get(f"{base}/{theirs_doc['id']}", headers=headers).status_code == 403
