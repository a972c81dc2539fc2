"""Call forwarding (Kazoo's ``call_forward`` on a device or user): real phones on real sockets.

The forwarded number is reached through the account's own callflows: calltape calls itself with a signed
INVITE. Each phone sends its own tone and must hear the other's once the forward is put through.
"""

from __future__ import annotations

import asyncio
import audioop
import itertools
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.audio import dominant_frequency, tone
from tests.e2e.account import Account
from tests.e2e.sipp_runner import free_port
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import ServerProcess

PASSWORD = "phone-secret-1"
_NUMBERS = itertools.count(4100)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    server = ServerProcess(
        tmp_path_factory.mktemp("forward"),
        ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(26200, 26399)],
    ).start()
    account = Account.create(server, "Forward")
    yield account
    account.api.close()
    server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def _device(pbx: Account, name: str, port: int | None = None, **extra: Any) -> str:
    sip: dict[str, Any] = {"username": f"{name}{uuid.uuid4().hex[:6]}", "password": PASSWORD}
    if port is not None:
        sip |= {"invite_format": "route", "route": f"sip:{name}@127.0.0.1:{port}"}
    return pbx.put("devices", {"name": name, "sip": sip, **extra})


def _flow(pbx: Account, device_id: str, timeout: float = 20, children: dict[str, Any] | None = None) -> str:
    number = str(next(_NUMBERS))
    node: dict[str, Any] = {"module": "device", "data": {"id": device_id, "timeout": timeout}}
    pbx.put("callflows", {"numbers": [number], "flow": {**node, "children": children or {}}})
    return number


def _forward(pbx: Account, device_id: str, **settings: Any) -> None:
    doc = pbx.api.get(f"/v2/accounts/{pbx.account_id}/devices/{device_id}").json()["data"]
    doc["call_forward"] = {"enabled": True, **settings}
    r = pbx.api.post(f"/v2/accounts/{pbx.account_id}/devices/{device_id}", json={"data": doc})
    assert r.status_code == 200, r.text


def _loud(phone: Phone, since: float = 0.0) -> np.ndarray:
    """What *phone* heard after *since* (monotonic time), from its first to its last loud sample."""
    frames = [p for at, pt, p in phone.received.frames if pt == 0 and at >= since]
    pcm = np.frombuffer(b"".join(audioop.ulaw2lin(p, 2) for p in frames), dtype=np.int16)
    loud = np.abs(pcm.astype(np.int32)) > 500
    assert loud.sum() > 4000, f"heard {int(loud.sum())} loud samples"
    return pcm[loud.argmax() : len(loud) - loud[::-1].argmax()]


def _heard(phone: Phone, since: float = 0.0) -> float:
    """The dominant frequency of what *phone* heard after *since*."""
    return dominant_frequency(_loud(phone, since))


def _share_near(pcm: np.ndarray, hz: float) -> float:
    """The share of *pcm*'s energy within 30 Hz of *hz* (a steady tone: most of it; speech: little)."""
    power = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm)))) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    return float(power[np.abs(freqs - hz) < 30].sum() / power.sum())


async def _phone_on(pbx: Account, port: int, hz: float, answer_after: float | None = 0.3) -> Phone:
    phone = Phone(pbx.server.sip_port)
    await phone.start_on(port)
    phone.answer_after = answer_after
    phone.say_pcm(tone(hz, 12.0))
    return phone


def test_forward_replaces_the_device_and_the_keypress_puts_the_caller_through(pbx: Account) -> None:
    desk_port, mobile_port = free_port(), free_port()
    desk = _device(pbx, "desk", desk_port)
    mobile_number = _flow(pbx, _device(pbx, "mobile", mobile_port))
    _forward(pbx, desk, number=mobile_number)  # Kazoo's defaults: substitute, keep_caller_id, require_keypress
    desk_number = _flow(pbx, desk)

    async def scenario() -> tuple[float, float, float, str, bool]:
        desk_phone = await _phone_on(pbx, desk_port, 1500)  # would answer, if it rang
        mobile = await _phone_on(pbx, mobile_port, 1000)
        caller = Phone(pbx.server.sip_port, user="5551234")
        await caller.start()
        try:
            caller.say_pcm(tone(440, 12.0))
            calling = asyncio.ensure_future(caller.call(desk_number))
            invite = await asyncio.wait_for(mobile.invited.get(), 5)
            await asyncio.sleep(2.0)  # the prompt plays to whoever answered the forward
            assert not calling.done(), "the caller was put through before the keypress"
            prompt = _loud(mobile)
            mobile.send_digits("1")
            assert (await asyncio.wait_for(calling, 10)).status == 200
            through = time.monotonic()
            await asyncio.sleep(2.0)
            await caller.hangup()
            await mobile.wait_bye(5)
            after = _heard(mobile, through + 0.5)
            return _heard(caller), after, _share_near(prompt, 440), str(invite.from_.uri), desk_phone.invited.empty()
        finally:
            for phone in (desk_phone, mobile, caller):
                phone.close()

    caller_heard, mobile_heard, caller_share_in_prompt, from_uri, desk_not_rung = asyncio.run(scenario())
    assert abs(caller_heard - 1000) < 20  # the forwarded phone's tone reached the caller
    assert abs(mobile_heard - 440) < 20  # and the caller's reached it, after the keypress
    assert caller_share_in_prompt < 0.2  # before it: the spoken prompt, not the caller's tone
    assert from_uri.startswith("sip:5551234@")  # keep_caller_id: the forwarded phone sees the caller
    assert desk_not_rung  # substitute: the desk phone itself does not ring


