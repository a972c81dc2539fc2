"""Ringing phones and bridging (issue 7): real phones on real sockets, SIPp as an independent callee.

Each side sends its own tone; each must hear the other's. The first phone to answer gets the call,
the others get CANCEL; busy and no-answer take their branches; either side's BYE ends both legs.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio import dominant_frequency, tone
from tests.e2e.account import PASSWORD, Account, running
from tests.e2e.sipp_runner import free_port, run_sipp, until_listening
from tests.phone import Phone
from tests.ports import rtp_ports

Pbx = Account


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(26000, 26199)]
    with running(tmp_path_factory.mktemp("bridge"), args, "Ring") as account:
        yield account


def _heard(phone: Phone, payload_type: int = 0) -> float:
    pcm = phone.received.pcm(payload_type)
    loud = np.abs(pcm.astype(np.int32)) > 500
    assert loud.sum() > 4000, f"heard {int(loud.sum())} loud samples"
    return dominant_frequency(pcm[loud.argmax() : len(loud) - loud[::-1].argmax()])


async def _registered(pbx: Pbx, user: str, *, answer_after: float | None = None) -> Phone:
    phone = await Phone(pbx.server.sip_port, user=user, realm=pbx.realm).start()
    phone.answer_after = answer_after
    assert (await phone.register(PASSWORD)).status == 200
    return phone


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_user_rings_every_phone_and_the_first_to_answer_is_bridged(pbx: Pbx) -> None:
    user = pbx.put("users", {"first_name": "Ada", "last_name": "Lovelace"})
    pbx.device("ada1", owner_id=user)
    pbx.device("ada2", owner_id=user)
    number = pbx.callflow({"module": "user", "data": {"id": user, "timeout": 10}})

    async def scenario() -> tuple[float, float, bool, float]:
        first = await _registered(pbx, "ada1", answer_after=0.5)
        second = await _registered(pbx, "ada2")  # rings, never answers
        caller = await Phone(pbx.server.sip_port).start()
        try:
            first.say_pcm(tone(1000, 6.0))
            caller.say_pcm(tone(440, 6.0))
            assert (await caller.call(number)).status == 200
            await asyncio.wait_for(second.cancelled.wait(), 5)
            await asyncio.sleep(1.0)
            caller.send_digits("5")  # RFC 4733 digits cross the bridge
            await asyncio.sleep(1.0)
            await caller.hangup()
            bye_at = await first.wait_bye(5)
            events = [p for _, pt, p in first.received.frames if pt == 101]
            assert events and events[0][0] == 5, "the callee got no telephone-event for 5"
            return _heard(caller), _heard(first), second.answered_at is not None, bye_at
        finally:
            for phone in (first, second, caller):
                phone.close()

    caller_heard, callee_heard, loser_answered, _ = _run(scenario())
    assert abs(caller_heard - 1000) < 20  # the callee's tone reached the caller
    assert abs(callee_heard - 440) < 20  # and the caller's reached the callee
    assert not loser_answered


def test_pcmu_caller_bridged_to_a_pcma_callee(pbx: Pbx) -> None:
    port = free_port()
    pbx.device("alaw", invite_format="route", route=f"sip:alaw@127.0.0.1:{port}")
    devices = pbx.api.get(f"/v2/accounts/{pbx.account_id}/devices").json()["data"]
    device_id = next(d["id"] for d in devices if d["name"] == "alaw")
    number = pbx.callflow({"module": "device", "data": {"id": device_id}})

    async def scenario() -> tuple[float, float]:
        callee = Phone(pbx.server.sip_port, user="alaw")
        await callee.start_on(port)
        callee.codecs, callee.payload_type, callee.answer_after = [(8, "PCMA")], 8, 0.2
        caller = await Phone(pbx.server.sip_port).start()
        caller.codecs = [(0, "PCMU")]
        try:
            callee.say_pcm(tone(1200, 6.0))
            caller.say_pcm(tone(500, 6.0))
            assert (await caller.call(number)).status == 200
            await asyncio.sleep(2.5)
            await callee.hangup_incoming()  # the callee hangs up: the caller gets BYE
            await caller.wait_bye(5)
            return _heard(caller, 0), _heard(callee, 8)
        finally:
            callee.close()
            caller.close()

    caller_heard, callee_heard = _run(scenario())
    assert abs(caller_heard - 1200) < 20 and abs(callee_heard - 500) < 20


@pytest.mark.parametrize(("refuse_with", "expected_hz"), [(486, 900.0), (None, 300.0)])
def test_busy_and_no_answer_take_their_branches(pbx: Pbx, refuse_with: int | None, expected_hz: float) -> None:
    port = free_port()
    device_id = pbx.device(f"br{uuid.uuid4().hex[:6]}", invite_format="route", route=f"sip:x@127.0.0.1:{port}")
    number = pbx.callflow(
        {
            "module": "device",
            "data": {"id": device_id, "timeout": 2},
            "children": {
                "busy": {"module": "tone", "data": {"frequencies": [900], "duration_ms": 1500}},
                "_": {"module": "tone", "data": {"frequencies": [300], "duration_ms": 1500}},
            },
        }
    )

    async def scenario() -> tuple[float, bool]:
        callee = Phone(pbx.server.sip_port)
        await callee.start_on(port)
        callee.refuse_with = refuse_with
        caller = await Phone(pbx.server.sip_port).start()
        try:
            assert (await caller.call(number)).status == 200
            await caller.wait_bye(10)
            return _heard(caller), callee.cancelled.is_set()
        finally:
            callee.close()
            caller.close()

    heard, cancelled = _run(scenario())
    assert abs(heard - expected_hz) < 20
    assert cancelled == (refuse_with is None)  # no answer: the ringing phone got CANCEL at the timeout


def test_a_caller_who_gives_up_cancels_the_ringing_phone(pbx: Pbx) -> None:
    port = free_port()
    device_id = pbx.device(f"gu{uuid.uuid4().hex[:6]}", invite_format="route", route=f"sip:x@127.0.0.1:{port}")
    number = pbx.callflow({"module": "device", "data": {"id": device_id, "timeout": 20}})

    async def scenario() -> tuple[int, bool]:
        callee = Phone(pbx.server.sip_port)
        await callee.start_on(port)
        caller = await Phone(pbx.server.sip_port).start()
        try:
            uri = f"sip:{number}@127.0.0.1:{pbx.server.sip_port}"
            caller.invite = caller.request("INVITE", uri, caller.sdp())
            caller.send(caller.invite)
            await asyncio.wait_for(callee.invited.get(), 5)
            final = await caller.cancel()
            while final.cseq.method != "INVITE":  # the CANCEL's own 200 first
                final = await caller.final()
            await asyncio.wait_for(callee.cancelled.wait(), 5)
            return final.status, callee.cancelled.is_set()
        finally:
            callee.close()
            caller.close()

    status, cancelled = _run(scenario())
    assert status == 487 and cancelled


def test_sipp_callee_by_route_echoes_the_caller_through_the_bridge(pbx: Pbx, tmp_path: Path) -> None:
    """An independent peer: SIPp's built-in UAS answers and echoes RTP; the caller hears itself through calltape."""
    port, media_port = free_port(), free_port()
    device_id = pbx.device("sipp", invite_format="route", route=f"sip:sipp@127.0.0.1:{port}")
    number = pbx.callflow({"module": "device", "data": {"id": device_id}})
    result: dict[str, Any] = {}

    def callee() -> None:
        result["sipp"] = run_sipp(
            "uas_echo",
            pbx.server.sip_port,
            tmp_path,
            calls=1,
            local_port=port,
            extra=["-mi", "127.0.0.1", "-mp", str(media_port), "-rtp_echo"],
            timeout=30,
        )

    thread = threading.Thread(target=callee)
    thread.start()

    async def scenario() -> float:
        await until_listening(port)
        caller = await Phone(pbx.server.sip_port).start()
        try:
            caller.say_pcm(tone(650, 6.0))
            assert (await caller.call(number)).status == 200
            await asyncio.sleep(2.5)
            await caller.hangup()
            return _heard(caller)
        finally:
            caller.close()

    heard = _run(scenario())
    thread.join(40)
    assert abs(heard - 650) < 20
    assert result["sipp"].successful == 1, result["sipp"].output[-2000:]


