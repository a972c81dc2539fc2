"""Every INVITE gets a final response in bounded time, even when the store is stuck (issue 11, fault 5).

The test holds an exclusive lock on the callflow number index of a real PostgreSQL, so every lookup
blocks: an INVITE then gets 503 with Retry-After after the set-up bound, a flood beyond the set-up
limit gets 503 at once, and once the lock goes, calls are answered again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from calltape.frontdoor.calls import MAX_SETUPS, SETUP_TIMEOUT
from tests.phone import Phone
from tests.server import TOKEN, ServerProcess
from tests.sipclient import UdpSipClient


def _invite(client: UdpSipClient, number: str) -> bytes:
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
    return (
        f"INVITE sip:{number}@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{client.port};rport;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:flood@127.0.0.1>;tag=f\r\nTo: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 INVITE\r\nContact: <sip:flood@127.0.0.1:{client.port}>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def _finals(client: UdpSipClient, count: int, timeout: float) -> dict[str, tuple[int, str, float]]:
    """Call-ID → (status, Retry-After, seconds) of the first final response to each of *count* INVITEs."""
    started = time.monotonic()
    finals: dict[str, tuple[int, str, float]] = {}
    while len(finals) < count and (response := client.recv(max(0.1, started + timeout - time.monotonic()))):
        if response.status >= 200 and response.call_id not in finals:
            finals[response.call_id] = (
                response.status,
                response.headers.get("Retry-After") or "",
                time.monotonic() - started,
            )
    return finals


def test_a_stuck_store_gets_503_in_bounded_time_and_a_flood_is_shed(tmp_path: Path, fresh_pg_url: str) -> None:
    server = ServerProcess(tmp_path / "data", ["--db", fresh_pg_url, "--trusted-networks", "127.0.0.1/32"]).start()
    try:
        with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
            account = api.put("/v2/accounts", json={"data": {"name": "o", "realm": "o.example.com"}}).json()
            flow = {"numbers": ["800"], "flow": {"module": "echo", "data": {"duration": 1}}}
            api.put(f"/v2/accounts/{account['data']['id']}/callflows", json={"data": flow}).raise_for_status()

        async def with_the_store_locked() -> dict[str, tuple[int, str, float]]:
            conn = await asyncpg.connect(fresh_pg_url)
            try:
                async with conn.transaction():
                    await conn.execute("LOCK TABLE account_numbers IN ACCESS EXCLUSIVE MODE")
                    client = UdpSipClient()
                    try:
                        for i in range(MAX_SETUPS + 20):  # numbers nobody looked up yet: no cache can answer
                            client.send(_invite(client, f"9{i:04d}"), server.sip_port)
                        return await asyncio.to_thread(_finals, client, MAX_SETUPS + 20, SETUP_TIMEOUT + 10)
                    finally:
                        client.close()
            finally:
                await conn.close()

        finals = asyncio.run(with_the_store_locked())
        assert len(finals) == MAX_SETUPS + 20  # every INVITE got a final response
        shed = [f for f in finals.values() if f[2] < 1.0]
        assert len(shed) >= 20 and all(status == 503 and retry for status, retry, _ in shed)
        timed_out = [f for f in finals.values() if f[2] >= 1.0]
        assert all(status == 503 and retry and at < SETUP_TIMEOUT + 5 for status, retry, at in timed_out)

        async def call_after() -> int:
            phone = await Phone(server.sip_port).start()
            try:
                return (await phone.call("800")).status
            finally:
                phone.close()

        assert asyncio.run(call_after()) == 200  # the store is free again: calls are answered
        assert "Traceback" not in server.log_path.read_text(errors="replace")
    finally:
        server.stop()