def test_no_keypress_hangs_up_the_forward_and_the_flow_goes_on(pbx: Account) -> None:
    mobile_port = free_port()
    desk = _device(pbx, "desk")
    mobile_number = _flow(pbx, _device(pbx, "mobile", mobile_port))
    _forward(pbx, desk, number=mobile_number)
    fallback = {"_": {"module": "tone", "data": {"frequencies": [300], "duration_ms": 1500}}}
    desk_number = _flow(pbx, desk, timeout=4, children=fallback)

    async def scenario() -> tuple[float, float, bool]:
        mobile = await _phone_on(pbx, mobile_port, 1000)
        caller = await Phone(pbx.server.sip_port).start()
        try:
            started = time.monotonic()
            assert (await caller.call(desk_number)).status == 200  # answered by the fallback's tone
            answered = time.monotonic() - started
            await mobile.wait_bye(2)
            await caller.wait_bye(10)
            return _heard(caller), answered, mobile.answered_at is not None
        finally:
            mobile.close()
            caller.close()

    heard, answered_after, mobile_answered = asyncio.run(scenario())
    assert mobile_answered and abs(heard - 300) < 20
    assert answered_after > 5.0  # the prompt and the wait for a key ran past the 4 s ring timeout


def test_substitute_false_rings_both_and_keep_caller_id_false_shows_the_device(pbx: Account) -> None:
    desk_port, mobile_port = free_port(), free_port()
    desk = _device(pbx, "desk", desk_port, caller_id={"external": {"number": "5550100", "name": "Front Desk"}})
    mobile_number = _flow(pbx, _device(pbx, "mobile", mobile_port))
    _forward(pbx, desk, number=mobile_number, substitute=False, keep_caller_id=False, require_keypress=False)
    desk_number = _flow(pbx, desk)

    async def scenario() -> tuple[float, str, bool]:
        desk_phone = await _phone_on(pbx, desk_port, 1500, answer_after=1.0)
        mobile = await _phone_on(pbx, mobile_port, 1000, answer_after=None)  # rings, never answers
        caller = await Phone(pbx.server.sip_port).start()
        try:
            caller.say_pcm(tone(440, 12.0))
            calling = asyncio.ensure_future(caller.call(desk_number))
            invite = await asyncio.wait_for(mobile.invited.get(), 5)
            assert (await asyncio.wait_for(calling, 10)).status == 200
            await asyncio.wait_for(mobile.cancelled.wait(), 5)  # the desk answered: the forward is cancelled
            await asyncio.sleep(1.5)
            await caller.hangup()
            return _heard(caller), str(invite.headers.get("From")), desk_phone.answered_at is not None
        finally:
            for phone in (desk_phone, mobile, caller):
                phone.close()

    heard, from_header, desk_answered = asyncio.run(scenario())
    assert desk_answered and abs(heard - 1500) < 20
    assert "Front Desk" in from_header and "sip:5550100@" in from_header


