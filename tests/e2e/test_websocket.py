"""SIP over WebSocket (RFC 7118, issue 24) on a running server, with the ``websockets`` library as the browser and
hand-written SIP messages (not our parser): the ``sip`` subprotocol is required; a browser phone registers (digest,
computed here with hashlib), is rung on its connection by a carrier's call, talks (RTP to its socket) and is hung
up on over it; it places a call itself (challenged, answered, ended); a WebRTC-only offer is refused with 488."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import InvalidStatus

from tests.audio import tone
from tests.e2e.account import Account, running
from tests.phone import Phone
from tests.ports import rtp_ports

PASSWORD = "browser-secret-1"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27200, 27299), "--sip-ws", "127.0.0.1:0"]
    args += ["--digest-algorithms", "MD5"]
    with running(tmp_path_factory.mktemp("ws"), args, "Browser") as account:
        yield account


def _ws_port(rig: Account) -> int:
    (line,) = [line for line in rig.server.stdout_lines if "SIP listening on ws " in line]
    return int(re.search(r":(\d+) ", line)[1])  # type: ignore[index]


class Browser:
    """A browser phone: SIP messages written by hand, over one WebSocket."""

    def __init__(self, ws: ws_client.ClientConnection, user: str, realm: str) -> None:
        self.ws = ws
        self.user, self.realm = user, realm
        self.host = f"{uuid.uuid4().hex[:12]}.invalid"  # as SIP.js names itself: not reachable but by this socket
        self.contact = f"<sip:{user}@{self.host};transport=ws>"
        self.cseq = 0

    def request(self, method: str, uri: str, *, to: str, call_id: str, extra: str = "", body: str = "") -> str:
        self.cseq += 1
        content = "Content-Type: application/sdp\r\n" if body else ""
        return (
            f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/WS {self.host};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            f"Max-Forwards: 70\r\nTo: {to}\r\nFrom: <sip:{self.user}@{self.realm}>;tag=b{call_id[:6]}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {self.cseq} {method}\r\nContact: {self.contact}\r\n{extra}{content}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )

    def send(self, message: str) -> None:
        self.ws.send(message)

    def receive(self, timeout: float = 10.0) -> str:
        return str(self.ws.recv(timeout=timeout))

    def final(self, timeout: float = 10.0) -> str:
        while int((answer := self.receive(timeout)).split(" ", 2)[1]) < 200:
            pass
        return answer

    def authorized(self, method: str, uri: str, challenge: str, header: str) -> str:
        """Digest (RFC 2617, MD5, qop auth) for *challenge*: the header line to send."""
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge.split(" ", 1)[1]))
        ha1 = hashlib.md5(f"{self.user}:{fields['realm']}:{PASSWORD}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
        cnonce, nc = uuid.uuid4().hex[:8], "00000001"
        response = hashlib.md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (
            f'{header}: Digest username="{self.user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"\r\n'
        )


def _header(message: str, name: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in message.split("\r\n") if line.lower().startswith(f"{name.lower()}:")
    )


def _answer(request: str, status: str, body: str = "", to_tag: str = "", contact: str = "") -> str:
    lines = [f"SIP/2.0 {status}", *([f"Contact: {contact}"] if contact else [])]
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        value = _header(request, name)
        lines.append(f"{name}: {value}{';tag=' + to_tag if name == 'To' and to_tag else ''}")
    content = ["Content-Type: application/sdp"] if body else []
    return "\r\n".join([*lines, *content, f"Content-Length: {len(body.encode())}", "", body])


def _sdp(port: int, profile: str = "RTP/AVP") -> str:
    return (
        f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} {profile} 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )


def test_the_sip_subprotocol_is_required(rig: Account) -> None:
    with pytest.raises(InvalidStatus) as refused, ws_client.connect(f"ws://127.0.0.1:{_ws_port(rig)}"):
        pass
    assert refused.value.response.status_code == 400


def test_a_browser_registers_is_rung_on_its_connection_and_places_a_call(rig: Account) -> None:
    device = rig.device("browser", password=PASSWORD)
    ring = rig.callflow({"module": "device", "data": {"id": device}})
    recorded = rig.callflow({"module": "record_call", "data": {}, "children": {"_": {"module": "echo", "data": {}}}})
    assert rig.api.patch("/v2/system_configs/media", json={"data": {"store_recordings": True}}).status_code == 200
    port = _ws_port(rig)
    browser_side = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))  # not trusted
    with ws_client.connect(f"ws://127.0.0.1:{port}", sock=browser_side, subprotocols=["sip"]) as ws:  # type: ignore[list-item]
        _browser_calls(rig, Browser(ws, "browser", rig.realm), ring, recorded)


def _browser_calls(rig: Account, browser: Browser, ring: str, recorded: str) -> None:
    assert browser.ws.subprotocol == "sip"
    registrar, aor = f"sip:{rig.realm}", f"<sip:browser@{rig.realm}>"
    call_id = uuid.uuid4().hex
    browser.send(browser.request("REGISTER", registrar, to=aor, call_id=call_id, extra="Expires: 300\r\n"))
    challenged = browser.final()
    assert challenged.startswith("SIP/2.0 401")
    auth = browser.authorized("REGISTER", registrar, _header(challenged, "WWW-Authenticate"), "Authorization")
    browser.send(browser.request("REGISTER", registrar, to=aor, call_id=call_id, extra=f"Expires: 300\r\n{auth}"))
    registered = browser.final()
    assert registered.startswith("SIP/2.0 200") and browser.host in _header(registered, "Contact")

    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(5)
    heard: list[bytes] = []

    async def carrier_calls() -> None:
        carrier = await Phone(rig.server.sip_port).start()
        try:
            carrier.say_pcm(tone(440, 4))
            assert (await carrier.call(ring, timeout=15)).status == 200
            await asyncio.sleep(1.5)
            await carrier.hangup()
        finally:
            carrier.close()

    carrier = threading.Thread(target=lambda: asyncio.run(carrier_calls()))
    carrier.start()
    invite = browser.receive()
    assert invite.startswith(f"INVITE sip:browser@{browser.host};transport=ws SIP/2.0")
    assert _header(invite, "Via").startswith("SIP/2.0/WS 127.0.0.1:")
    assert ";transport=ws" in _header(invite, "Contact")
    browser.send(_answer(invite, "200 OK", _sdp(rtp.getsockname()[1]), to_tag="bt1", contact=browser.contact))
    ack = browser.receive()
    assert ack.startswith("ACK ")
    deadline = time.monotonic() + 3
    while len(heard) < 20 and time.monotonic() < deadline:
        heard.append(rtp.recv(2048))  # the carrier's tone, bridged to the browser's socket
    bye = browser.receive()
    assert bye.startswith("BYE ") and _header(bye, "Call-ID") == _header(invite, "Call-ID")
    browser.send(_answer(bye, "200 OK"))
    carrier.join()
    assert len(heard) >= 20

    # the browser calls: challenged, then answered (plain RTP here; WebRTC media is a later step) and ended
    target, to = f"sip:{recorded}@{rig.realm}", f"<sip:{recorded}@{rig.realm}>"
    call_id = uuid.uuid4().hex
    offer = _sdp(rtp.getsockname()[1])
    browser.send(browser.request("INVITE", target, to=to, call_id=call_id, body=offer))
    challenged = browser.final()
    assert challenged.startswith("SIP/2.0 407")
    browser.send(_ack_for(browser, challenged, target))
    auth = browser.authorized("INVITE", target, _header(challenged, "Proxy-Authenticate"), "Proxy-Authorization")
    browser.send(browser.request("INVITE", target, to=to, call_id=call_id, extra=auth, body=offer))
    answered = browser.final()
    assert answered.startswith("SIP/2.0 200") and "m=audio" in answered
    to_tagged = _header(answered, "To")
    browser.send(browser.request("ACK", _contact_uri(answered), to=to_tagged, call_id=call_id))
    media_port = int(re.search(r"m=audio (\d+)", answered)[1])  # type: ignore[index]
    for n in range(60):  # 1.2 s of µ-law silence-ish noise, RTP written by hand
        rtp.sendto(struct.pack("!BBHII", 0x80, 0, n, n * 160, 0x1234) + bytes([0x7E]) * 160, ("127.0.0.1", media_port))
        time.sleep(0.02)
    browser.send(browser.request("BYE", _contact_uri(answered), to=to_tagged, call_id=call_id))
    assert browser.final().startswith("SIP/2.0 200")
    deadline = time.monotonic() + 10
    while not (kept := rig.recordings(call_id=call_id)) or kept[0]["state"] != "stored":
        assert time.monotonic() < deadline, kept
        time.sleep(0.1)

    # a browser's WebRTC offer (DTLS-SRTP, ICE): not yet — a clear 488
    call_id = uuid.uuid4().hex
    webrtc = _sdp(9, "UDP/TLS/RTP/SAVPF") + "a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n"
    browser.send(browser.request("INVITE", target, to=to, call_id=call_id, extra=auth, body=webrtc))
    refused = browser.final()
    if refused.startswith("SIP/2.0 407"):  # a fresh nonce wanted
        browser.send(_ack_for(browser, refused, target))
        auth = browser.authorized("INVITE", target, _header(refused, "Proxy-Authenticate"), "Proxy-Authorization")
        browser.send(browser.request("INVITE", target, to=to, call_id=call_id, extra=auth, body=webrtc))
        refused = browser.final()
    assert refused.startswith("SIP/2.0 488")
    rtp.close()


def _contact_uri(message: str) -> str:
    return _header(message, "Contact").strip("<>").split(">")[0]


def _ack_for(browser: Browser, answer: str, uri: str) -> str:
    """The ACK of a non-2xx final answer (same branch: copied from the answer's Via)."""
    headers: dict[str, Any] = {name: _header(answer, name) for name in ("Via", "From", "To", "Call-ID")}
    number = _header(answer, "CSeq").split()[0]
    return (
        f"ACK {uri} SIP/2.0\r\nVia: {headers['Via']}\r\nMax-Forwards: 70\r\nFrom: {headers['From']}\r\n"
        f"To: {headers['To']}\r\nCall-ID: {headers['Call-ID']}\r\nCSeq: {number} ACK\r\nContent-Length: 0\r\n\r\n"
    )