def test_hold_on_one_side_is_passed_to_the_other(pbx: Pbx) -> None:
    port = free_port()
    device_id = pbx.device(f"ho{uuid.uuid4().hex[:6]}", invite_format="route", route=f"sip:x@127.0.0.1:{port}")
    number = pbx.callflow({"module": "device", "data": {"id": device_id}})

    async def scenario() -> list[str]:
        callee = Phone(pbx.server.sip_port)
        await callee.start_on(port)
        callee.answer_after = 0.2
        caller = await Phone(pbx.server.sip_port).start()
        try:
            assert (await caller.call(number)).status == 200
            await asyncio.sleep(0.5)
            assert (await caller.reinvite("sendonly")).status == 200
            await asyncio.sleep(0.5)
            assert (await caller.reinvite("sendrecv")).status == 200
            await asyncio.sleep(0.5)
            await caller.hangup()
            return callee.reinvites
        finally:
            callee.close()
            caller.close()

    assert _run(scenario()) == ["sendonly", "sendrecv"]


def test_a_late_answer_from_the_losing_phone_is_acked_and_hung_up(pbx: Pbx) -> None:
    user = pbx.put("users", {"first_name": "Late", "last_name": "Answer"})
    pbx.device("late1", owner_id=user)
    pbx.device("late2", owner_id=user)
    number = pbx.callflow({"module": "user", "data": {"id": user, "timeout": 10}})

    async def scenario() -> tuple[bool, float]:
        winner = await _registered(pbx, "late1", answer_after=0.3)
        loser = await _registered(pbx, "late2", answer_after=0.8)
        loser.ignore_cancel = True  # its 200 comes after calltape has chosen the winner
        caller = await Phone(pbx.server.sip_port).start()
        try:
            assert (await caller.call(number)).status == 200
            bye_at = await loser.wait_bye(5)
            await asyncio.wait_for(loser.acked.wait(), 1)
            await caller.hangup()
            await winner.wait_bye(5)
            return loser.acked.is_set(), bye_at
        finally:
            for phone in (winner, loser, caller):
                phone.close()

    acked, _ = _run(scenario())
    assert acked


