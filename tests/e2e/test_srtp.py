"""Issue 24, SRTP (RFC 4568 SDES): a phone offers ``RTP/SAVP`` with a key the test knows and sends a 440 Hz tone
through libsrtp; calltape answers ``RTP/SAVP`` with a key of its own, echoes, and records. The test decrypts
calltape's SRTP with the key from the answer and hears the echo; the recording decodes to 440 Hz (plain audio in
the file); a plain RTP packet sent to the call is dropped and counted; an SRTP offer with no suite calltape speaks
gets 488; no key is ever logged."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from pylibsrtp import Error as SrtpError
from pylibsrtp import Policy, Session

from tests.audio import heard_for, tone, window_hz
from tests.e2e.account import Account, running, wait_delivered
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports

HZ = 440.0
SUITE = "AES_CM_128_HMAC_SHA1_80"


@dataclass
class Rig(Account):
    sink: UploadSink = field(default_factory=UploadSink)
    number: str = ""


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    sink = UploadSink().start()
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(26600, 26699)]
    try:
        with running(tmp_path_factory.mktemp("srtp"), args, "Srtp", Rig, sink=sink) as site:
            record = {"module": "record_call", "data": {"format": "wav", "url": f"{sink.url}/srtp"}}
            site.number = site.callflow({**record, "children": {"_": {"module": "echo"}}})
            yield site
    finally:
        sink.stop()


class _Protecting:
    """The phone's RTP socket, protecting every packet it sends with the phone's own SRTP key."""

    def __init__(self, transport: asyncio.DatagramTransport, session: Session) -> None:
        self.transport, self.session = transport, session

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(self.session.protect(data), addr)

    def __getattr__(self, name: str) -> object:
        return getattr(self.transport, name)


class SrtpPhone(Phone):
    """Our test phone speaking SRTP with libsrtp (independent of calltape's SDP and SRTP code): its offer carries
    its key; calltape's key comes from the answer."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.key = os.urandom(30)
        self.inbound: Session | None = None
        self.undecryptable = 0

    def sdp(
        self, payloads: list[tuple[int, str]] | None = None, direction: str = "sendrecv", dtmf: bool = True
    ) -> bytes:
        """Every SDP of ours (offer, answer, re-INVITE) is RTP/SAVP with our key."""
        return self.offer(direction=direction)

    def offer(self, suite: str = SUITE, direction: str = "sendrecv") -> bytes:
        plain = Phone.sdp(self, direction=direction).decode().replace("RTP/AVP", "RTP/SAVP")
        return (plain + f"a=crypto:1 {suite} inline:{base64.b64encode(self.key).decode()}\r\n").encode()

    def answer_incoming(self) -> None:
        """Being called with SRTP offered: answer RTP/SAVP with our key, and take calltape's from the offer."""
        assert self.incoming is not None
        self.secure(self.incoming.body)
        super().answer_incoming()

    def secure(self, answer: bytes) -> bytes:
        """From now on: send protected with our key, read with calltape's (from *answer* or an offer); its key."""
        line = next(x for x in answer.decode().splitlines() if x.startswith("a=crypto:"))
        tag, suite, inline = line[len("a=crypto:") :].split()[:3]
        assert (tag, suite) == ("1", SUITE)
        theirs = base64.b64decode(inline[len("inline:") :].split("|")[0])
        self.inbound = Session(Policy(theirs, Policy.SSRC_ANY_INBOUND))
        if not isinstance(self._rtp, _Protecting):
            self._rtp = _Protecting(self._rtp, Session(Policy(self.key, Policy.SSRC_ANY_OUTBOUND)))  # type: ignore[assignment]
        return theirs

    def _on_rtp(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.inbound is None:
            return
        try:
            plain = self.inbound.unprotect(data)
        except SrtpError:
            self.undecryptable += 1
            return
        super()._on_rtp(plain, addr)


def test_an_srtp_call_is_answered_in_srtp_echoed_and_recorded_in_the_clear(rig: Rig) -> None:
    async def scenario() -> tuple[str, bytes, bytes, float, int]:
        phone = await SrtpPhone(rig.server.sip_port).start()
        phone.say_pcm(tone(HZ, 30.0))
        try:
            answered = await phone.call(rig.number, body=phone.offer())
            assert answered.status == 200
            assert b"RTP/SAVP" in answered.body and b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in answered.body
            started = time.monotonic()
            theirs = phone.secure(answered.body)
            deadline = time.monotonic() + 10
            while heard_for(phone.received.pcm(), HZ) < 2.0:  # calltape's SRTP, decrypted with its key
                assert time.monotonic() < deadline, "no echo decrypted"
                await asyncio.sleep(0.05)
            reinvited = await phone.reinvite("sendrecv")  # a session refresh: calltape keeps its key
            assert reinvited.status == 200 and base64.b64encode(theirs) in reinvited.body
            heard = heard_for(phone.received.pcm(), HZ)
            while heard_for(phone.received.pcm(), HZ) < heard + 1.0:  # and its SRTP still decrypts
                assert time.monotonic() < deadline + 5, "no echo after the re-INVITE"
                await asyncio.sleep(0.05)
            assert phone.remote_rtp is not None
            plain = struct.pack("!BBHII", 0x80, 0, 7, 1120, 0x5151) + b"\xff" * 160  # plain RTP on the SRTP call
            phone._rtp.transport.sendto(plain, phone.remote_rtp)  # type: ignore[attr-defined]
            await asyncio.sleep(0.5)
            assert (await phone.hangup()).status == 200
            return phone.call_id, theirs, phone.key, time.monotonic() - started, phone.undecryptable
        finally:
            phone.close()

    call_id, theirs, ours, seconds, undecryptable = asyncio.run(scenario())
    assert theirs != ours and undecryptable <= 3  # its own key; at most the packets sent before we had it
    wait_delivered(rig.api, rig.account_id, call_id)
    [upload] = [u for u in rig.sink.uploads if call_id in u.path]
    pcm, rate, _ = decode(upload.body, "wav")
    assert abs(len(pcm) / rate - seconds) <= 0.3
    for channel in (0, 1):  # what the phone said, and what it heard: the tone, in the clear
        windows = window_hz(np.ascontiguousarray(pcm[:, channel]), rate)
        assert sum(abs(hz - HZ) < 20 for hz in windows) >= len(windows) - 2, windows
    log = rig.log_text()
    assert f"call-id {call_id}: a packet that is not this call's SRTP was dropped" in log
    for key in (theirs, ours):  # never logged, in any form
        assert base64.b64encode(key).decode() not in log and key.hex() not in log


def test_an_srtp_offer_with_no_suite_calltape_speaks_gets_488(rig: Rig) -> None:
    async def scenario() -> int:
        phone = await SrtpPhone(rig.server.sip_port).start()
        try:
            return (await phone.call(rig.number, body=phone.offer("F8_128_HMAC_SHA1_80"))).status
        finally:
            phone.close()

    assert asyncio.run(scenario()) == 488


def test_a_device_that_asks_for_srtp_is_offered_it_and_bridged_to_a_caller_in_the_clear(rig: Rig) -> None:
    """``media.encryption``: ``{"methods": ["srtp"], "enforce_security": true}`` — calltape's INVITE to the device
    offers RTP/SAVP with its key; the phone answers with its own; each side hears the other through the bridge
    between the SRTP leg and the caller's plain one."""
    password = "srtp-secret-1"
    sip = {"username": "secure", "password": password}
    encryption = {"encryption": {"methods": ["srtp"], "enforce_security": True}}
    device = rig.put("devices", {"name": "secure", "sip": sip, "media": encryption})
    number = rig.callflow({"module": "device", "data": {"id": device}})

    async def scenario() -> tuple[float, float, bytes]:
        callee = await SrtpPhone(rig.server.sip_port, user="secure", realm=rig.realm).start()
        callee.answer_after = 0.1
        callee.say_pcm(tone(1000.0, 30.0))
        caller = await Phone(rig.server.sip_port).start()  # trusted, in the clear
        caller.say_pcm(tone(HZ, 30.0))
        try:
            assert (await callee.register(password)).status == 200
            assert (await caller.call(number)).status == 200
            assert callee.incoming is not None and b"RTP/SAVP" in callee.incoming.body
            deadline = time.monotonic() + 10
            while heard_for(callee.received.pcm(), HZ) < 1.5 or heard_for(caller.received.pcm(), 1000.0) < 1.5:
                assert time.monotonic() < deadline, "the two do not hear each other"
                await asyncio.sleep(0.05)
            await caller.hangup()
            return (
                heard_for(callee.received.pcm(), HZ),
                heard_for(caller.received.pcm(), 1000.0),
                callee.incoming.body,
            )
        finally:
            caller.close()
            callee.close()

    callee_heard, caller_heard, offer = asyncio.run(scenario())
    assert callee_heard >= 1.5 and caller_heard >= 1.5  # the callee decrypted calltape's SRTP with the offered key
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in offer


def test_a_device_that_must_encrypt_is_refused_in_the_clear_and_answered_in_srtp(rig: Rig) -> None:
    password = "strict-secret-1"
    encryption = {"encryption": {"methods": ["srtp"], "enforce_security": True}}
    rig.put("devices", {"name": "strict", "sip": {"username": "strict", "password": password}, "media": encryption})

    async def scenario() -> tuple[int, int]:
        login = {"user": "strict", "realm": rig.realm, "password": password, "host": "127.0.0.3"}  # not trusted
        plain = await Phone(rig.server.sip_port, **login).start()
        secure = await SrtpPhone(rig.server.sip_port, **login).start()
        try:
            refused = (await plain.call(rig.number)).status
            answered = await secure.call(rig.number, body=secure.offer())
            if answered.status == 200:
                await secure.hangup()
            return refused, answered.status
        finally:
            plain.close()
            secure.close()

    assert asyncio.run(scenario()) == (488, 200)


def test_a_carrier_whose_resource_asks_for_srtp_is_offered_it_and_bridged_to_a_caller_in_the_clear(rig: Rig) -> None:
    """A resource's ``media.encryption`` (Kazoo's, as for devices): calltape's INVITE to the gateway offers
    RTP/SAVP with its key; the gateway answers with its own; each side hears the other."""

    async def scenario() -> tuple[float, float, bytes]:
        gateway = await SrtpPhone(rig.server.sip_port).start_on(0)
        gateway.answer_after = 0.1
        gateway.say_pcm(tone(1000.0, 30.0))
        encryption = {"encryption": {"methods": ["srtp"], "enforce_security": True}}
        rig.put(
            "resources",
            {
                "name": "Secure carrier",
                "rules": [r"^\+1\d{10}$"],
                "media": encryption,
                "gateways": [{"server": f"127.0.0.1:{gateway.sip_port}", "invite_format": "e164"}],
            },
        )
        number = rig.callflow({"module": "resources", "data": {}}, number="4155550142")
        caller = await Phone(rig.server.sip_port).start()  # trusted, in the clear
        caller.say_pcm(tone(HZ, 30.0))
        try:
            assert (await caller.call(number)).status == 200
            assert gateway.incoming is not None
            deadline = time.monotonic() + 10
            while heard_for(gateway.received.pcm(), HZ) < 1.5 or heard_for(caller.received.pcm(), 1000.0) < 1.5:
                assert time.monotonic() < deadline, "the two do not hear each other"
                await asyncio.sleep(0.05)
            await caller.hangup()
            return (
                heard_for(gateway.received.pcm(), HZ),
                heard_for(caller.received.pcm(), 1000.0),
                gateway.incoming.body,
            )
        finally:
            caller.close()
            gateway.close()

    gateway_heard, caller_heard, offer = asyncio.run(scenario())
    assert gateway_heard >= 1.5 and caller_heard >= 1.5
    assert b"RTP/SAVP" in offer and b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in offer
