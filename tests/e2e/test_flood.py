"""SIP floods (issue 24) on a running server: four stranger addresses send REGISTERs and INVITEs as fast as they
can (hand-written bytes, wrong realms and passwords, sipvicious-style); each gets at most its burst and rate
answered, the rest is dropped unanswered, counted in /metrics and logged once per source; meanwhile a phone on a
fifth address registers and places a recorded call, and a trusted carrier's call is answered: both as usual."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from calltape.frontdoor.flood_gate import BURST, RATE
from tests.audio import tone
from tests.e2e.account import PASSWORD, Account, running
from tests.phone import Phone
from tests.ports import rtp_ports

STRANGERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27100, 27199)]
    with running(tmp_path_factory.mktemp("flood"), args, "Flood") as account:
        yield account


def _guess(kind: str, n: int, port: int, realm: str) -> bytes:
    """A scanner's REGISTER (a wrong password) or INVITE (an extension in a realm it guessed)."""
    tag, branch = uuid.uuid4().hex[:8], uuid.uuid4().hex
    uri = f"sip:{100 + n}@{realm}"
    auth = (
        f'Authorization: Digest username="{100 + n}", realm="{realm}", nonce="x", uri="sip:{realm}", '
        f'response="{"0" * 32}"\r\n'
        if kind == "REGISTER"
        else ""
    )
    return (
        f"{kind} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK{branch}\r\n"
        f"From: <sip:{100 + n}@{realm}>;tag={tag}\r\nTo: <{uri}>\r\nCall-ID: {uuid.uuid4().hex}@scan\r\n"
        f"CSeq: 1 {kind}\r\nContact: <sip:{100 + n}@127.0.0.9:5060>\r\nMax-Forwards: 70\r\n{auth}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _flood(host: str, port: int, realm: str, seconds: float, answers: list[int]) -> None:
    """Send as fast as it goes for *seconds*; count the requests answered (a 403 to an INVITE comes again until
    the ACK a scanner never sends: counted once, by its Call-ID)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    answered: set[bytes] = set()
    sent = 0

    def take() -> None:
        try:
            while data := sock.recv(65536):
                answered.add(re.search(rb"Call-ID: (\S+)", data)[1])  # type: ignore[index]
        except BlockingIOError:
            pass

    until = time.monotonic() + seconds
    while time.monotonic() < until:
        sock.sendto(_guess("REGISTER" if sent % 2 else "INVITE", sent, port, realm), ("127.0.0.1", port))
        sent += 1
        if sent % 20 == 0:
            time.sleep(0.01)  # ~1,000 a second from each
        take()
    time.sleep(0.5)
    take()
    sock.close()
    answers.append(len(answered))


def test_strangers_flooding_are_cut_to_their_rate_while_a_phone_and_a_carrier_call_as_usual(rig: Account) -> None:
    rig.device("desk", password=PASSWORD)
    number = rig.callflow({"module": "record_call", "data": {}, "children": {"_": {"module": "echo", "data": {}}}})
    seconds = 3.0
    answers: list[int] = []
    floods = [
        threading.Thread(target=_flood, args=(host, rig.server.sip_port, rig.realm, seconds, answers))
        for host in STRANGERS
    ]
    began = time.monotonic()
    for flood in floods:
        flood.start()

    async def legitimate() -> None:
        phone = await Phone(
            rig.server.sip_port, host="127.0.0.6", user="desk", realm=rig.realm, password=PASSWORD
        ).start()
        carrier = await Phone(rig.server.sip_port).start()
        try:
            assert (await phone.register(PASSWORD)).status == 200
            phone.say_pcm(tone(440, 5))
            assert (await phone.call(number)).status == 200
            assert (await carrier.call(number)).status == 200
            await asyncio.sleep(1.0)
            await phone.hangup()
            await carrier.hangup()
        finally:
            phone.close()
            carrier.close()

    asyncio.run(legitimate())
    for flood in floods:
        flood.join()
    elapsed = time.monotonic() - began
    for answered in answers:  # each stranger: its burst, then its rate (a little slack for the clock)
        assert 1 <= answered <= BURST + RATE * elapsed + 5, (answered, elapsed)
    metrics = httpx.get(f"{rig.server.api_url}/metrics").text
    dropped = sum(float(m[1]) for m in re.finditer(r"calltape_sip_dropped_total\{reason=\S+\} (\S+)", metrics))
    assert dropped >= 4 * 1000 * seconds * 0.5  # most of what they sent (over the rate, or blocked for guessing)
    log = rig.log_text()
    for host in STRANGERS:
        assert 1 <= log.count(f"SIP from {host} dropped unanswered") <= 2  # once per 10 s per source
    assert "127.0.0.6 dropped" not in log and "127.0.0.1 dropped" not in log
