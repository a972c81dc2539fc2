"""Recordings are never lost (issue 8): a failing receiver, a receiver down across a restart, ``kill -9``.

Each test runs its own ``calltape serve`` (so it can stop and restart it on the same data dir) and a
real HTTP receiver; uploads are decoded and checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from calltape.manifest import from_header, problems
from tests.e2e.sipp_runner import free_port
from tests.e2e.test_recording import CALLER_HZ, channel_hz, tone
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess

ARGS = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(26800, 26899), "--delivery-retry-base", "0.2"]


class Node:
    """A calltape serve on a data dir that survives restarts, with one account."""

    def __init__(self, data_dir: Path, args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.args = [*ARGS, *args]
        self.server = ServerProcess(data_dir, self.args).start()
        self.api = self._client()
        realm = f"d{uuid.uuid4().hex[:6]}.example.com"
        r = self.api.put("/v2/accounts", json={"data": {"name": "D", "realm": realm}})
        self.account_id = str(r.json()["data"]["id"])

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)

    def restart(self) -> None:
        self.api.close()
        self.server.stop()
        self.server = ServerProcess(self.data_dir, self.args).start()
        self.api = self._client()

    def callflow(self, url: str) -> str:
        number = str(6000 + uuid.uuid4().int % 1000)
        flow = {"module": "record_call", "data": {"url": url}, "children": {"_": {"module": "echo", "data": {}}}}
        r = self.api.put(
            f"/v2/accounts/{self.account_id}/callflows", json={"data": {"numbers": [number], "flow": flow}}
        )
        assert r.status_code == 201, r.text
        return number

    def recording(self, call_id: str) -> dict[str, Any]:
        r = self.api.get(f"/v2/accounts/{self.account_id}/recordings", params={"call_id": call_id})
        assert r.status_code == 200, r.text
        [doc] = r.json()["data"]
        return dict(doc)

    def wait_state(self, call_id: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (doc := self.recording(call_id))["state"] != state:
            assert time.monotonic() < deadline, f"still {doc['state']}: {doc}"
            time.sleep(0.1)
        return doc

    def close(self) -> None:
        self.api.close()
        self.server.stop()
        assert "Traceback" not in self.server.log_path.read_text(errors="replace")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "calltape")
    yield n
    n.close()


async def _call(sip_port: int, number: str, seconds: float, hang_up: bool = True) -> tuple[str, Phone]:
    caller = await Phone(sip_port).start()
    caller.say_pcm(tone(CALLER_HZ, seconds + 5))
    assert (await caller.call(number)).status == 200
    await asyncio.sleep(seconds)
    if hang_up:
        await caller.hangup()
        caller.close()
    return caller.call_id, caller


def test_a_receiver_that_fails_three_times_gets_the_file_exactly_once(node: Node) -> None:
    sink = UploadSink(fail_first=3).start()
    try:
        number = node.callflow(f"{sink.url}/r")
        call_id, _ = asyncio.run(_call(node.server.sip_port, number, 2.0))
        doc = node.wait_state(call_id, "delivered")
        time.sleep(1.0)  # nothing more may come
        assert len(sink.attempts) == 4 and len(sink.uploads) == 1
        assert doc["attempts"] == 4 and doc["last_error"] == ""
        assert [a.body for a in sink.attempts] == [sink.uploads[0].body] * 4  # the whole file every time
        log = node.server.log_path.read_text()
        assert log.count("HTTP 503") >= 3 and call_id in log
        metrics = httpx.get(f"{node.server.api_url}/metrics").text
        assert "calltape_recording_delivery_failures_total 3.0" in metrics
        assert 'calltape_recordings{state="delivered"} 1.0' in metrics
    finally:
        sink.stop()


def test_at_its_horizon_a_recording_is_failed_kept_visible_and_retried_on_request(tmp_path: Path) -> None:
    """Retried 0.2 s apart five times (Kazoo's five tries, on a short clock); the first round would wait 2.4 s,
    past the 2 s horizon: only then is it failed."""
    node = Node(tmp_path / "calltape", ("--delivery-horizon", "2"))
    sink = UploadSink(fail_first=6).start()  # every quick try fails, and the first try asked for later
    try:
        r = node.api.patch("/v2/system_configs/media", json={"data": {"call_recording": {"storage_retry_times": 3}}})
        assert r.status_code == 200, r.text
        number = node.callflow(f"{sink.url}/f")
        call_id, _ = asyncio.run(_call(node.server.sip_port, number, 1.5))
        doc = node.wait_state(call_id, "failed")
        assert doc["attempts"] == 5 and "HTTP 503" in doc["last_error"]
        assert Path(doc["spool_path"]).exists()  # kept
        assert 'calltape_recordings{state="failed"} 1.0' in httpx.get(f"{node.server.api_url}/metrics").text
        assert "not delivered after 5 attempts" in node.server.log_path.read_text()
        audio = node.api.get(f"/v2/accounts/{node.account_id}/recordings/{doc['id']}", params={"accept": "audio/mpeg"})
        assert audio.status_code == 200 and audio.content == Path(doc["spool_path"]).read_bytes()
        hung_up = doc["start"] - 62167219200 + doc["duration_ms"] / 1000
        time.sleep(max(0.0, hung_up + 2.5 - time.time()))  # asked for after the horizon has passed
        retry = node.api.post(f"/v2/accounts/{node.account_id}/recordings/{doc['id']}/retry")
        assert retry.status_code == 202, retry.text
        doc = node.wait_state(call_id, "delivered")  # a fresh round, with its own horizon: tried again at once
        assert len(sink.uploads) == 1 and doc["attempts"] == 2 and doc["retried_at"] > doc["start"] - 62167219200
        again = node.api.post(f"/v2/accounts/{node.account_id}/recordings/{doc['id']}/retry")
        assert again.status_code == 409  # only a failed delivery can be retried
    finally:
        sink.stop()
        node.close()


def test_a_receiver_down_while_calltape_restarts_still_gets_the_recording(node: Node) -> None:
    port = free_port()
    number = node.callflow(f"http://127.0.0.1:{port}/late")
    call_id, _ = asyncio.run(_call(node.server.sip_port, number, 2.0))
    deadline = time.monotonic() + 10
    while node.recording(call_id)["attempts"] < 1:  # it tried, and failed: nobody listens
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "Cannot connect to host" in node.recording(call_id)["last_error"]
    node.restart()
    sink = UploadSink(port=port).start()
    try:
        doc = node.wait_state(call_id, "delivered")
        [upload] = sink.wait(1)
        pcm, rate, _ = decode(upload.body, "mp3")
        assert abs(len(pcm) / rate - doc["duration_ms"] / 1000) <= 0.1
        assert doc["attempts"] >= 2
        assert not Path(doc["spool_path"]).exists()  # deleted once delivered
    finally:
        sink.stop()


def test_kill_9_mid_call_leaves_a_recording_that_the_next_start_delivers(node: Node) -> None:
    sink = UploadSink().start()
    try:
        number = node.callflow(f"{sink.url}/crash")

        async def call_then_kill() -> str:
            call_id, caller = await _call(node.server.sip_port, number, 3.5, hang_up=False)
            assert node.server.proc is not None
            node.server.proc.send_signal(signal.SIGKILL)
            node.server.proc.wait()
            caller.close()
            return call_id

        call_id = asyncio.run(call_then_kill())
        node.restart()
        doc = node.wait_state(call_id, "delivered")
        [upload] = sink.wait(1)
        assert doc["recovered"] is True
        pcm, rate, channels = decode(upload.body, "mp3")
        assert channels == 2
        duration = len(pcm) / rate
        assert abs(duration - doc["duration_ms"] / 1000) <= 0.1  # its real duration
        assert 2.0 <= duration <= 3.6  # what reached the disk: all but the last second at most
        assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15
        assert "recovered" in node.server.log_path.read_text()
        frames = doc["frames"]  # encoded afresh from the capture the killed process left
        assert frames["written"] >= 2 * 50 * 2.0 and frames["received"] == frames["written"]
        assert not Path(doc["spool_path"]).with_suffix(".capture").exists()
        manifest = from_header(upload.headers["x-calltape-manifest"])  # signed at the restart, sent with the file
        assert manifest == {k: v for k, v in doc["manifest"].items() if k != "metadata_json"}
        assert json.loads(doc["manifest"]["metadata_json"])["recovered"] is True
        received = node.server.data_dir / "received.mp3"
        received.write_bytes(upload.body)
        assert problems(manifest, received) == []
    finally:
        sink.stop()


def test_a_redirect_is_followed_with_the_whole_file_and_post_is_used_when_asked(node: Node) -> None:
    sink = UploadSink(redirect_to="/moved/here").start()
    try:
        number = str(6000 + uuid.uuid4().int % 1000)
        data = {"url": f"{sink.url}/first", "method": "post"}
        flow = {"module": "record_call", "data": data, "children": {"_": {"module": "echo", "data": {}}}}
        body = {"data": {"numbers": [number], "flow": flow}}
        assert node.api.put(f"/v2/accounts/{node.account_id}/callflows", json=body).status_code == 201
        call_id, _ = asyncio.run(_call(node.server.sip_port, number, 1.5))
        doc = node.wait_state(call_id, "delivered")
        [first, moved] = sink.attempts
        assert first.path.startswith("/first/") and moved.path == "/moved/here"
        assert first.method == moved.method == "POST" and first.body == moved.body and moved.body
        assert hashlib.sha256(moved.body).hexdigest() == doc["sha256"]
    finally:
        sink.stop()


def test_a_spool_that_cannot_be_written_leaves_the_call_up_and_says_why(node: Node) -> None:
    sink = UploadSink().start()
    blocker = node.data_dir / "spool" / node.account_id
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")  # the account's spool directory cannot be made
    try:
        number = node.callflow(f"{sink.url}/blocked")

        async def call() -> tuple[str, int]:
            caller = await Phone(node.server.sip_port).start()
            try:
                caller.say_pcm(tone(CALLER_HZ, 4))
                assert (await caller.call(number)).status == 200
                await asyncio.sleep(1.5)
                await caller.hangup()
                return caller.call_id, len(caller.received.frames)
            finally:
                caller.close()

        call_id, echoed = asyncio.run(call())
        assert echoed > 50  # the echo ran: the call went on without its recording
        log = node.server.log_path.read_text()
        assert f"call-id {call_id}: recording not made: cannot start" in log
        blocker.unlink()
        call_id, _ = asyncio.run(_call(node.server.sip_port, number, 1.0))
        node.wait_state(call_id, "delivered")  # once the disk is writable again, recordings are made
    finally:
        sink.stop()


def test_a_clean_stop_mid_call_finishes_the_recording_and_the_next_start_delivers_it(node: Node) -> None:
    port = free_port()
    number = node.callflow(f"http://127.0.0.1:{port}/stop")  # the receiver is down until after the restart

    async def call_then_stop() -> str:
        call_id, caller = await _call(node.server.sip_port, number, 2.5, hang_up=False)
        await asyncio.to_thread(node.server.stop)  # SIGINT: the call is hung up, its recording finished
        caller.close()
        return call_id

    call_id = asyncio.run(call_then_stop())
    sink = UploadSink(port=port).start()
    try:
        node.restart()
        doc = node.wait_state(call_id, "delivered")
        assert "recovered" not in doc  # finished at the stop, not repaired at the start
        [upload] = sink.wait(1)
        pcm, rate, _ = decode(upload.body, "mp3")
        assert 2.3 <= len(pcm) / rate <= 3.5 and abs(len(pcm) / rate - doc["duration_ms"] / 1000) <= 0.1
    finally:
        sink.stop()


def test_health_says_what_is_wrong_when_the_spool_cannot_be_written(node: Node) -> None:
    ok = httpx.get(f"{node.server.api_url}/health")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert set(ok.json()["checks"]) == {"store", "spool", "disk", "loop"}
    spool = node.data_dir / "spool"
    spool.rename(node.data_dir / "spool.away")
    spool.write_text("not a directory")
    try:
        failing = httpx.get(f"{node.server.api_url}/health")
        assert failing.status_code == 503 and failing.json()["status"] == "failing"
        checks = failing.json()["checks"]
        assert checks["spool"]["ok"] is False and "spool" in checks["spool"]["error"]
        assert checks["store"]["ok"] is True
    finally:
        spool.unlink()
        (node.data_dir / "spool.away").rename(spool)
    assert httpx.get(f"{node.server.api_url}/health").status_code == 200


def test_a_receiver_down_for_half_an_hour_on_a_short_clock_gets_the_file_exactly_once(tmp_path: Path) -> None:
    """Every wait scaled by 1/500 (retry base 0.01 s): five quick tries, then rounds 0.12 s to 1.2 s apart, then
    7.2 s ("hourly"). The receiver is down for 3.6 s ("half an hour") and then takes the file: once."""
    node = Node(tmp_path / "calltape", ("--delivery-retry-base", "0.01"))
    port = free_port()
    try:
        number = node.callflow(f"http://127.0.0.1:{port}/down")
        call_id, _ = asyncio.run(_call(node.server.sip_port, number, 1.0))
        down_until = time.monotonic() + 3.6
        deadline = down_until + 10
        while node.recording(call_id)["attempts"] < 6:  # the quick tries are over: it is in its rounds
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(max(0.0, down_until - time.monotonic()))
        assert node.recording(call_id)["state"] == "pending"  # still going, not failed, after "half an hour"
        sink = UploadSink(port=port).start()
        try:
            doc = node.wait_state(call_id, "delivered")
            time.sleep(1.0)  # nothing more may come
            [upload] = sink.uploads
            assert len(sink.attempts) == 1 and doc["attempts"] >= 7
            pcm, rate, _ = decode(upload.body, "mp3")
            assert abs(len(pcm) / rate - doc["duration_ms"] / 1000) <= 0.1
        finally:
            sink.stop()
    finally:
        node.close()


def _signed(secret: str, upload: Any) -> bool:
    """The X-Calltape-Signature checked as a receiver would: HMAC-SHA256 of "<t>." + the raw body."""
    fields = dict(part.split("=", 1) for part in upload.headers["x-calltape-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + upload.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(fields["v1"], expected)


def test_webhooks_say_started_completed_delivered_signed_in_order_once_across_a_restart(node: Node) -> None:
    """Issue 22: the account's recording_webhooks get each event of a recording, in order, exactly once, though the
    webhook receiver was down while the recording was made and calltape restarted before it came up."""
    hook_port, secret = free_port(socket.SOCK_STREAM), f"whsec_{uuid.uuid4().hex}"
    hook = {"url": f"http://127.0.0.1:{hook_port}/hooks", "secret": secret}
    r = node.api.patch(f"/v2/accounts/{node.account_id}", json={"data": {"recording_webhooks": [hook]}})
    assert r.status_code == 200, r.text
    [shown] = node.api.get(f"/v2/accounts/{node.account_id}").json()["data"]["recording_webhooks"]
    assert shown == {**hook, "secret": "********"}  # never shown; sent back as shown, the secret is kept:
    r = node.api.patch(f"/v2/accounts/{node.account_id}", json={"data": {"name": "D2", "recording_webhooks": [shown]}})
    assert r.status_code == 200, r.text
    sink = UploadSink().start()
    hooks = UploadSink(port=hook_port)
    try:
        number = node.callflow(f"{sink.url}/r")  # the account's first recording: its webhooks are read now
        call_id, _ = asyncio.run(_call(node.server.sip_port, number, 2.0))
        recording = node.wait_state(call_id, "delivered")
        events = f"/v2/accounts/{node.account_id}/webhook_events"
        deadline = time.monotonic() + 10
        while not (tried := node.api.get(events).json()["data"]) or tried[-1]["attempts"] < 1:
            assert time.monotonic() < deadline, tried
            time.sleep(0.1)
        assert "Cannot connect to host" in tried[-1]["error"] and all(e["state"] == "pending" for e in tried)
        node.restart()
        hooks.start()
        posts = hooks.wait(3)
        time.sleep(1.0)  # nothing more may come
        assert [p.headers["x-calltape-event"] for p in hooks.uploads] == [
            "recording.started",
            "recording.completed",
            "recording.delivered",
        ]
        bodies = [json.loads(p.body) for p in posts]
        assert all(_signed(secret, p) for p in posts) and not _signed("another-secret-123", posts[0])
        assert [p.headers["idempotency-key"] for p in posts] == [b["id"] for b in bodies]
        assert {b["recording_id"] for b in bodies} == {recording["id"]}
        assert [b["data"]["state"] for b in bodies] == ["recording", "pending", "delivered"]
        assert bodies[2]["data"]["duration_ms"] == recording["duration_ms"]
        logged = node.api.get(events, params={"recording_id": recording["id"]}).json()["data"]
        assert [e["state"] for e in logged] == ["sent"] * 3 and "secret" not in logged[0]
    finally:
        sink.stop()
        hooks.stop()