def test_a_users_forward_rings_the_number_once_for_all_their_devices(pbx: Account) -> None:
    mobile_port = free_port()
    mobile_number = _flow(pbx, _device(pbx, "mobile", mobile_port))
    forward = {"enabled": True, "number": mobile_number, "require_keypress": False}
    user = pbx.put("users", {"first_name": "Grace", "last_name": "Hopper", "call_forward": forward})
    for name in ("grace1", "grace2"):
        device = _device(pbx, name, owner_id=user)
        _forward(pbx, device, number="9999999", require_keypress=False)  # the owner's forward wins
    number = str(next(_NUMBERS))
    pbx.put("callflows", {"numbers": [number], "flow": {"module": "user", "data": {"id": user}}})

    async def scenario() -> tuple[float, int]:
        mobile = await _phone_on(pbx, mobile_port, 1000)
        caller = await Phone(pbx.server.sip_port).start()
        try:
            caller.say_pcm(tone(440, 12.0))
            assert (await caller.call(number)).status == 200
            await asyncio.sleep(1.5)
            await caller.hangup()
            await mobile.wait_bye(5)
            return _heard(caller), mobile.invited.qsize()
        finally:
            mobile.close()
            caller.close()

    heard, invites = asyncio.run(scenario())
    assert abs(heard - 1000) < 20 and invites == 1


def test_failover_forwards_only_while_the_device_is_offline(pbx: Account) -> None:
    mobile_port = free_port()
    desk = _device(pbx, "ada")
    username = pbx.api.get(f"/v2/accounts/{pbx.account_id}/devices/{desk}").json()["data"]["sip"]["username"]
    mobile_number = _flow(pbx, _device(pbx, "mobile", mobile_port))
    _forward(pbx, desk, number=mobile_number, failover=True, require_keypress=False)
    desk_number = _flow(pbx, desk, timeout=1.5)

    async def call_once(registered: bool) -> tuple[bool, bool]:
        mobile = await _phone_on(pbx, mobile_port, 1000, answer_after=None)
        ada = await Phone(pbx.server.sip_port, user=username, realm=pbx.realm).start()
        caller = await Phone(pbx.server.sip_port).start()
        try:
            if registered:
                assert (await ada.register(PASSWORD)).status == 200
            await caller.call(desk_number)  # nobody answers: 480 after 1.5 s
            return not ada.invited.empty(), not mobile.invited.empty()
        finally:
            if registered:
                await ada.register(PASSWORD, expires=0)
            for phone in (mobile, ada, caller):
                phone.close()

    assert asyncio.run(call_once(registered=False)) == (False, True)  # offline: forwarded
    assert asyncio.run(call_once(registered=True)) == (True, False)  # online: the device rings, no forward


def test_a_forwarding_loop_stops_after_three_forwards(pbx: Account) -> None:
    first, second = _device(pbx, "loopa"), _device(pbx, "loopb")
    fallback = {"_": {"module": "tone", "data": {"frequencies": [300], "duration_ms": 1500}}}
    first_number, second_number = _flow(pbx, first, timeout=3, children=fallback), _flow(pbx, second, timeout=3)
    _forward(pbx, first, number=second_number, require_keypress=False)
    _forward(pbx, second, number=first_number, require_keypress=False)

    async def scenario() -> float:
        caller = await Phone(pbx.server.sip_port).start()
        try:
            assert (await caller.call(first_number)).status == 200
            await caller.wait_bye(10)
            return _heard(caller)
        finally:
            caller.close()

    assert abs(asyncio.run(scenario()) - 300) < 20
    assert "the call was forwarded 3 times" in pbx.server.log_path.read_text()


def test_a_forged_forward_is_refused(pbx: Account) -> None:
    device = _device(pbx, "victim")
    number = _flow(pbx, device)
    call_id = uuid.uuid4().hex
    invite = (
        f"INVITE sip:{number}@127.0.0.1:{pbx.server.sip_port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKforged1\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:intruder@127.0.0.1>;tag=f1\r\n"
        f"To: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:intruder@127.0.0.1:5999>\r\n"
        f"X-Calltape-Forward: account={pbx.account_id};device={device};hops=0;expires={int(time.time()) + 20};"
        f"sig={'0' * 64}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(invite, ("127.0.0.1", pbx.server.sip_port))
        answer = sock.recv(4096).decode()
        while answer.startswith("SIP/2.0 100"):
            answer = sock.recv(4096).decode()
    assert answer.startswith("SIP/2.0 403 Forbidden (call forward signature invalid)")


@pytest.mark.parametrize(
    ("call_forward", "path"),
    [({"enabled": True}, "call_forward"), ({"enabled": True, "number": "12ab"}, "call_forward.number")],
)
def test_bad_call_forward_settings_are_refused_with_the_field_path(
    pbx: Account, call_forward: dict[str, Any], path: str
) -> None:
    doc = {"name": "bad", "sip": {"username": f"bad{uuid.uuid4().hex[:6]}", "password": PASSWORD}}
    r = pbx.api.put(f"/v2/accounts/{pbx.account_id}/devices", json={"data": {**doc, "call_forward": call_forward}})
    assert r.status_code == 400
    assert path in r.text, r.text
