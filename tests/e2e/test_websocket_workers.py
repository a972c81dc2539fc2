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
                    if answered[-1] == 200:
                        await carrier.hangup()
                finally:
                    carrier.close()

        def seen() -> str:
            """What a failure needs to be understood: the carrier's statuses so far and the server's last lines."""
            return f"carrier got {answered}; server log:\n{rig.log_text()[-3000:]}"

        carrier = threading.Thread(target=lambda: asyncio.run(carrier_calls()))
        carrier.start()
        # Each call is answered, ACKed and ended by a BYE on the browser's connection. Two calls may overlap there:
        # the carrier's next INVITE can pass the BYE of the call before when the two calls belong to different workers.
        acked: dict[str, bool] = {}
        ended: set[str] = set()
        sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
        while len(ended) < CALLS:
            message = browser.receive(timeout=15)
            call_id = _header(message, "Call-ID")
            if message.startswith("INVITE "):
                assert call_id not in acked, f"a second INVITE for one call: {message}\n{seen()}"
                browser.send(_answer(message, "200 OK", sdp, to_tag=f"b{len(acked)}", contact=browser.contact))
                acked[call_id] = False
            elif message.startswith("ACK "):
                assert acked.get(call_id) is False, f"an ACK for no answer: {message}\n{seen()}"
                acked[call_id] = True
            else:
                assert message.startswith("BYE ") and acked.get(call_id), f"{message}\n{seen()}"
                browser.send(_answer(message, "200 OK"))
                ended.add(call_id)
        carrier.join()
    assert answered == [200] * CALLS
