"""Calls out through carriers (issue 20): a device dials a national number; the account's carrier tries its
gateways in turn. The first answers 503, so the call moves on to the second — SIPp, an independent peer — which
challenges for a digest, checks the Request-URI (E.164 with the gateway's prefix) and the account's external caller
ID in From, answers and talks. A busy callee (486) ends the attempt: the next gateway is never tried and the flow
takes its ``USER_BUSY`` child. The account's outbound off-net recording holds both parties' tones."""

from __future__ import annotations

import asyncio
import audioop
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio import heard_for, tone
from tests.e2e.account import Account, running, wait_delivered
from tests.e2e.sipp_runner import SippResult, free_port, run_sipp, until_listening
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports

PASSWORD = "carrier-test-1"
CARRIER_USER, CARRIER_PASSWORD = "acme-trunk", "trunk-secret-9"
CALLER_HZ, CARRIER_HZ, BUSY_HZ = 440.0, 1000.0, 700.0


@dataclass
class Office(Account):
    sink: UploadSink = field(default_factory=UploadSink)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    sink = UploadSink().start()
    outbound = {"outbound": {"offnet": {"enabled": True, "url": f"{sink.url}/out", "format": "wav"}}}
    doc = {
        "caller_id": {"external": {"number": "+15550100", "name": "Acme Inc"}},
        "call_recording": {"account": outbound},
    }
    args = ["--rtp-ports", rtp_ports(25200, 25399)]
    try:
        with running(tmp_path_factory.mktemp("carriers"), args, "Acme", Office, doc=doc, sink=sink) as office:
            office.device("alice", password=PASSWORD)
            yield office
    finally:
        sink.stop()


async def _gateway(office: Office, **behaviour: Any) -> Phone:
    """A gateway that refuses or answers as *behaviour* says (our phone stands in for a carrier)."""
    gateway = await Phone(office.server.sip_port, user="gateway").start()
    for key, value in behaviour.items():
        setattr(gateway, key, value)
    return gateway


def _alice(office: Office) -> Phone:
    return Phone(office.server.sip_port, user="alice", realm=office.realm, password=PASSWORD)


def test_a_failed_gateway_hands_the_call_to_the_next_which_gets_e164_the_digest_and_the_caller_id(
    office: Office, tmp_path: Path
) -> None:
    sipp_port, media_port = free_port(), free_port()
    (tmp_path / "carrier.ulaw").write_bytes(audioop.lin2ulaw(tone(CARRIER_HZ, 10.0), 2))

    async def scenario() -> tuple[str, float, Phone]:
        down = await _gateway(office, refuse_with=503)
        office.put(
            "resources",
            {
                "name": "Carrier A",
                "rules": [r"^\+1\d{10}$"],
                "gateways": [
                    {"server": f"127.0.0.1:{down.sip_port}", "invite_format": "e164"},
                    {
                        "server": f"127.0.0.1:{sipp_port}",
                        "invite_format": "e164",
                        "prefix": "99",
                        "username": CARRIER_USER,
                        "password": CARRIER_PASSWORD,
                    },
                ],
            },
        )
        office.put("callflows", {"patterns": [r"^\d{10}$"], "flow": {"module": "resources", "data": {}}})
        caller = _alice(office)
        await caller.start()
        caller.say_pcm(tone(CALLER_HZ, 12.0))
        await until_listening(sipp_port)
        assert (await caller.call("4155552671")).status == 200
        answered = time.monotonic()
        await asyncio.wait_for(down.invited.get(), 1)  # the first gateway was tried first
        deadline = time.monotonic() + 10
        while heard_for(caller.received.pcm(), CARRIER_HZ) < 2.0 and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        await asyncio.sleep(0.5)
        hung_up = time.monotonic()
        await caller.hangup()
        caller.close()
        down.close()
        return caller.call_id, hung_up - answered, caller

    sipp: dict[str, SippResult] = {}

    def carrier() -> None:
        sipp["result"] = run_sipp(
            "uas_carrier",
            office.server.sip_port,
            tmp_path,
            calls=1,
            local_port=sipp_port,
            extra=["-mi", "127.0.0.1", "-mp", str(media_port)],
            timeout=30,
            substitutions={
                "RURI": r"^INVITE sip:99\+14155552671@127\.0\.0\.1",
                "FROM": r"Acme Inc.*sip:\+15550100@",
                "USER": CARRIER_USER,
                "PASSWORD": CARRIER_PASSWORD,
                "RTP_STREAM": f"{tmp_path / 'carrier.ulaw'},-1,0",
            },
        )

    thread = threading.Thread(target=carrier)
    thread.start()
    call_id, seconds, caller = asyncio.run(scenario())
    thread.join(40)
    result = sipp["result"]
    assert (result.successful, result.failed) == (1, 0), result.errors[-2000:] or result.output[-2000:]
    assert heard_for(caller.received.pcm(), CARRIER_HZ) >= 2.0, "the caller did not hear the carrier's side"
    doc = wait_delivered(office.api, office.account_id, call_id)
    assert doc["origin"] == "outbound to offnet from account"
    [upload] = [u for u in office.sink.uploads if call_id in u.path]
    pcm, rate, _ = decode(upload.body, "wav")
    assert abs(len(pcm) / rate - seconds) <= 0.1
    assert heard_for(np.ascontiguousarray(pcm[:, 0]), CALLER_HZ, rate=rate) >= seconds - 1.0
    assert heard_for(np.ascontiguousarray(pcm[:, 1]), CARRIER_HZ, rate=rate) >= 2.0


def test_a_busy_callee_ends_the_attempt_and_takes_the_busy_child(office: Office) -> None:
    async def scenario() -> tuple[Phone, Phone, Phone]:
        busy = await _gateway(office, refuse_with=486)
        spare = await _gateway(office, answer_after=0.2)
        office.put(
            "resources",
            {
                "name": "Carrier UK",
                "rules": [r"^\+44\d{10}$"],
                "gateways": [{"server": f"127.0.0.1:{gw.sip_port}", "invite_format": "e164"} for gw in (busy, spare)],
            },
        )
        tone_node = {"module": "tone", "data": {"frequencies": [BUSY_HZ], "duration_ms": 3000}}
        office.put(
            "callflows",
            {
                "patterns": [r"^011\d+$"],
                "flow": {"module": "resources", "data": {}, "children": {"USER_BUSY": tone_node}},
            },
        )
        caller = _alice(office)
        await caller.start()
        assert (await caller.call("011442071234567")).status == 200
        deadline = time.monotonic() + 10
        while heard_for(caller.received.pcm(), BUSY_HZ) < 2.0 and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        await caller.hangup()
        for phone in (caller, busy, spare):
            phone.close()
        return caller, busy, spare

    caller, busy, spare = asyncio.run(scenario())
    invite = busy.invited.get_nowait()
    assert str(invite.uri).startswith("sip:+442071234567@")  # 011 → E.164
    assert spare.invited.empty(), "a busy callee is busy everywhere: the next gateway must not ring"
    assert heard_for(caller.received.pcm(), BUSY_HZ) >= 2.0
