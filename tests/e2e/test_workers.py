"""``calltape serve --workers 2``: two processes share the SIP port; every dialog stays whole on its owner.

Call-IDs are chosen so that each worker owns half of the calls (``crc32(Call-ID) % 2``); which process the
kernel hands each datagram to depends on the sender's address, so datagrams also cross between workers.
Echo calls and bridged calls (whose callee answers from another address) must work on both, every
recording must be right and delivered, and a stop must reach both processes and end them cleanly.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.audio import dominant_frequency
from tests.e2e.account import Account, running
from tests.e2e.sipp_runner import free_port
from tests.e2e.test_recording import CALLEE_HZ, CALLER_HZ, channel_hz, tone
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports


@dataclass
class Site(Account):
    sink: UploadSink = field(default_factory=UploadSink)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    sink = UploadSink().start()
    args = ["--workers", "2", "--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27600, 27799)]
    try:  # running() checks that the stop reached both workers and both ended cleanly (exit 0)
        with running(tmp_path_factory.mktemp("workers"), args, "Workers", Site, sink=sink) as site:
            yield site
    finally:
        sink.stop()


def call_id_owned_by(worker: int) -> str:
    while True:
        call_id = uuid.uuid4().hex
        if zlib.crc32(call_id.encode()) % 2 == worker:
            return call_id


async def place(site: Site, number: str, call_id: str, callee_port: int | None = None) -> float:
    """One call of 2 s; returns the main frequency the caller heard."""
    callee = None
    if callee_port is not None:
        callee = await Phone(site.server.sip_port, user="callee").start_on(callee_port)
        callee.answer_after = 0.2
        callee.say_pcm(tone(CALLEE_HZ, 8))
    caller = await Phone(site.server.sip_port).start()
    caller.call_id = call_id
    try:
        caller.say_pcm(tone(CALLER_HZ, 8))
        assert (await caller.call(number)).status == 200
        await asyncio.sleep(2.0)
        assert (await caller.hangup()).status == 200
        if callee is not None:
            await callee.wait_bye(5)
        return dominant_frequency(caller.received.pcm()[4000:])
    finally:
        caller.close()
        if callee is not None:
            callee.close()


def wait_delivered(site: Site, call_ids: list[str]) -> list[dict[str, object]]:
    for _ in range(200):
        docs = [doc for call_id in call_ids for doc in site.recordings(call_id=call_id)]
        if len(docs) == len(call_ids) and all(d["state"] == "delivered" for d in docs):
            return docs
        time.sleep(0.1)
    raise AssertionError(f"not all delivered: {[(d['call_id'], d['state']) for d in docs]}")


def test_echo_calls_owned_by_each_worker_are_answered_recorded_and_delivered(site: Site) -> None:
    record = {"module": "record_call", "data": {"url": f"{site.sink.url}/echo"}}
    site.put("callflows", {"numbers": ["2000"], "flow": {**record, "children": {"_": {"module": "echo", "data": {}}}}})
    call_ids = [call_id_owned_by(i % 2) for i in range(6)]

    async def all_calls() -> list[float]:
        return list(await asyncio.gather(*(place(site, "2000", call_id) for call_id in call_ids)))

    assert all(abs(hz - CALLER_HZ) < 10 for hz in asyncio.run(all_calls()))  # each caller heard its echo
    docs = wait_delivered(site, call_ids)
    assert len({d["node"] for d in docs}) == 2  # both workers recorded and delivered
    for call_id in call_ids:
        [upload] = [u for u in site.sink.uploads if quote(call_id, safe="") in u.path]
        pcm, rate, channels = decode(upload.body, "mp3")
        assert channels == 2 and abs(len(pcm) / rate - 2.0) < 0.15
        assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15


def test_bridged_calls_whose_callee_answers_from_elsewhere_stay_with_their_worker(site: Site) -> None:
    ports = [free_port() for _ in range(4)]
    numbers = []
    for port in ports:
        sip = {"username": f"desk{port}", "password": "desk-secret-1", "invite_format": "route"}
        device = site.put("devices", {"name": f"desk{port}", "sip": {**sip, "route": f"sip:callee@127.0.0.1:{port}"}})
        record = {"module": "record_call", "data": {"url": f"{site.sink.url}/bridge"}}
        number = str(3000 + len(numbers))
        flow = {**record, "children": {"_": {"module": "device", "data": {"id": device}}}}
        site.put("callflows", {"numbers": [number], "flow": flow})
        numbers.append(number)
    call_ids = [call_id_owned_by(i % 2) for i in range(4)]

    async def all_calls() -> list[float]:
        calls = (place(site, n, c, p) for n, c, p in zip(numbers, call_ids, ports, strict=True))
        return list(await asyncio.gather(*calls))

    assert all(abs(hz - CALLEE_HZ) < 10 for hz in asyncio.run(all_calls()))  # the caller heard the callee
    docs = wait_delivered(site, call_ids)
    assert len({d["node"] for d in docs}) == 2
    for call_id in call_ids:
        [upload] = [u for u in site.sink.uploads if quote(call_id, safe="") in u.path]
        pcm, rate, _ = decode(upload.body, "mp3")
        assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15
        assert abs(channel_hz(pcm[:, 1], rate) - CALLEE_HZ) < 15


def test_the_api_on_worker_0_controls_the_recording_of_a_call_worker_1_has(site: Site) -> None:
    """Issue 22: ``GET …/channels/{CALL_ID}`` and ``POST …/channels/{CALL_ID}/recordings`` reach the worker that
    owns the call; the list gathers both workers' calls; the recording it started is made and delivered."""
    site.put("callflows", {"numbers": ["2300"], "flow": {"module": "echo", "data": {}}})
    call_id, other = call_id_owned_by(1), call_id_owned_by(0)
    base = f"/v2/accounts/{site.account_id}/channels"

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        callers = [await Phone(site.server.sip_port).start() for _ in range(2)]
        try:
            for caller, chosen in zip(callers, (call_id, other), strict=True):
                caller.call_id = chosen
                caller.say_pcm(tone(CALLER_HZ, 8))
                assert (await caller.call("2300")).status == 200
            listed = [c["call_id"] for c in (await asyncio.to_thread(site.api.get, base)).json()["data"]]
            data = {"action": "start", "format": "wav", "url": f"{site.sink.url}/live"}
            started = await asyncio.to_thread(site.api.post, f"{base}/{call_id}/recordings", json={"data": data})
            assert started.status_code == 200, started.text
            await asyncio.sleep(2.0)
            shown = (await asyncio.to_thread(site.api.get, f"{base}/{call_id}")).json()["data"]
            stopped = await asyncio.to_thread(
                site.api.post, f"{base}/{call_id}/recordings", json={"data": {"action": "stop"}}
            )
            for caller in callers:
                await caller.hangup()
            return started.json()["data"], {**shown, "after_stop": stopped.json()["data"]["recordings"]}, listed
        finally:
            for caller in callers:
                caller.close()

    started, shown, listed = asyncio.run(scenario())
    assert sorted(listed) == sorted([call_id, other])  # both workers' calls in one list
    assert [r["state"] for r in started["recordings"]] == ["recording"] and shown["after_stop"] == []
    assert shown["call_id"] == call_id and shown["recordings"][0]["format"] == "wav"
    wait_delivered(site, [call_id])
    [upload] = [u for u in site.sink.uploads if quote(call_id, safe="") in u.path and u.path.startswith("/live")]
    pcm, rate, _ = decode(upload.body, "wav")
    assert abs(len(pcm) / rate - 2.0) < 0.4 and abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15
    assert site.api.get(f"{base}/{call_id_owned_by(1)}").status_code == 404  # none such on worker 1: 404 as before


