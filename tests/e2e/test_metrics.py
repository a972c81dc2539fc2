"""``GET /metrics`` of a running server while real phones register and call: values go up and down as they should."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.account import Account, running
from tests.e2e.test_recording import CALLER_HZ, tone
from tests.e2e.upload_sink import UploadSink
from tests.phone import Phone
from tests.ports import rtp_ports

ARGS = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27200, 27299), "--delivery-retry-base", "0.2"]
PASSWORD = "metrics-secret-1"


def parse(text: str) -> dict[str, float]:
    """Prometheus text as {'name{labels}': value}; every sample's family is declared first."""
    declared: set[str] = set()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.add(line.split()[2])
        elif line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            name = key.split("{", 1)[0]
            assert any(name == d or name.startswith(d + "_") for d in declared), f"{name} has no TYPE line"
            samples[key] = float(value)
    return samples


class Node(Account):
    def metrics(self) -> dict[str, float]:
        r = httpx.get(f"{self.server.api_url}/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return parse(r.text)

    def wait_metric(self, key: str, value: float, timeout: float = 10.0) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while (m := self.metrics()).get(key) != value:
            assert time.monotonic() < deadline, f"{key} is {m.get(key)}, not {value}"
            time.sleep(0.05)
        return m


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running(tmp_path / "calltape", ARGS, "M", Node) as n:
        n.device("desk", password=PASSWORD)
        yield n


def test_calls_legs_registrations_packets_and_deliveries_are_counted(node: Node) -> None:
    sink = UploadSink().start()
    try:
        flow = {"module": "record_call", "data": {"url": f"{sink.url}/m"}, "children": {"_": {"module": "echo"}}}
        number = node.callflow(flow)
        before = node.metrics()
        assert before["calltape_calls_active"] == 0 and before["calltape_registrations"] == 0
        assert before["calltape_rtp_packets_received_total"] == 0

        async def scenario() -> tuple[dict[str, float], str]:
            desk = await Phone(node.server.sip_port, user="desk", realm=node.realm).start()
            caller = await Phone(node.server.sip_port).start()
            try:
                assert (await desk.register(PASSWORD)).status == 200
                caller.say_pcm(tone(CALLER_HZ, 8))
                assert (await caller.call(number)).status == 200
                deadline = time.monotonic() + 10
                while (during := await asyncio.to_thread(node.metrics))["calltape_rtp_packets_received_total"] < 25:
                    assert time.monotonic() < deadline, "no RTP counted during the call"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # the call goes on: a second more to record
                await caller.hangup()
                return during, caller.call_id
            finally:
                caller.close()
                desk.close()

        during, call_id = asyncio.run(scenario())
        assert during["calltape_calls_active"] == 1 and during["calltape_legs_active"] == 1
        assert during["calltape_rtp_sessions_active"] == 1 and during["calltape_registrations"] == 1
        assert during["calltape_recordings_active"] == 1
        assert during['calltape_recordings{state="recording"}'] == 1

        after = node.wait_metric("calltape_calls_active", 0)
        assert after["calltape_legs_active"] == 0 and after["calltape_rtp_sessions_active"] == 0
        assert after["calltape_rtp_packets_received_total"] >= during["calltape_rtp_packets_received_total"] + 25
        assert after["calltape_rtp_packets_sent_total"] > 50  # the echo (kept after the session ended)
        assert after["calltape_rtp_packets_lost_total"] == 0
        assert after["calltape_registrations"] == 1  # still bound (expires in 300 s)

        [upload] = sink.wait(1)
        done = node.wait_metric('calltape_recording_delivery_attempts_total{outcome="delivered"}', 1)
        assert done["calltape_recording_deliveries_total"] == 1
        assert done['calltape_recordings{state="delivered"}'] == 1
        assert done["calltape_recording_delivery_latency_seconds_count"] == 1
        assert done['calltape_recording_delivery_latency_seconds_bucket{le="+Inf"}'] == 1
        assert done['calltape_recording_delivery_latency_seconds_bucket{le="30.0"}'] == 1  # hangup→delivered
        assert 0 <= done["calltape_recording_delivery_latency_seconds_sum"] < 30  # never negative (a fast delivery: ~0)
        assert done["calltape_recording_outbox_depth"] == 0 and done["calltape_recording_spool_bytes"] == 0
        assert 0 <= done["calltape_event_loop_lag_seconds"] <= done["calltape_event_loop_lag_max_seconds"] < 0.5
        assert call_id in upload.path
    finally:
        sink.stop()


def test_spool_bytes_count_what_waits_on_disk(node: Node) -> None:
    port_nobody_listens = UploadSink().start()
    url = port_nobody_listens.url
    port_nobody_listens.stop()  # connection refused: the recording stays in the spool
    number = node.callflow(
        {"module": "record_call", "data": {"url": f"{url}/x"}, "children": {"_": {"module": "echo"}}}
    )

    async def call() -> str:
        caller = await Phone(node.server.sip_port).start()
        try:
            caller.say_pcm(tone(CALLER_HZ, 5))
            assert (await caller.call(number)).status == 200
            await asyncio.sleep(1.5)
            await caller.hangup()
            return caller.call_id
        finally:
            caller.close()

    call_id = asyncio.run(call())
    deadline = time.monotonic() + 10
    while (m := node.metrics())["calltape_recording_delivery_failures_total"] < 1:
        assert time.monotonic() < deadline, "no failed attempt"
        time.sleep(0.05)
    [doc] = node.api.get(f"/v2/accounts/{node.account_id}/recordings", params={"call_id": call_id}).json()["data"]
    assert m["calltape_recording_spool_bytes"] == Path(doc["spool_path"]).stat().st_size > 0
