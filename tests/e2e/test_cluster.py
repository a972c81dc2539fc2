"""``calltape cluster`` run as a user would: Kamailio in front of two nodes sharing a PostgreSQL, the demo's account
provisioned; a phone registers through the edge with the password it printed, places a recorded call, and the
recording is delivered; Ctrl-C drains and stops everything (exit 0)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.sipp_runner import free_port
from tests.phone import Phone


def _read_until_up(cluster: subprocess.Popen[str], timeout: float = 90.0) -> str:
    assert cluster.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = cluster.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "cluster up" in line:
            return "".join(lines)
    raise AssertionError(f"the cluster did not come up: {''.join(lines)}")


def test_a_phone_registers_through_the_local_clusters_edge_and_its_call_is_recorded(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "calltape", "cluster", "--nodes", "2", "--db", fresh_pg_url]
    command += ["--sip", f"127.0.0.1:{port}", "--dir", str(tmp_path / "cluster")]
    cluster = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said = _read_until_up(cluster)
        password, realm = re.search(r"user ada, password (\S+), domain (\S+)", said).groups()  # type: ignore[union-attr]
        number = re.search(r"dial (\d+): seed 1", said).group(1)  # type: ignore[union-attr]
        token = re.search(r"API token (\S+)", said).group(1)  # type: ignore[union-attr]
        second_api = re.search(r"node-2: SIP \S+, API (\S+)", said).group(1)  # type: ignore[union-attr]
        assert f"edge (Kamailio) at sip:127.0.0.1:{port}" in said

        async def call() -> str:
            phone = await Phone(port, user="ada", realm=realm, password=password).start()
            try:
                assert (await phone.register(password)).status == 200
                assert (await phone.call(number)).status == 200
                await asyncio.sleep(1.5)
                assert (await phone.hangup()).status == 200
                return phone.call_id
            finally:
                phone.close()

        call_id = asyncio.run(call())
        api = httpx.Client(base_url=second_api, headers={"X-Auth-Token": token}, timeout=30)  # any node's API
        [account] = [a["id"] for a in api.get("/v2/accounts").json()["data"] if a.get("realm") == realm]
        deadline = time.monotonic() + 30
        while (
            docs := api.get(f"/v2/accounts/{account}/recordings", params={"call_id": call_id}).json()["data"]
        ) == [] or docs[0]["state"] != "delivered":
            assert time.monotonic() < deadline, docs
            time.sleep(0.3)
        assert 1.2 <= docs[0]["duration_ms"] / 1000 <= 2.5
        nodes = {node["id"]: node["up"] for node in api.get("/v2/nodes").json()["data"]}
        assert nodes == {"node-1": True, "node-2": True}
        api.close()
        cluster.send_signal(signal.SIGINT)
        assert cluster.wait(60) == 0
    finally:
        if cluster.poll() is None:
            cluster.kill()
            cluster.wait()