def metric(site: Site, name: str) -> float:
    text = site.api.get("/metrics").text
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


def wait_metric(site: Site, name: str, value: float) -> None:
    for _ in range(100):  # the other worker's snapshot is at most a second old
        if metric(site, name) == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} stayed {metric(site, name)}, expected {value}")


def test_worker_zeros_metrics_count_the_calls_of_both_workers(site: Site) -> None:
    site.put("callflows", {"numbers": ["2100"], "flow": {"module": "echo", "data": {}}})
    received_before = metric(site, "calltape_rtp_packets_received_total")

    async def hold_calls() -> None:
        phones = [await Phone(site.server.sip_port).start() for _ in range(4)]
        try:
            for index, phone in enumerate(phones):
                phone.call_id = call_id_owned_by(index % 2)
                phone.say_pcm(tone(CALLER_HZ, 8))
                assert (await phone.call("2100")).status == 200
            await asyncio.to_thread(wait_metric, site, "calltape_calls_active", 4)  # 2 on each worker
            await asyncio.to_thread(wait_metric, site, "calltape_rtp_sessions_active", 4)
            deadline = time.monotonic() + 10  # on a busy machine the calls may need a moment to send that much
            while (
                await asyncio.to_thread(metric, site, "calltape_rtp_packets_received_total") - received_before <= 4 * 25
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            for phone in phones:
                assert (await phone.hangup()).status == 200
        finally:
            for phone in phones:
                phone.close()

    asyncio.run(hold_calls())
    wait_metric(site, "calltape_calls_active", 0)
    assert metric(site, "calltape_rtp_packets_received_total") - received_before > 4 * 25  # both workers' packets


def test_drained_through_the_api_every_worker_lets_its_call_end_and_the_serve_exits_0(site: Site) -> None:
    """Last in this module (it ends the server): the API of worker 0 drains the whole serve — a call that worker 1
    carries goes on and ends, a new call is refused with 503 on either worker, and then every process exits 0."""
    site.put("callflows", {"numbers": ["2200"], "flow": {"module": "echo", "data": {}}})
    server = site.server
    assert server.proc is not None

    async def scenario() -> list[int]:
        caller = await Phone(server.sip_port).start()
        try:
            caller.call_id = call_id_owned_by(1)
            caller.say_pcm(tone(CALLER_HZ, 8))
            assert (await caller.call("2200")).status == 200
            node = site.api.get("/v2/nodes").json()["node"]  # the node whose API answers: this serve
            drained = await asyncio.to_thread(site.api.post, f"/v2/nodes/{node}/drain")
            assert drained.status_code == 202, drained.text
            refused = []
            for worker in (0, 1):  # new calls: 503 whichever worker owns them
                late = await Phone(server.sip_port).start()
                late.call_id = call_id_owned_by(worker)
                deadline = time.monotonic() + 5  # the supervisor's word reaches worker 1 a moment later
                while (status := (await late.call("2200")).status) == 200 and time.monotonic() < deadline:
                    await late.hangup()
                    late.call_id, late.to_tag = call_id_owned_by(worker), None
                refused.append(status)
                late.close()
            heard = len(caller.received.frames)
            await asyncio.sleep(0.5)
            assert len(caller.received.frames) > heard  # the call on worker 1 goes on
            assert (await caller.hangup()).status == 200
            return refused
        finally:
            caller.close()

    assert asyncio.run(scenario()) == [503, 503]
    assert server.proc.wait(20) == 0  # every worker drained, then the supervisor ended


def _spawned_worker(supervisor: int) -> int | None:
    """The pid of a worker process the supervisor has started (not multiprocessing's resource tracker), if any."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == supervisor and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            return int(stat.parent.name)
    return None


def test_a_drain_that_comes_while_a_worker_is_starting_waits_for_it(tmp_path: Path) -> None:
    """SIGTERM to ``serve --workers 2`` the moment its first worker exists (long before that worker listens for
    signals): the supervisor passes the drain on at once, the worker hears it once it is up, drains, and every
    process exits 0 — a signal at birth does not kill a worker."""
    command = [sys.executable, "-m", "calltape", "serve", "--workers", "2", "--sip", "127.0.0.1:0"]
    command += ["--http", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--api-token", "t" * 32]
    command += ["--rtp-ports", rtp_ports(26000, 26199)]
    serve = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while _spawned_worker(serve.pid) is None:
            assert serve.poll() is None and time.monotonic() < deadline, "no worker was started"
            time.sleep(0.005)
        serve.send_signal(signal.SIGTERM)
        _, errors = serve.communicate(timeout=90)
    finally:
        serve.kill()
    assert serve.returncode == 0, errors[-2000:]
    assert "stopped (exit" not in errors and "did not start" not in errors, errors[-2000:]
