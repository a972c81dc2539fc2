"""Issue 23's store outage, short: PostgreSQL goes away in the middle of a recorded call (a proxy in front of the
machine's real server is cut, so the other tests keep theirs) and stays away past the call's end. The call goes on
to its end, a new one is refused with 503 meanwhile; once the store is back the recording's row is finished and
the file delivered, once, whole — without a restart. ``bench/durability/store_outage.py`` does the same to the
real cluster with 50 calls."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.audio import heard_for, tone, window_hz
from tests.conftest import PG_ADMIN_URL, _pg_admin
from tests.e2e.account import wait_delivered
from tests.e2e.tcp_proxy import TcpProxy
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess

NUMBER = "9400"
NOT_YET_CALLED = "9401"  # the same flow: its number is read from the store at its first call
HZ = 440.0


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own, and its name."""
    name = f"calltape_outage_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _recorded_echo(api: httpx.Client, url: str) -> str:
    """An account whose NUMBER (and NOT_YET_CALLED) records (WAV, to *url*) and echoes; its id."""
    account = api.put("/v2/accounts", json={"data": {"name": "outage", "realm": "outage.test"}}).json()["data"]["id"]
    flow = {"module": "record_call", "data": {"format": "wav", "url": url}, "children": {"_": {"module": "echo"}}}
    numbers = [NUMBER, NOT_YET_CALLED]
    assert api.put(f"/v2/accounts/{account}/callflows", json={"data": {"numbers": numbers, "flow": flow}}).is_success
    return str(account)


def test_a_recording_that_ends_while_the_store_is_down_is_finished_and_delivered_once_it_is_back(
    tmp_path: Path, database: str
) -> None:
    upstream = int(PG_ADMIN_URL.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(upstream).start()
    sink = UploadSink().start()
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}"
    flags = ["--db", url, "--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27000, 27099)]
    server = ServerProcess(tmp_path / "data", [*flags, "--delivery-retry-base", "0.5"]).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10)
    try:
        account = _recorded_echo(api, f"{sink.url}/rec")

        async def call() -> tuple[str, float]:
            phone = await Phone(server.sip_port).start()
            phone.say_pcm(tone(HZ, 30.0))
            try:
                assert (await phone.call(NUMBER)).status == 200
                answered = time.monotonic()
                while heard_for(phone.received.pcm(), HZ) < 1.5:
                    await asyncio.sleep(0.1)
                proxy.cut()  # the store goes away mid-call ...
                late = await Phone(server.sip_port).start()
                try:  # a new call that needs the store cannot be set up meanwhile: 503, to be tried again (elsewhere,
                    # behind an edge); one whose callflow and account were read in the last few seconds would be
                    refused = await late.call(NOT_YET_CALLED)
                    assert refused.status == 503, refused.status
                finally:
                    late.close()
                cached = await Phone(server.sip_port).start()  # its callflow and account were read just now
                cached.say_pcm(tone(HZ, 10.0))
                try:
                    assert (await cached.call(NUMBER)).status == 200
                    while heard_for(cached.received.pcm(), HZ) < 1.0:
                        await asyncio.sleep(0.1)
                    assert (await cached.hangup()).status == 200
                    calls["cached"] = cached.call_id
                finally:
                    cached.close()
                heard = heard_for(phone.received.pcm(), HZ)
                while heard_for(phone.received.pcm(), HZ) < heard + 2.0:  # ... and the call goes on
                    await asyncio.sleep(0.1)
                assert (await phone.hangup()).status == 200
                return phone.call_id, time.monotonic() - answered
            finally:
                phone.close()

        calls: dict[str, str] = {}
        call_id, seconds = asyncio.run(call())
        deadline = time.monotonic() + 10
        while "kept on disk, tried again" not in server.log_path.read_text():  # it ended into the outage
            assert time.monotonic() < deadline, server.log_path.read_text()[-3000:]
            time.sleep(0.1)
        assert sink.uploads == []
        proxy.restore()
        doc = wait_delivered(api, account, call_id, timeout=60)
        cached_doc = wait_delivered(api, account, calls["cached"], timeout=60)  # its row, begun in the outage
        assert cached_doc["duration_ms"] >= 1000 and cached_doc["frames"]["written"] > 0, cached_doc
        time.sleep(1.0)  # nothing more may come
        assert sorted(dict(u.query).get("call_id") for u in sink.uploads) == sorted([call_id, calls["cached"]])
        [upload] = [u for u in sink.uploads if dict(u.query).get("call_id") == call_id]
        pcm, rate, _ = decode(upload.body, "wav")
        assert abs(len(pcm) / rate - seconds) <= 0.25 and abs(doc["duration_ms"] / 1000 - seconds) <= 0.25
        windows = window_hz(np.ascontiguousarray(pcm[:, 0]), rate)  # what the caller said, per 250 ms
        assert sum(abs(hz - HZ) < 20 for hz in windows) >= len(windows) - 2, windows
    finally:
        api.close()
        server.stop()
        sink.stop()
        proxy.close()
