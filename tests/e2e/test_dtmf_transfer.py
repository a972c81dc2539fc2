"""Issue 21: Kazoo's konami ``transfer`` metaflow, for phones without a transfer key. The desk phone that answered a
carrier's caller presses ``*2`` and the second phone's number: the caller hears the code's music on hold, the desk
rings and then talks to the second phone, and when the desk hangs up the caller is with the second phone. The
call's one recording keeps the caller in its channel and has, in the other, the desk, the music, then the second
phone, with the transfer in its metadata. ``*1`` (takeback) and a busy target bring the desk back; a desk that
hangs up before the target answers leaves the caller to it; a caller that hangs up ends the consultation too. A
caller that presses the code hands its party on, and the file keeps that party. Real sockets: our phones, the
calltape server, the loopback INVITE calltape sends itself."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import numpy as np
import pytest

from tests.audio import heard_for, window_hz
from tests.e2e.test_transfer import (
    CALLER_HZ,
    FIRST_HZ,
    MUSIC_HZ,
    PASSWORD,
    SECOND_HZ,
    Office,
    _caller,
    _phone,
    _record,
    _recorded,
    _until_heard,
    office,
)
from tests.phone import Phone
from tests.receiver.audio import wav_bytes

__all__ = ["office"]  # the module's own server, as test_transfer's fixture makes it


@pytest.fixture(scope="module")
def codes(office: Office) -> Iterator[str]:
    """The account's transfer pattern ``*2<number>`` with its own music; the music's frequency is MUSIC_HZ."""
    music = office.put("media", {"name": "transfer music"})
    raw = f"/v2/accounts/{office.account_id}/media/{music}/raw"
    assert office.api.put(raw, content=wav_bytes(1.0, MUSIC_HZ), headers={"Content-Type": "audio/wav"}).is_success
    flows = {"digit_timeout": 500, "patterns": {"^2(\\d+)$": {"module": "transfer", "data": {"moh": music}}}}
    account = f"/v2/accounts/{office.account_id}"
    r = office.api.patch(account, json={"data": {"metaflows": flows}})
    assert r.status_code == 200, r.text
    yield music
    office.api.patch(account, json={"data": {"metaflows": None}})


Scene = Callable[[Phone, Phone, Phone, str], Awaitable[None]]


def _three_phones(office: Office, scene: Scene, record: bool = False) -> tuple[str, float]:
    """The caller calls the desk phone (its number recorded if *record*); once they talk, *scene(caller, desk,
    second, second_number)* runs. The call's id, and when it was answered (``time.monotonic``)."""
    desk_user, second_user = f"k{uuid.uuid4().hex[:4]}", f"t{uuid.uuid4().hex[:4]}"
    desk_number = office.device_number(desk_user, _record(office) if record else None)
    second_number = office.device_number(second_user)

    async def run() -> tuple[str, float]:
        desk = await _phone(office, desk_user, FIRST_HZ)
        second = await _phone(office, second_user, SECOND_HZ)
        caller = await _caller(office)
        try:
            assert (await caller.call(desk_number)).status == 200
            answered = time.monotonic()
            await _until_heard(caller, FIRST_HZ, 1.0)
            await scene(caller, desk, second, second_number)
            return caller.call_id, answered
        finally:
            for phone in (caller, desk, second):
                phone.close()

    return asyncio.run(run())


def test_the_desk_transfers_the_caller_by_feature_code_and_the_recording_follows(office: Office, codes: str) -> None:
    marks: dict[str, float] = {}
    numbers: list[str] = []

    async def scene(caller: Phone, desk: Phone, second: Phone, second_number: str) -> None:
        numbers.append(second_number)
        marks["pressed"] = time.monotonic()
        desk.send_digits(f"*2{second_number}")
        await _until_heard(caller, MUSIC_HZ, 1.5)  # held, with the code's music
        await _until_heard(desk, SECOND_HZ, 1.5)  # the desk talks to the second phone ...
        await _until_heard(second, FIRST_HZ, 1.5)  # ... which hears the desk, not the caller
        assert heard_for(second.received.pcm(), CALLER_HZ) == 0.0
        marks["transfer"] = time.monotonic()
        await desk.hangup_incoming()
        await _until_heard(caller, SECOND_HZ, 2.0)  # the caller now talks to the second phone
        await _until_heard(second, CALLER_HZ, 2.0)
        marks["ended"] = time.monotonic()
        await caller.hangup()
        await second.wait_bye(5)

    call_id, marks["answered"] = _three_phones(office, scene, record=True)
    doc, pcm, rate = _recorded(office, call_id)
    [transfer] = doc["transfers"]
    offset = float(transfer["offset_s"])
    assert transfer["to"] == numbers[0]
    assert abs(offset - (marks["transfer"] - marks["answered"])) <= 0.5
    assert abs(len(pcm) / rate - (marks["ended"] - marks["answered"])) <= 0.5
    assert heard_for(np.ascontiguousarray(pcm[:, 0]), CALLER_HZ, rate=rate) >= len(pcm) / rate - 1.0
    windows = window_hz(np.ascontiguousarray(pcm[:, 1]), rate)  # what the caller heard, per 250 ms
    pressed, cut = int((marks["pressed"] - marks["answered"]) / 0.25), int(offset / 0.25)
    desk, held, second = windows[: pressed - 1], windows[pressed + 8 : cut - 1], windows[cut + 4 :]
    assert desk and sum(abs(hz - FIRST_HZ) < 20 for hz in desk) >= len(desk) - 1, desk
    assert held and sum(abs(hz - MUSIC_HZ) < 20 for hz in held) >= len(held) - 2, held
    assert second and sum(abs(hz - SECOND_HZ) < 20 for hz in second) >= len(second) - 2, second
    [hold] = doc["holds"]  # the music, as a hold: from the code (its digits, then the digit timeout) to the transfer
    began = float(hold["offset_s"])
    assert marks["pressed"] - marks["answered"] < began < marks["pressed"] - marks["answered"] + 3.0
    assert abs(began + float(hold["length_s"]) - offset) <= 0.5


