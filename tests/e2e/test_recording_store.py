"""Recordings without a url (issue 8): ``store_recordings`` true keeps the audio in the database — a blob on
SQLite, bytea on PostgreSQL — served back by the recordings API (with Range); false stores nothing and says so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, _pg_admin
from tests.e2e.test_recording import CALLER_HZ, channel_hz, echo_call
from tests.e2e.upload_sink import UploadSink, decode
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess


class Store:
    """The bits of the recording rig these tests use (see test_recording.Rig)."""

    def __init__(self, server: ServerProcess, api: httpx.Client, account_id: str) -> None:
        self.server, self.api, self.account_id = server, api, account_id
        self.sink = UploadSink()

    def callflow(self, flow: dict[str, Any]) -> str:
        number = str(4000 + uuid.uuid4().int % 1000)
        r = self.api.put(
            f"/v2/accounts/{self.account_id}/callflows", json={"data": {"numbers": [number], "flow": flow}}
        )
        assert r.status_code == 201, r.text
        return number

    def recordings(self, call_id: str) -> list[dict[str, Any]]:
        r = self.api.get(f"/v2/accounts/{self.account_id}/recordings", params={"call_id": call_id})
        return list(r.json()["data"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(26900, 26999)]
    name = f"calltape_test_{uuid.uuid4().hex[:10]}"
    if request.param == "postgresql":
        _pg_admin(f'CREATE DATABASE "{name}"')
        args += ["--db", f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"]
    server = ServerProcess(tmp_path_factory.mktemp(f"store-{request.param}"), args).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    realm = f"s{uuid.uuid4().hex[:6]}.example.com"
    account = api.put("/v2/accounts", json={"data": {"name": "S", "realm": realm}}).json()["data"]["id"]
    yield Store(server, api, account)
    api.close()
    server.stop()
    if request.param == "postgresql":
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def _set_store_recordings(store: Store, value: bool) -> None:
    r = store.api.patch("/v2/system_configs/media", json={"data": {"store_recordings": value}})
    assert r.status_code == 200, r.text


def test_store_recordings_true_keeps_the_audio_in_the_database(store: Store) -> None:
    _set_store_recordings(store, True)
    number = store.callflow(
        {"module": "record_call", "data": {"format": "mp3"}, "children": {"_": {"module": "echo", "data": {}}}}
    )
    call_id, seconds = asyncio.run(echo_call(store, number, 2.0))
    deadline = time.monotonic() + 20
    while not (found := store.recordings(call_id)) or found[0]["state"] != "stored":
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    doc = found[0]
    item = f"/v2/accounts/{store.account_id}/recordings/{doc['id']}"
    audio = store.api.get(item, params={"accept": "audio/mpeg"})
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert audio.headers["content-disposition"].startswith("attachment")
    pcm, rate, _ = decode(audio.content, "mp3")
    assert abs(len(pcm) / rate - seconds) <= 0.1
    assert abs(channel_hz(pcm[:, 0], rate) - CALLER_HZ) < 15
    part = store.api.get(item, headers={"Accept": "audio/mpeg", "Range": "bytes=100-199"}, params={"inline": "true"})
    assert part.status_code == 206 and part.content == audio.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(audio.content)}"
    assert part.headers["content-disposition"].startswith("inline")
    assert store.api.delete(item).status_code == 200
    assert store.api.get(item).status_code == 404


def test_store_recordings_false_stores_nothing_and_the_log_says_so(store: Store) -> None:
    _set_store_recordings(store, False)
    number = store.callflow({"module": "record_call", "data": {}, "children": {"_": {"module": "echo", "data": {}}}})
    call_id, _ = asyncio.run(echo_call(store, number, 1.0))
    time.sleep(0.5)
    assert store.recordings(call_id) == []
    lines = [line for line in store.server.log_path.read_text().splitlines() if call_id in line]
    assert sum("recording not made" in line for line in lines) == 1