def test_early_media_from_a_ringing_phone_reaches_the_caller(pbx: Pbx) -> None:
    """183 with SDP: the caller hears the callee's announcement before the 200, then the bridged call."""
    port = free_port()
    device_id = pbx.device(f"em{uuid.uuid4().hex[:6]}", invite_format="route", route=f"sip:x@127.0.0.1:{port}")
    number = pbx.callflow({"module": "device", "data": {"id": device_id}})

    async def scenario() -> tuple[float, float]:
        callee = Phone(pbx.server.sip_port)
        await callee.start_on(port)
        callee.early_media, callee.answer_after = True, 1.5
        callee.say_pcm(tone(800, 1.5) + tone(1300, 3.0))  # an announcement, then the conversation
        caller = await Phone(pbx.server.sip_port).start()
        try:
            assert (await caller.call(number)).status == 200
            answered_at = caller.answered_at
            await asyncio.sleep(1.5)
            await caller.hangup()
            assert answered_at is not None
            before = [p for at, pt, p in caller.received.frames if pt == 0 and at < answered_at]
            after = [p for at, pt, p in caller.received.frames if pt == 0 and at > answered_at + 0.3]
            return _frequency(before), _frequency(after)
        finally:
            callee.close()
            caller.close()

    early, bridged = _run(scenario())
    assert abs(early - 800) < 20 and abs(bridged - 1300) < 20


def _frequency(payloads: list[bytes]) -> float:
    import audioop

    pcm = np.frombuffer(b"".join(audioop.ulaw2lin(p, 2) for p in payloads), dtype=np.int16)
    assert len(pcm) > 4000, f"only {len(pcm)} samples"
    return dominant_frequency(pcm)


def test_a_calling_device_presents_its_caller_id_and_the_callee_sees_it(pbx: Pbx) -> None:
    """The caller's display name and number go through; a device's caller_id.internal overrides them."""
    user = pbx.put("users", {"first_name": "Front", "last_name": "Desk"})
    pbx.put(
        "devices",
        {
            "name": "front",
            "owner_id": user,
            "caller_id": {"internal": {"name": "Front Desk", "number": "1001"}},
            "sip": {"username": "front", "password": PASSWORD},
        },
    )
    port = free_port()
    device_id = pbx.device(f"cid{uuid.uuid4().hex[:6]}", invite_format="route", route=f"sip:x@127.0.0.1:{port}")
    number = pbx.callflow({"module": "device", "data": {"id": device_id, "timeout": 2}})

    async def scenario() -> tuple[str | None, str]:
        callee = Phone(pbx.server.sip_port)
        await callee.start_on(port)
        # from an untrusted address, so the call is a device's (digest-authenticated), not a trunk's
        caller = await Phone(pbx.server.sip_port, host="127.0.0.2", user="front", realm=pbx.realm).start()
        caller.password = PASSWORD
        try:
            assert (await caller.call(number, timeout=10)).status >= 200
            invite = await asyncio.wait_for(callee.invited.get(), 5)
            return invite.from_.display_name, str(getattr(invite.from_.uri, "user", ""))
        finally:
            callee.close()
            caller.close()

    name, number_shown = _run(scenario())
    assert (name, number_shown) == ("Front Desk", "1001")
