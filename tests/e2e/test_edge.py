"""Two calltape nodes behind Debian's Kamailio (issue 23), with the configuration ``calltape edge-config`` renders,
sharing one PostgreSQL: a phone registers through the edge; its calls are spread over both nodes by Call-ID;
a call that lands on the node that did not take its REGISTER still rings it, through the edge (the Path it
registered with); a drained node refuses new calls (the edge sends them to the other), lets its own call end, delivers
its recording and exits 0; a node that is down gets no calls, the other takes them."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.audio import heard_for
from tests.e2e.sipp_runner import free_port
from tests.e2e.test_recording import CALLER_HZ, tone
from tests.e2e.upload_sink import decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.receiver.audio import wav_bytes
from tests.server import TOKEN, ServerProcess
from tests.sipclient import UdpSipClient, options

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
PASSWORD = "edge-secret-1"
EDGE_HOST = "127.0.0.3"  # apart from the phones (127.0.0.1) and the carrier (127.0.0.2): the nodes tell them apart
REALM = "edge.calltape.test"
WAV = {"Content-Type": "audio/wav"}


@dataclass
class Edge:
    port: int
    nodes: list[ServerProcess]
    api: httpx.Client
    account_id: str
    number: str  # record_call → echo
    desk_number: str  # rings the phone "desk"
    box_id: str  # a voicemail box, its number 7102

    def phone(self, user: str, host: str = "127.0.0.1", password: str | None = PASSWORD) -> Phone:
        """A phone that talks to the edge."""
        return Phone(self.port, user=user, realm=REALM, password=password, host=host, server_host=EDGE_HOST)

    def node_of(self, call_id: str) -> int:
        """Which node carried the call (the node whose front door took its INVITE)."""
        took = f"calltape.frontdoor.calls: call-id {call_id}: "
        carried = [i for i, node in enumerate(self.nodes) if took in node.log_path.read_text()]
        assert len(carried) == 1, f"call {call_id} was on nodes {carried}"
        return carried[0]


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, pg_database_url: str) -> Iterator[Edge]:
    if not Path(KAMAILIO).exists():
        pytest.fail("Debian's kamailio is needed (make install puts it there)")
    tmp = tmp_path_factory.mktemp("edge")
    nodes = []
    for index, ports in enumerate(((27000, 27099), (27100, 27199))):
        args = ["--db", pg_database_url, "--rtp-ports", rtp_ports(*ports), "--api-token", TOKEN]
        args += ["--node-id", f"node-{index}", "--edges", f"{EDGE_HOST}/32", "--trusted-networks", "127.0.0.2/32"]
        nodes.append(ServerProcess(tmp / f"node{index}", args).start())
    port = free_port()
    node_flags = [flag for node in nodes for flag in ("--node", f"sip:127.0.0.1:{node.sip_port}")]
    listen = ["--listen", f"{EDGE_HOST}:{port}", "--list", str(tmp / "nodes.list"), "--probe-interval", "1"]
    config = subprocess.run(
        [sys.executable, "-m", "calltape", "edge-config", *listen, *node_flags],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (tmp / "kamailio.cfg").write_text(config)
    (tmp / "run").mkdir()
    command = [KAMAILIO, "-DD", "-E", "-f", str(tmp / "kamailio.cfg"), "-Y", str(tmp / "run"), "-w", str(tmp)]
    kamailio = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=(tmp / "kamailio.log").open("w"))
    api = httpx.Client(base_url=nodes[0].api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    try:
        account_id = api.put("/v2/accounts", json={"data": {"name": "edge", "realm": REALM}}).json()["data"]["id"]
        base = f"/v2/accounts/{account_id}"
        devices = {}
        for name in ("desk", "front"):  # the phone that is called, and the one that calls
            doc = {"name": name, "sip": {"username": name, "password": PASSWORD}}
            devices[name] = api.put(f"{base}/devices", json={"data": doc}).json()["data"]["id"]
        device_id = devices["desk"]
        record = {"module": "record_call", "data": {"format": "wav", "url": f"{nodes[0].api_url}/receiver/edge"}}
        record["children"] = {"_": {"module": "echo", "data": {}}}
        vmbox = {"name": "shared", "mailbox": "3100", "pin": "1234", "skip_greeting": True, "skip_instructions": True}
        box_id = api.put(f"{base}/vmboxes", json={"data": vmbox}).json()["data"]["id"]
        numbers = {"7100": record, "7101": {"module": "device", "data": {"id": device_id}}}
        numbers["7102"] = {"module": "voicemail", "data": {"id": box_id}}
        for number, flow in numbers.items():
            assert api.put(f"{base}/callflows", json={"data": {"numbers": [number], "flow": flow}}).status_code == 201
        _wait_for_edge(port, kamailio, tmp / "kamailio.log")
        yield Edge(port, nodes, api, account_id, "7100", "7101", box_id)
    finally:
        kamailio.terminate()
        kamailio.wait(10)
        api.close()
        for node in nodes:
            node.stop()


def _wait_for_edge(port: int, kamailio: subprocess.Popen[bytes], log: Path) -> None:
    """Until an OPTIONS through the edge is answered by a node."""

    async def probe() -> int:
        phone = await Phone(port, realm=REALM, server_host=EDGE_HOST).start()
        try:
            phone.send(phone.request("OPTIONS", f"sip:{REALM}"))
            return (await phone.final(1.0)).status
        finally:
            phone.close()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert kamailio.poll() is None, f"kamailio exited: {log.read_text()[-2000:]}"
        try:
            if asyncio.run(probe()) == 200:
                return
        except TimeoutError:
            pass
    raise AssertionError(f"the edge never answered: {log.read_text()[-2000:]}")


async def _call(edge: Edge, number: str, caller: Phone, seconds: float = 0.5) -> str:
    caller.call_id = uuid.uuid4().hex  # a fresh call (its Call-ID: the edge's hash picks the node)
    caller.to_tag, caller.route_set = None, []
    assert (await caller.call(number)).status == 200
    await asyncio.sleep(seconds)
    await caller.hangup()
    return caller.call_id


def test_a_phone_behind_the_edge_is_called_from_either_node_and_its_calls_spread(edge: Edge) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        desk = await edge.phone("desk").start()
        desk.answer_after = 0.1
        caller = await edge.phone("front").start()
        try:
            registered = await desk.register(PASSWORD)  # through the edge, which adds its Path
            assert registered.status == 200 and "received=" in (registered.headers.get("Path") or "")  # echoed
            recorded: list[str] = []
            while len({edge.node_of(call_id) for call_id in recorded}) < 2 and len(recorded) < 30:
                recorded.append(await _call(edge, edge.number, caller))  # a hash over Call-IDs: both, soon
            rang: list[str] = []
            while len({edge.node_of(call_id) for call_id in rang}) < 2 and len(rang) < 30:
                rang.append(await _call(edge, edge.desk_number, caller, 0.3))  # placed by either node
                await desk.wait_bye(5)
                desk.incoming, desk.bye_at = None, None
            return recorded, rang
        finally:
            desk.close()
            caller.close()

    recorded, rang = asyncio.run(scenario())
    assert {edge.node_of(call_id) for call_id in recorded} == {0, 1}  # spread by Call-ID over both nodes
    assert {edge.node_of(call_id) for call_id in rang} == {0, 1}  # the desk rang from the node without its REGISTER


def test_phones_behind_nat_get_the_in_dialog_requests_of_either_node(edge: Edge) -> None:
    """Both phones give private addresses in their Contact (as behind NAT, which they are not reachable at): the
    edge aliases those Contacts to where the phones really are, so a node's BYE reaches the callee when the
    caller hangs up, and the caller when the callee hangs up."""

    async def scenario() -> None:
        desk = await edge.phone("desk").start()
        desk.contact_host, desk.answer_after = "10.0.0.5:5060", 0.1
        caller = await edge.phone("front").start()
        caller.contact_host = "10.0.0.6:5060"
        try:
            assert (await desk.register(PASSWORD)).status == 200
            await _call(edge, edge.desk_number, caller, 0.3)  # the caller hangs up ...
            await desk.wait_bye(5)  # ... and the node's BYE reaches the desk, not 10.0.0.5
            desk.incoming, desk.bye_at = None, None
            caller.call_id, caller.to_tag, caller.route_set = uuid.uuid4().hex, None, []
            assert (await caller.call(edge.desk_number)).status == 200
            await asyncio.sleep(0.3)
            await desk.hangup_incoming()  # the desk hangs up ...
            await caller.wait_bye(5)  # ... and the node's BYE reaches the caller, not 10.0.0.6
        finally:
            desk.close()
            caller.close()

    asyncio.run(scenario())


def test_media_and_voicemail_made_on_one_node_are_played_by_the_other(edge: Edge) -> None:
    """Music uploaded through node 0's API is served by node 1, as uploaded anew too; a message left on node 0 (a
    carrier's call straight to it) is listed and served as audio by node 1, which fetches it from the shared
    store."""
    api1 = httpx.Client(base_url=edge.nodes[1].api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    base = f"/v2/accounts/{edge.account_id}"
    try:
        media_id = edge.api.put(f"{base}/media", json={"data": {"name": "music"}}).json()["data"]["id"]
        for hz in (600.0, 900.0):  # uploaded, then uploaded anew: node 1 serves what is there now
            uploaded = edge.api.put(f"{base}/media/{media_id}/raw", content=wav_bytes(1.0, hz), headers=WAV)
            assert uploaded.status_code == 200, uploaded.text
            served = api1.get(f"{base}/media/{media_id}/raw")
            assert served.status_code == 200 and served.content == edge.api.get(f"{base}/media/{media_id}/raw").content

        async def leave_message() -> None:
            caller = await Phone(edge.nodes[0].sip_port, host="127.0.0.2").start()  # a carrier, to node 0 itself
            try:
                assert (await caller.call("7102", timeout=15)).status == 200
                while heard_for(caller.received.pcm(), 1000.0) < 0.25:  # the beep, after the greeting
                    await asyncio.sleep(0.05)
                caller.say_pcm(tone(CALLER_HZ, 4.0))  # longer than Kazoo's 3 s shortest message
                await asyncio.sleep(4.3)
                await caller.hangup()
            finally:
                caller.close()

        asyncio.run(leave_message())
        deadline = time.monotonic() + 10
        while not (listed := api1.get(f"{base}/vmboxes/{edge.box_id}/messages").json()["data"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        [message] = listed
        audio = api1.get(f"{base}/vmboxes/{edge.box_id}/messages/{message['id']}", headers={"Accept": "audio/mpeg"})
        assert audio.status_code == 200, audio.text
        pcm, rate, _ = decode(audio.content, "mp3")
        assert heard_for(np.ascontiguousarray(pcm[:, 0]), CALLER_HZ, rate=rate) >= 3.5
    finally:
        api1.close()


def test_the_nodes_take_the_edges_word_for_the_real_source_and_nobody_elses(edge: Edge) -> None:
    """The carrier (a trusted network) calls through the edge without a login, a phone's INVITE is challenged,
    and a source header a phone forges is replaced by the edge, or ignored when sent to a node directly."""

    async def invite(phone: Phone, forged: str | None = None) -> int:
        phone.call_id, phone.to_tag, phone.route_set = uuid.uuid4().hex, None, []
        status = (await phone.call(edge.number, extra=[("X-Calltape-Source", forged)] if forged else [])).status
        if status == 200:
            await phone.hangup()
        return status

    async def scenario() -> list[int]:
        carrier = await edge.phone("carrier", host="127.0.0.2", password=None).start()
        phone = await edge.phone("front", password=None).start()
        direct = await Phone(edge.nodes[0].sip_port, user="front", realm=REALM).start()  # not through the edge
        try:
            return [
                await invite(carrier),
                await invite(phone),
                await invite(phone, forged="127.0.0.2"),
                await invite(direct, forged="127.0.0.2"),
            ]
        finally:
            for each in (carrier, phone, direct):
                each.close()

    assert asyncio.run(scenario()) == [200, 407, 407, 407]


def _probe(port: int) -> str:
    """A hand-written OPTIONS straight to a node: the first line and the Retry-After of its answer."""
    client = UdpSipClient()
    try:
        client.send(options(port, via_port=client.port), port)
        client.sock.settimeout(5)
        raw = client.sock.recvfrom(65535)[0].decode()
    finally:
        client.close()
    retry = [line for line in raw.split("\r\n") if line.lower().startswith("retry-after:")]
    return " ".join([raw.split("\r\n", 1)[0], *retry])


def test_a_drained_node_takes_no_new_calls_lets_its_own_end_and_stops(edge: Edge) -> None:
    node = edge.nodes[1]
    assert _probe(node.sip_port) == "SIP/2.0 200 OK"

    async def scenario() -> tuple[str, float, list[str], int, str, int]:
        caller = await edge.phone("front").start()
        others = await edge.phone("front").start()
        caller.say_pcm(tone(CALLER_HZ, 30))
        try:
            while True:  # a recorded call that node 1 carries, kept up
                caller.call_id, caller.to_tag, caller.route_set = uuid.uuid4().hex, None, []
                assert (await caller.call(edge.number)).status == 200
                if edge.node_of(caller.call_id) == 1:
                    break
                await caller.hangup()
            started = time.monotonic()
            await asyncio.sleep(0.5)
            drained = await asyncio.to_thread(
                httpx.post, f"{node.api_url}/v2/nodes/node-1/drain", headers={"X-Auth-Token": TOKEN}
            )
            assert drained.status_code == 202 and drained.json()["data"]["draining"] is True, drained.text
            heard_at_drain = len(caller.received.frames)
            probe = await asyncio.to_thread(_probe, node.sip_port)
            new_calls = [await _call(edge, edge.number, others, 0.2) for _ in range(3)]  # the edge: to node 0
            await asyncio.sleep(0.5)
            heard_after = len(caller.received.frames) - heard_at_drain  # the call went on
            assert (await caller.hangup()).status == 200
            seconds = time.monotonic() - started
            assert node.proc is not None
            exit_code = await asyncio.to_thread(node.proc.wait, 15)
            return caller.call_id, seconds, new_calls, heard_after, probe, exit_code
        finally:
            caller.close()
            others.close()

    call_id, seconds, new_calls, heard_after, probe, exit_code = asyncio.run(scenario())
    assert probe == "SIP/2.0 503 Service Unavailable (draining) Retry-After: 5"  # the edge's probe too
    assert [edge.node_of(call_id) for call_id in new_calls] == [0, 0, 0]
    assert heard_after >= 25  # echo frames of the draining node's call, after the drain began
    assert exit_code == 0  # it stopped by itself once its call ended
    log = node.log_path.read_text()
    assert "Traceback" not in log
    nodes = {node["id"]: node for node in edge.api.get("/v2/nodes").json()["data"]}  # as node 0 sees them
    assert nodes["node-0"]["up"] and not nodes["node-1"]["up"] and nodes["node-1"]["stopped"] is not None
    assert nodes["node-1"]["stranded"] == 0  # it delivered what it had
    assert edge.api.post("/v2/nodes/node-1/drain").status_code == 409  # asked of node 0: not itself
    [doc] = edge.api.get(f"/v2/accounts/{edge.account_id}/recordings", params={"call_id": call_id}).json()["data"]
    assert doc["state"] == "delivered" and doc["manifest"]["node"] == "node-1"  # before the node stopped
    assert abs(doc["duration_ms"] / 1000 - seconds) <= 0.2  # the whole call, answer to hang-up


def test_sigterm_drains_and_a_second_sigterm_hangs_up_at_once(tmp_path: Path) -> None:
    args = ["--node-id", "solo", "--rtp-ports", rtp_ports(27200, 27299), "--trusted-networks", "127.0.0.1/32"]
    server = ServerProcess(tmp_path / "data", args).start()
    assert server.proc is not None
    try:
        api = httpx.Client(base_url=f"{server.api_url}/v2", headers={"X-Auth-Token": TOKEN})
        solo = api.get("/nodes/solo").json()["data"]
        assert {key: solo[key] for key in ("id", "up", "draining", "calls", "legs", "workers", "stranded")} == {
            "id": "solo",
            "up": True,
            "draining": False,
            "calls": 0,
            "legs": 0,
            "workers": 1,
            "stranded": 0,
        }
        assert [node["id"] for node in api.get("/nodes").json()["data"]] == ["solo"]  # its heartbeat, at start
        assert api.post("/nodes/other/drain").status_code == 404
        assert httpx.post(f"{server.api_url}/v2/nodes/solo/drain").status_code == 401
        account = api.put("/accounts", json={"data": {"name": "solo", "realm": "solo.test"}}).json()["data"]["id"]
        echo = {"numbers": ["7300"], "flow": {"module": "echo", "data": {}}}
        assert api.put(f"/accounts/{account}/callflows", json={"data": echo}).status_code == 201

        async def scenario() -> tuple[str, str, float]:
            caller = await Phone(server.sip_port).start()
            try:
                assert (await caller.call("7300")).status == 200
                server.proc.send_signal(signal.SIGTERM)  # drain: the call goes on
                deadline = time.monotonic() + 5
                while (probe := _probe(server.sip_port)).startswith("SIP/2.0 200") and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                metrics = api.get(f"{server.api_url}/metrics").text
                server.proc.send_signal(signal.SIGTERM)  # again: at once, the call is hung up
                return probe, metrics, await caller.wait_bye(10)
            finally:
                caller.close()

        probe, metrics, _ = asyncio.run(scenario())
        assert server.proc.wait(15) == 0
    finally:
        server.stop()
    assert probe == "SIP/2.0 503 Service Unavailable (draining) Retry-After: 5"
    assert 'calltape_node_info{node="solo"} 1.0' in metrics and "calltape_node_draining 1.0" in metrics


def test_a_node_that_is_down_gets_no_calls_and_the_other_takes_them(edge: Edge) -> None:
    edge.nodes[1].stop()  # as a crash would leave it: nothing answers on its address

    async def scenario() -> list[str]:
        caller = await edge.phone("front").start()
        try:
            return [await _call(edge, edge.number, caller, 0.2) for _ in range(4)]
        finally:
            caller.close()

    calls = asyncio.run(scenario())  # each answered: the first ones after the edge gave up on node 1 (2 s)
    assert [edge.node_of(call_id) for call_id in calls] == [0, 0, 0, 0]
