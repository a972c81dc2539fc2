"""A browser phone on ``serve --workers 2`` (issue 24): its WebSocket connection stays with the worker that accepted
it, yet every call to it is answered, whichever worker owns the call — the owner has the holder write on the
connection, and the holder passes what the browser sends back to the owner."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
import websockets.sync.client as ws_client

from tests.e2e.account import Account, running
from tests.e2e.test_websocket import PASSWORD, Browser, _answer, _header
from tests.phone import Phone
from tests.ports import rtp_ports

CALLS = 8  # each owned by either worker (a hash of its Call-ID): all on the holder is 1 chance in 256


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    args = ["--workers", "2", "--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27300, 27399)]
    args += ["--sip-ws", "127.0.0.1:0", "--digest-algorithms", "MD5"]
    with running(tmp_path_factory.mktemp("ws-workers"), args, "Browsers") as account:
        yield account


def test_a_browser_is_rung_by_either_worker(rig: Account) -> None:
    device = rig.device("browser", password=PASSWORD)
    ring = rig.callflow({"module": "device", "data": {"id": device}})
    (line,) = [line for line in rig.server.stdout_lines if "SIP listening on ws " in line]
    port = int(re.search(r":(\d+) ", line)[1])  # type: ignore[index]
    side = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
    with ws_client.connect(f"ws://127.0.0.1:{port}", sock=side, subprotocols=["sip"]) as ws:  # type: ignore[list-item]
        browser = Browser(ws, "browser", rig.realm)
        registrar, aor, call_id = f"sip:{rig.realm}", f"<sip:browser@{rig.realm}>", uuid.uuid4().hex
        browser.send(browser.request("REGISTER", registrar, to=aor, call_id=call_id, extra="Expires: 300\r\n"))
        challenged = browser.final()
        auth = browser.authorized("REGISTER", registrar, _header(challenged, "WWW-Authenticate"), "Authorization")
        browser.send(browser.request("REGISTER", registrar, to=aor, call_id=call_id, extra=f"Expires: 300\r\n{auth}"))
        assert browser.final().startswith("SIP/2.0 200")

        answered: list[int] = []

        async def carrier_calls() -> None:
            for _ in range(CALLS):
                carrier = await Phone(rig.server.sip_port).start()
                try:
                    answered.append((await carrier.call(ring, timeout=15)).status)
                    await carrier.hangup()
                finally:
                    carrier.close()

        carrier = threading.Thread(target=lambda: asyncio.run(carrier_calls()))
        carrier.start()
        for n in range(CALLS):
            invite = browser.receive(timeout=15)
            assert invite.startswith("INVITE "), invite
            sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
            browser.send(_answer(invite, "200 OK", sdp, to_tag=f"b{n}", contact=browser.contact))
            assert browser.receive().startswith("ACK ")
            bye = browser.receive()
            assert bye.startswith("BYE ") and _header(bye, "Call-ID") == _header(invite, "Call-ID")
            browser.send(_answer(bye, "200 OK"))
        carrier.join()
    assert answered == [200] * CALLS