@pytest.mark.parametrize("how", ["takeback", "busy"])
def test_the_desk_gets_the_caller_back_by_takeback_or_when_the_target_is_busy(
    office: Office, codes: str, how: str
) -> None:
    async def scene(caller: Phone, desk: Phone, second: Phone, second_number: str) -> None:
        if how == "busy":
            second.refuse_with = 486
        desk.send_digits(f"*2{second_number}")
        await asyncio.wait_for(second.invited.get(), 10)
        if how == "takeback":
            await _until_heard(caller, MUSIC_HZ, 1.0)
            await _until_heard(desk, SECOND_HZ, 1.0)
            desk.send_digits("*1")
            await second.wait_bye(5)  # the target is let go
        heard = heard_for(caller.received.pcm(), FIRST_HZ)
        await _until_heard(caller, FIRST_HZ, heard + 1.5)  # with the desk again
        await _until_heard(desk, CALLER_HZ, heard_for(desk.received.pcm(), CALLER_HZ) + 1.0)
        assert heard_for(caller.received.pcm(), SECOND_HZ) == 0.0
        await caller.hangup()
        await desk.wait_bye(5)

    _three_phones(office, scene)


def test_a_desk_that_hangs_up_while_the_target_rings_leaves_the_caller_to_it(office: Office, codes: str) -> None:
    async def scene(caller: Phone, desk: Phone, second: Phone, second_number: str) -> None:
        second.answer_after = None  # rings until told
        desk.send_digits(f"*2{second_number}")
        await asyncio.wait_for(second.invited.get(), 10)
        await desk.hangup_incoming()
        await _until_heard(caller, MUSIC_HZ, 1.0)  # still held: the call goes on without the desk
        second.answer_incoming()
        await _until_heard(caller, SECOND_HZ, 1.5)
        await _until_heard(second, CALLER_HZ, 1.5)
        await caller.hangup()
        await second.wait_bye(5)

    _three_phones(office, scene)


def test_a_caller_that_hangs_up_during_the_consultation_ends_it_too(office: Office, codes: str) -> None:
    async def scene(caller: Phone, desk: Phone, second: Phone, second_number: str) -> None:
        desk.send_digits(f"*2{second_number}")
        await _until_heard(desk, SECOND_HZ, 1.0)
        await caller.hangup()
        await desk.wait_bye(5)
        await second.wait_bye(5)

    _three_phones(office, scene)


def test_a_caller_that_transfers_by_code_hands_its_party_on_and_the_file_keeps_that_party(
    office: Office, codes: str
) -> None:
    """The desk (a device of ours) calls the first phone (recorded) and transfers it by code to the second: during
    the consultation the file hears the first phone and its music, not the consultation; then the second phone
    takes the desk's channel; the call ends when the first phone hangs up."""
    desk_user, first_user, second_user = (f"{c}{uuid.uuid4().hex[:4]}" for c in "dfs")
    office.device(desk_user, password=PASSWORD)
    first_number = office.device_number(first_user, _record(office))
    second_number = office.device_number(second_user)
    marks: dict[str, float] = {}

    async def scenario() -> str:
        first = await _phone(office, first_user, FIRST_HZ)
        second = await _phone(office, second_user, SECOND_HZ)
        desk = await _phone(office, desk_user, CALLER_HZ)
        desk.password = PASSWORD
        try:
            assert (await desk.call(first_number)).status == 200
            marks["answered"] = time.monotonic()
            await _until_heard(desk, FIRST_HZ, 1.0)
            marks["pressed"] = time.monotonic()
            desk.send_digits(f"*2{second_number}")
            await _until_heard(first, MUSIC_HZ, 1.5)
            await _until_heard(desk, SECOND_HZ, 1.5)
            marks["transfer"] = time.monotonic()
            await desk.hangup()
            await _until_heard(first, SECOND_HZ, 1.5)
            marks["ended"] = time.monotonic()
            await first.hangup_incoming()
            await second.wait_bye(5)
            return desk.call_id
        finally:
            for phone in (desk, first, second):
                phone.close()

    call_id = asyncio.run(scenario())
    doc, pcm, rate = _recorded(office, call_id)
    [transfer] = doc["transfers"]
    offset = float(transfer["offset_s"])
    assert transfer["to"] == second_number and abs(offset - (marks["transfer"] - marks["answered"])) <= 0.5
    assert abs(len(pcm) / rate - (marks["ended"] - marks["answered"])) <= 0.5
    assert heard_for(np.ascontiguousarray(pcm[:, 1]), FIRST_HZ, rate=rate) >= len(pcm) / rate - 1.0
    windows = window_hz(np.ascontiguousarray(pcm[:, 0]), rate)  # the desk's channel: the desk, music, the second
    pressed, cut = int((marks["pressed"] - marks["answered"]) / 0.25), int(offset / 0.25)
    desk, held, second = windows[: pressed - 1], windows[pressed + 8 : cut - 1], windows[cut + 4 :]
    assert desk and sum(abs(hz - CALLER_HZ) < 20 for hz in desk) >= len(desk) - 1, desk
    assert held and sum(abs(hz - MUSIC_HZ) < 20 for hz in held) >= len(held) - 2, held
    assert second and sum(abs(hz - SECOND_HZ) < 20 for hz in second) >= len(second) - 2, second
