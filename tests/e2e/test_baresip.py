"""Interop with a real softphone: Debian's baresip registers, calls a record_call flow and is rung by a user node.

baresip 1.0's SIP stack (libre) gives up on a 401 that lists any algorithm but MD5 ("Function not implemented"),
so this server challenges with MD5 only — the setting such phones need (docs/quickstart.md says so).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from calltape.media.sources import tone
from calltape.sip.events import Peer
from calltape.softphone.ua import Softphone
from tests.audio import channel_hz
from tests.e2e.account import Account, running
from tests.e2e.baresip import Baresip
from tests.e2e.upload_sink import UploadSink, decode
from tests.ports import rtp_ports

PASSWORD = "bare-secret-1"
BARESIP_HZ, CALLER_HZ = 440, 1000  # baresip's sine; what our softphone sends when it calls baresip


@dataclass
class Site(Account):
    sink: UploadSink = field(default_factory=UploadSink)
    user_id: str = ""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    sink = UploadSink().start()
    args = ["--digest-algorithms", "MD5", "--rtp-ports", rtp_ports(27400, 27499)]
    try:
        with running(tmp_path_factory.mktemp("baresip"), args, "Bare", Site, sink=sink) as site:
            yield _provision(site)
    finally:
        sink.stop()


def _provision(site: Site) -> Site:
    site.user_id = site.put("users", {"first_name": "Linus", "last_name": "Baresip"})
    site.put("devices", {"name": "bare", "owner_id": site.user_id, "sip": {"username": "bare", "password": PASSWORD}})
    site.put("devices", {"name": "ada", "sip": {"username": "ada", "password": PASSWORD}})
    record = {"module": "record_call", "data": {"url": f"{site.sink.url}/rec"}}
    site.put("callflows", {"numbers": ["1001"], "flow": {**record, "children": {"_": {"module": "echo", "data": {}}}}})
    ring = {"_": {"module": "user", "data": {"id": site.user_id}}}
    site.put("callflows", {"numbers": ["1002"], "flow": {**record, "children": ring}})
    return site


@pytest.fixture
def baresip(site: Site, tmp_path: Path) -> Iterator[Baresip]:
    phone = Baresip(tmp_path / "baresip", f"sip:bare@{site.realm}", PASSWORD, site.server.sip_port, hz=BARESIP_HZ)
    try:
        phone.wait_registered()
        yield phone
    finally:
        phone.close()


def test_baresip_calls_a_record_call_flow_and_the_recording_is_right(site: Site, baresip: Baresip) -> None:
    assert baresip.command("dial", f"sip:1001@{site.realm}")["ok"]
    established = baresip.wait_event("CALL_ESTABLISHED")["received_at"]
    time.sleep(3.0)
    baresip.command("hangup")
    closed = baresip.wait_event("CALL_CLOSED")
    call_id = str(closed["id"])
    upload = site.sink.upload_of(call_id)
    assert upload.path == f"/rec/call_recording_{quote(call_id, safe='')}.mp3"
    pcm, rate, channels = decode(upload.body, "mp3")
    assert channels == 2
    assert abs(len(pcm) / rate - (closed["received_at"] - established)) <= 0.1
    assert abs(channel_hz(pcm[:, 0], rate) - BARESIP_HZ) < 15  # what baresip said
    assert abs(channel_hz(pcm[:, 1], rate) - BARESIP_HZ) < 15  # what it heard: the echo
    assert site.recordings(call_id=call_id)[0]["from"] == f"bare@{site.realm}"


def test_a_user_node_rings_baresip_and_the_bridged_call_is_recorded(site: Site, baresip: Baresip) -> None:
    async def call() -> str:
        caller = Softphone(Peer("udp", "127.0.0.1", site.server.sip_port), user="ada", password=PASSWORD)
        caller.realm = site.realm
        caller.on_call = lambda c: c.play(tone((CALLER_HZ,), 1.0))
        await caller.start()
        try:
            placed = await caller.call("1002", timeout=15)
            assert placed.status == 200
            await asyncio.sleep(3.0)
            await placed.hangup()
            return placed.call_id
        finally:
            await caller.close()

    call_id = asyncio.run(call())
    baresip.wait_event("CALL_ESTABLISHED")
    baresip.wait_event("CALL_CLOSED")  # our BYE reached baresip through the bridge
    pcm, rate, channels = decode(site.sink.upload_of(call_id).body, "mp3")
    assert channels == 2 and 2.8 < len(pcm) / rate < 3.3
    assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15  # the caller, left
    assert abs(channel_hz(pcm[:, 1], rate) - BARESIP_HZ) < 15  # baresip, right
