"""Hostile and broken input against a running server (issue 11): each fault the fuzzing run found stays fixed.

Every test checks what a caller would notice — the status it gets, that calls alongside still carry
audio — and that the server's log holds no traceback.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from calltape.sip.digest import answer_challenge
from tests.audio import dominant_frequency, tone
from tests.e2e.account import Account, running
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.sipclient import UdpSipClient, options

HUGE = "9" * 5000
REALM = "hostile.example.com"
PASSWORD = "hostile-secret-1"
# four even ports: four calls at most, so the test can fill the range
RTP_PORTS = rtp_ports(25700, 25707)


Pbx = Account


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", RTP_PORTS, "--log-level", "info"]
    with running(tmp_path_factory.mktemp("hostile"), args, "hostile", doc={"realm": REALM}) as pbx:
        pbx.device("desk", password=PASSWORD)
        pbx.callflow({"module": "echo", "data": {}}, "700")
        pbx.callflow({"module": "echo", "data": {"duration": 1.5}}, "701")
        yield pbx


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _echo_call(port: int, hz: float = 440.0) -> float:
    """A call to the 1.5 s echo line; the frequency the caller hears back."""
    phone = await Phone(port).start()
    try:
        phone.say_pcm(tone(hz, 3.0))
        response = await phone.call("701")
        assert response.status == 200
        await phone.wait_bye(10)
        return dominant_frequency(phone.received.pcm(0))
    finally:
        phone.close()


def _ipv6_sdp(phone: Phone) -> bytes:
    return phone.sdp().replace(b"c=IN IP4 127.0.0.1", b"c=IN IP6 ::1")


def test_an_ipv6_offer_gets_488_and_other_calls_keep_their_audio(pbx: Pbx) -> None:
    async def scenario() -> tuple[int, str, float]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            response = await phone.call("700", body=_ipv6_sdp(phone))
            return response.status, response.headers.get("Warning") or "", await _echo_call(pbx.server.sip_port)
        finally:
            phone.close()

    status, warning, heard = _run(scenario())  # type: ignore[misc]
    assert status == 488
    assert "IP4 only" in warning and "IP6" in warning
    assert abs(heard - 440) < 20


def test_an_ipv6_answer_in_the_ack_ends_that_call_only(pbx: Pbx) -> None:
    """The original fault: a late-offer call ACKed with c=IN IP6 stopped RTP for every call of the process."""

    async def scenario() -> tuple[int, float, float]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            started = time.monotonic()
            response = await phone.call("700", body=b"", answer_sdp=_ipv6_sdp(phone))
            bye_at = await phone.wait_bye(10)
            return response.status, bye_at - started, await _echo_call(pbx.server.sip_port, 1000.0)
        finally:
            phone.close()

    status, ended_after, heard = _run(scenario())  # type: ignore[misc]
    assert status == 200 and ended_after < 5.0  # hung up at once, not after an RTP timeout
    assert abs(heard - 1000) < 20


def test_huge_numbers_get_400_over_udp_and_close_tcp_cleanly(pbx: Pbx) -> None:
    port = pbx.server.sip_port
    client = UdpSipClient()
    try:
        invite = (
            "INVITE sip:700@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:700@127.0.0.1>\r\n"
            f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:{client.port}>\r\n"
            "Content-Type: application/sdp\r\n"
        )
        sdp = f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {HUGE} RTP/AVP 0\r\n"
        client.send(f"{invite}Content-Length: {len(sdp)}\r\n\r\n{sdp}".encode(), port)
        final = client.recv_final(5.0)
        assert final is not None and final.status == 400 and "m= port" in final.reason  # not 100 Trying forever
    finally:
        client.close()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as tcp:
        message = options(port).replace(b"Content-Length: 0", f"Content-Length: {HUGE}".encode())
        tcp.sendall(message)
        assert tcp.recv(65536) == b""  # the server closes a stream it cannot frame
    with socket.create_connection(("127.0.0.1", port), timeout=5) as tcp:
        tcp.sendall(options(port).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
        assert tcp.recv(65536).startswith(b"SIP/2.0 200 ")
    pbx.assert_no_traceback()


def _register(client: UdpSipClient, port: int, authorization: str | None, user_agent: str = "phone") -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"REGISTER sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bK{uuid.uuid4().hex}"
        f"\r\nMax-Forwards: 70\r\nFrom: <sip:desk@{REALM}>;tag=r1\r\nTo: <sip:desk@{REALM}>\r\n"
        f"Call-ID: reg-{client.port}@127.0.0.1\r\nCSeq: {time.monotonic_ns() % 2**31} REGISTER\r\n"
        f"Contact: <sip:desk@127.0.0.1:{client.port}>\r\nUser-Agent: {user_agent}\r\n{auth}Content-Length: 0\r\n\r\n"
    ).encode("utf-8", "surrogateescape")


def test_bad_utf8_never_reaches_hashing_or_the_database(pbx: Pbx) -> None:
    port = pbx.server.sip_port
    client = UdpSipClient()
    try:
        client.send(_register(client, port, None), port)
        challenge = client.recv_final()
        assert challenge is not None and challenge.status == 401
        www = challenge.headers.get_lines("WWW-Authenticate")[-1]
        bad_user = 'Digest username="de\udcffsk", realm="{}", nonce="x", uri="sip:{}", response="0", nc=00000001, '
        client.send(_register(client, port, bad_user.format(REALM, REALM) + 'cnonce="c", qop=auth'), port)
        refused = client.recv_final()
        assert refused is not None and refused.status == 401
        good = answer_challenge(www, "REGISTER", f"sip:{REALM}", "desk", PASSWORD)
        client.send(_register(client, port, good, user_agent="Phone \udcff\udcfe v1"), port)
        ok = client.recv_final()
        assert ok is not None and ok.status == 200  # stored, with U+FFFD where the bytes were not UTF-8
    finally:
        client.close()
    pbx.assert_no_traceback()


def test_a_flood_of_bad_logins_writes_a_few_lines_not_one_per_attempt(pbx: Pbx) -> None:
    port = pbx.server.sip_port
    before = len(pbx.log_text().splitlines())
    client = UdpSipClient("127.0.0.2")
    statuses = []

    def guess(i: int) -> None:
        wrong = f'Digest username="desk", realm="{REALM}", nonce="n{i}", uri="sip:{REALM}", response="0", '
        client.send(_register(client, port, wrong + 'nc=00000001, cnonce="c", qop=auth, algorithm=MD5'), port)

    try:
        for i in range(11):
            guess(i)
            response = client.recv_final()
            assert response is not None
            statuses.append(response.status)
        for i in range(11, 300):  # the rest as fast as it goes: dropped unanswered, but for one a second
            guess(i)
        while (late := client.recv_final(0.5)) is not None:
            statuses.append(late.status)
    finally:
        client.close()
    assert statuses[:10] == [401] * 10 and statuses[10] == 403  # blocked after 10 failures, and told so
    assert len(statuses) <= 11 + 5 and set(statuses[10:]) == {403}
    lines = pbx.log_text().splitlines()[before:]
    assert len(lines) <= 5, lines


def test_silent_calls_cannot_starve_the_rtp_range(pbx: Pbx) -> None:
    """Four answered calls that never send RTP fill the range; under that pressure they are hung up after
    5 s of silence (not --rtp-timeout's 60), and a real call gets a port again."""

    async def scenario() -> tuple[list[float], float]:
        silent = [await Phone(pbx.server.sip_port).start() for _ in range(4)]
        try:
            started = time.monotonic()
            for phone in silent:
                phone.sending = False
                assert (await phone.call("700")).status == 200
            byes = [await phone.wait_bye(15) - started for phone in silent]
            return byes, await _echo_call(pbx.server.sip_port, 700.0)
        finally:
            for phone in silent:
                phone.close()

    byes, heard = _run(scenario())  # type: ignore[misc]
    assert all(4.0 <= bye <= 12.0 for bye in byes), byes
    assert abs(heard - 700) < 20
