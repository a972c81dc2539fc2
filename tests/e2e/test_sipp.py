"""SIPp against a running calltape: REGISTER with digest, OPTIONS, INVITE → 404; UDP, TCP and 10 % loss."""

from __future__ import annotations

import audioop
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.e2e.sipp_runner import free_port, run_sipp
from tests.server import TOKEN, ServerProcess

USER, PASSWORD = "alice", "sipp-secret-1"


@pytest.fixture(scope="module")
def sipp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A server challenging with MD5 only: SIPp 3.6.1 answers only MD5 and only the first challenge."""
    tmp = tmp_path_factory.mktemp("sipp")
    server = ServerProcess(tmp / "data", ["--digest-algorithms", "MD5", "--trusted-networks", "127.0.0.1/32"]).start()
    realm = f"r{uuid.uuid4().hex[:8]}.example.com"
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.post("/v2/accounts", json={"data": {"name": "SIPp", "realm": realm}}).json()["data"]["id"]
        doc = {"name": "sipp", "sip": {"username": USER, "password": PASSWORD}}
        assert api.post(f"/v2/accounts/{account}/devices", json={"data": doc}).status_code == 201
    (tmp / "users.csv").write_text(f"SEQUENTIAL\n{USER};{realm}\n")
    yield server, tmp
    server.stop()


def _extra(scenario: str, tmp: Path) -> list[str]:
    if scenario == "register_auth":
        return ["-inf", str(tmp / "users.csv"), "-au", USER, "-ap", PASSWORD]
    return []


@pytest.mark.parametrize("transport", ["u1", "t1"])
@pytest.mark.parametrize("scenario", ["register_auth", "options", "invite_404"])
def test_sipp_scenario(sipp_server: tuple[ServerProcess, Path], scenario: str, transport: str) -> None:
    server, tmp = sipp_server
    result = run_sipp(scenario, server.sip_port, tmp, calls=20, transport=transport, extra=_extra(scenario, tmp))
    assert result.returncode == 0, result.errors[-2000:] or result.output[-2000:]
    assert (result.successful, result.failed) == (20, 0)
    assert server.alive()


@pytest.mark.parametrize("scenario", ["register_auth", "options", "invite_404"])
def test_sipp_with_ten_percent_loss(sipp_server: tuple[ServerProcess, Path], scenario: str) -> None:
    """UDP with 10 % of messages dropped both ways: retransmissions must save every transaction."""
    server, tmp = sipp_server
    result = run_sipp(scenario, server.sip_port, tmp, calls=40, rate=40, extra=[*_extra(scenario, tmp), "-lost", "10"])
    assert result.returncode == 0, result.errors[-2000:] or result.output[-2000:]
    assert (result.successful, result.failed) == (40, 0)


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_sipp_caller_hears_say_and_gets_bye(sipp_server: tuple[ServerProcess, Path], transport: str) -> None:
    """SIPp dials a say callflow, streams a µ-law tone at it, and is hung up on when the speech ends."""
    server, tmp = sipp_server
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.get("/v2/accounts").json()["data"][0]["id"]
        flow = {"numbers": ["7770"], "flow": {"module": "say", "data": {"text": "Hello from calltape"}}}
        if not any(
            "7770" in cf.get("numbers", []) for cf in api.get(f"/v2/accounts/{account}/callflows").json()["data"]
        ):
            assert api.put(f"/v2/accounts/{account}/callflows", json={"data": flow}).status_code == 201
    t = np.arange(8000 * 3) / 8000
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    (tmp / "tone.ulaw").write_bytes(audioop.lin2ulaw(pcm, 2))
    result = run_sipp(
        "call_until_bye",
        server.sip_port,
        tmp,
        calls=5,
        rate=5,
        transport=transport,
        extra=["-s", "7770", "-mi", "127.0.0.1", "-mp", str(free_port())],
        substitutions={"RTP_STREAM": f"{tmp / 'tone.ulaw'},-1,0"},
    )
    assert result.returncode == 0, result.errors[-2000:] or result.output[-2000:]
    assert (result.successful, result.failed) == (5, 0)
    assert "Dead call" not in result.errors  # no stray retransmissions after a call ended
