"""Transfers and holds (issue 21). Blind: the phone that answered hands the caller on with REFER (or the caller
hands on the phone it called); the caller hears the first phone, then the second; the one recording of the call
goes on with the new party in the same channel (or ends at the transfer with ``should_follow_transfer: false``),
and its metadata says when. Our phone and Debian's baresip (its ``transfer`` command) are the transferors; a
REFER to a number nothing answers to leaves the bridge standing. Attended: Replaces joins the caller (or the
caller's party) to the consultation call's party. A hold plays the account's music on hold to the caller, and
into the recording. The API starts, masks and stops a live call's recording. Carriers (the caller) come from
127.0.0.2; devices register from 127.0.0.1 with digest."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.audio import heard_for, tone, window_hz
from tests.e2e.account import Account, running, wait_delivered
from tests.e2e.baresip import Baresip
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.receiver.audio import wav_bytes

PASSWORD = "transfer-secret-1"
CALLER_HZ, FIRST_HZ, SECOND_HZ, BARESIP_HZ, MUSIC_HZ = 440.0, 1000.0, 1500.0, 700.0, 600.0


@dataclass
class Office(Account):
    sink: UploadSink = field(default_factory=UploadSink)

    def device_number(self, username: str, record: dict[str, Any] | None = None) -> str:
        """A device *username* and a number that rings it (recorded by *record*'s record_call data, if given)."""
        ring: dict[str, Any] = {"module": "device", "data": {"id": self.device(username, password=PASSWORD)}}
        return self.callflow({"module": "record_call", "data": record, "children": {"_": ring}} if record else ring)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    sink = UploadSink().start()
    args = ["--trusted-networks", "127.0.0.2/32", "--digest-algorithms", "MD5", "--rtp-ports", rtp_ports(25900, 25999)]
    try:
        with running(tmp_path_factory.mktemp("transfer"), args, "Transfers", Office, sink=sink) as office:
            yield office
    finally:
        sink.stop()


async def _phone(office: Office, username: str, hz: float) -> Phone:
    phone = await Phone(office.server.sip_port, user=username, realm=office.realm).start()
    phone.answer_after = 0.3
    phone.say_pcm(tone(hz, 30.0))
    assert (await phone.register(PASSWORD)).status == 200
    return phone


async def _caller(office: Office) -> Phone:
    """A caller from the carriers' address, saying its tone."""
    caller = await Phone(office.server.sip_port, host="127.0.0.2").start()
    caller.say_pcm(tone(CALLER_HZ, 30.0))
    return caller


def _recorded(office: Office, call_id: str, path: str = "") -> tuple[dict[str, Any], np.ndarray, int]:
    """The call's recording once delivered: its document, and the uploaded WAV (to a URL under *path*) decoded."""
    doc = wait_delivered(office.api, office.account_id, call_id)
    [upload] = [u for u in office.sink.uploads if call_id in u.path and u.path.startswith(path)]
    pcm, rate, _ = decode(upload.body, "wav")
    return doc, pcm, rate


async def _desk_call(
    office: Office, username: str, number: str, meanwhile: Callable[[Phone, Phone], Awaitable[None]]
) -> str:
    """The carriers' caller calls *number*, which rings the desk phone *username*; *meanwhile* runs while they talk,
    then the caller hangs up. The call's id."""
    desk = await _phone(office, username, FIRST_HZ)
    caller = await _caller(office)
    try:
        assert (await caller.call(number)).status == 200
        await meanwhile(caller, desk)
        await caller.hangup()
        return caller.call_id
    finally:
        caller.close()
        desk.close()


async def _control(office: Office, call_id: str, data: dict[str, Any]) -> httpx.Response:
    """``POST …/channels/{CALL_ID}/recordings`` with *data*."""
    path = f"/v2/accounts/{office.account_id}/channels/{call_id}/recordings"
    return await asyncio.to_thread(office.api.post, path, json={"data": data})


async def _until_heard(phone: Phone, hz: float, seconds: float, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while heard_for(phone.received.pcm(), hz) < seconds:
        assert time.monotonic() < deadline, f"{hz:g} Hz not heard for {seconds} s"
        await asyncio.sleep(0.1)


async def _notified(phone: Phone, status_line: str, within: float = 5.0) -> None:
    """Until the transferor gets the NOTIFY whose sipfrag is *status_line*."""
    deadline = time.monotonic() + within
    while True:
        request = await asyncio.wait_for(phone.requests.get(), max(0.1, deadline - time.monotonic()))
        if request.method == "NOTIFY" and request.body.decode().startswith(status_line):
            assert (request.headers.get("Event") or "").startswith("refer;id=")
            assert (request.content_type or "").startswith("message/sipfrag")
            return


def _record(office: Office, **data: Any) -> dict[str, Any]:
    return {"format": "wav", "url": f"{office.sink.url}/rec", **data}


async def _transferred_call(
    office: Office, first_username: str, first_number: str, second: str
) -> tuple[str, float, float, float]:
    """The caller reaches the first phone, which transfers it to *second*; (call-id, answered, transfer, end)."""
    first = await _phone(office, first_username, FIRST_HZ)
    caller = await _caller(office)
    try:
        assert (await caller.call(first_number)).status == 200
        answered = time.monotonic()
        await _until_heard(caller, FIRST_HZ, 2.0)
        transfer_at = time.monotonic()
        assert (await first.refer_incoming(f"sip:{second}@{office.realm}")).status == 202
        await _notified(first, "SIP/2.0 100")
        await _notified(first, "SIP/2.0 200")
        await first.wait_bye(5)  # the transferor leaves: calltape says BYE if its phone does not
        await _until_heard(caller, SECOND_HZ, 2.0)
        ended = time.monotonic()
        await caller.hangup()
        return caller.call_id, answered, transfer_at, ended
    finally:
        caller.close()
        first.close()


def _blind_transfer(
    office: Office, record: dict[str, Any]
) -> tuple[float, float, float, np.ndarray, int, dict[str, Any]]:
    """A recorded call transferred blind: (answered, transfer, end) times, the file's PCM and rate, its metadata."""
    first_username, second_username = f"a{uuid.uuid4().hex[:4]}", f"s{uuid.uuid4().hex[:4]}"
    first_number = office.device_number(first_username, record)
    second_number = office.device_number(second_username)

    async def scenario() -> tuple[str, float, float, float]:
        second = await _phone(office, second_username, SECOND_HZ)
        try:
            return await _transferred_call(office, first_username, first_number, second_number)
        finally:
            second.close()

    call_id, answered, transfer_at, ended = asyncio.run(scenario())
    doc, pcm, rate = _recorded(office, call_id)
    assert doc.get("transfers", [{}])[0].get("to", second_number) == second_number
    return answered, transfer_at, ended, pcm, rate, doc


def _handed_over(pcm: np.ndarray, rate: int, offset: float, channel: int = 1, first_hz: float = FIRST_HZ) -> None:
    """*channel* (by default the other party's) holds *first_hz* before *offset* and the second phone's tone after
    (per 250 ms window, a second's grace around the hand-over)."""
    windows = window_hz(np.ascontiguousarray(pcm[:, channel]), rate)
    cut = int(offset / 0.25)
    before, after = windows[: cut - 1], windows[cut + 4 :]
    assert sum(abs(hz - first_hz) < 20 for hz in before) >= len(before) - 2, before
    assert sum(abs(hz - SECOND_HZ) < 20 for hz in after) >= len(after) - 2, after


def test_a_blind_transfer_keeps_one_recording_with_the_new_party_in_the_same_channel(office: Office) -> None:
    answered, transfer_at, ended, pcm, rate, doc = _blind_transfer(office, _record(office))
    assert abs(len(pcm) / rate - (ended - answered)) <= 0.25
    [transfer] = doc["transfers"]
    offset = float(transfer["offset_s"])
    assert abs(offset - (transfer_at - answered)) <= 0.5
    assert heard_for(np.ascontiguousarray(pcm[:, 0]), CALLER_HZ, rate=rate) >= len(pcm) / rate - 1.0
    _handed_over(pcm, rate, offset)


def test_should_follow_transfer_false_ends_the_file_at_the_transfer(office: Office) -> None:
    answered, transfer_at, _ended, pcm, rate, _doc = _blind_transfer(
        office, _record(office, should_follow_transfer=False)
    )
    assert abs(len(pcm) / rate - (transfer_at - answered)) <= 0.5
    assert heard_for(np.ascontiguousarray(pcm[:, 1]), SECOND_HZ, rate=rate) == 0.0


def _desk_and_two_phones(office: Office) -> tuple[str, str, str, str, str]:
    """A desk phone (a device that calls), the first phone (its number recorded) and the second: the desk's user,
    then each phone's user and number."""
    desk_user, first_user, second_user = (f"{c}{uuid.uuid4().hex[:4]}" for c in "dfs")
    office.device(desk_user, password=PASSWORD)
    return (
        desk_user,
        first_user,
        office.device_number(first_user, _record(office)),
        second_user,
        (office.device_number(second_user)),
    )


def _caller_handed_over(
    office: Office, second_number: str, call_id: str, answered: float, transfer_at: float, ended: float
) -> None:
    """The desk's call's one file: the first phone in its channel to the end, the caller's channel the desk's tone
    then the second phone's from the transfer on, the transfer in its metadata."""
    doc, pcm, rate = _recorded(office, call_id)
    [transfer] = doc["transfers"]
    offset = float(transfer["offset_s"])
    assert transfer["to"] == second_number and abs(offset - (transfer_at - answered)) <= 0.5
    assert abs(len(pcm) / rate - (ended - answered)) <= 0.25
    assert heard_for(np.ascontiguousarray(pcm[:, 1]), FIRST_HZ, rate=rate) >= len(pcm) / rate - 1.0
    _handed_over(pcm, rate, offset, channel=0, first_hz=CALLER_HZ)


def test_the_caller_transfers_its_party_which_keeps_its_channel_of_the_one_recording(office: Office) -> None:
    """A desk phone calls the first phone (recorded), then REFERs it to the second: the first phone hears the
    second, the desk is let go, and the one file has the desk then the second phone in the caller's channel
    while the first phone stays in the other, to the end of the call, which the first phone ends."""
    desk_user, first_user, first_number, second_user, second_number = _desk_and_two_phones(office)

    async def scenario() -> tuple[str, float, float, float]:
        first = await _phone(office, first_user, FIRST_HZ)
        second = await _phone(office, second_user, SECOND_HZ)
        desk = await _phone(office, desk_user, CALLER_HZ)
        desk.password = PASSWORD
        try:
            assert (await desk.call(first_number)).status == 200
            answered = time.monotonic()
            await _until_heard(desk, FIRST_HZ, 2.0)
            transfer_at = time.monotonic()
            assert (await desk.refer(f"sip:{second_number}@{office.realm}")).status == 202
            await _notified(desk, "SIP/2.0 100")
            await _notified(desk, "SIP/2.0 200")
            await desk.wait_bye(5)  # let go: calltape says BYE if the desk does not hang up
            await _until_heard(first, SECOND_HZ, 2.0)  # the first phone now talks to the second
            ended = time.monotonic()
            await first.hangup_incoming()
            await second.wait_bye(5)
            return desk.call_id, answered, transfer_at, ended
        finally:
            for phone in (desk, first, second):
                phone.close()

    _caller_handed_over(office, second_number, *asyncio.run(scenario()))


@pytest.mark.parametrize(
    ("target", "outcome"),
    [
        ("sip:0000@{realm}", "SIP/2.0 404"),  # a number nothing answers to
        ("sip:{number}@{realm}?Replaces=nosuchcall%3Bto-tag%3Da%3Bfrom-tag%3Db", "SIP/2.0 481"),  # no such call
    ],
)
def test_a_transfer_that_cannot_be_made_is_notified_and_the_bridge_stands(
    office: Office, target: str, outcome: str
) -> None:
    """The REFER is accepted (202: a 481 to it would end its dialog) and the NOTIFY tells why; the caller stays
    with the first phone."""
    username = f"c{uuid.uuid4().hex[:4]}"
    number = office.device_number(username)

    async def scenario() -> Phone:
        first = await _phone(office, username, FIRST_HZ)
        caller = await _caller(office)
        try:
            assert (await caller.call(number)).status == 200
            await _until_heard(caller, FIRST_HZ, 1.0)
            refer = await first.refer_incoming(target.format(number=number, realm=office.realm))
            assert refer.status == 202
            await _notified(first, outcome)
            heard = heard_for(caller.received.pcm(), FIRST_HZ)
            await _until_heard(caller, FIRST_HZ, heard + 1.5)  # still bridged to the first phone
            assert first.bye_at is None
            await caller.hangup()
            return first
        finally:
            caller.close()
            first.close()

    asyncio.run(scenario())


def test_baresip_transfers_with_its_transfer_command_as_callee_and_as_caller(office: Office, tmp_path: Path) -> None:
    bare_number = office.device_number("bare")
    first_username = f"f{uuid.uuid4().hex[:4]}"
    first_number = office.device_number(first_username)
    second_username = f"team{uuid.uuid4().hex[:4]}"
    second_number = office.device_number(second_username)
    baresip = Baresip(tmp_path / "baresip", f"sip:bare@{office.realm}", PASSWORD, office.server.sip_port, hz=700)

    async def scenario() -> Phone:
        second = await _phone(office, second_username, SECOND_HZ)
        caller = await _caller(office)
        try:
            assert (await caller.call(bare_number)).status == 200
            await _until_heard(caller, BARESIP_HZ, 1.5)
            assert (await asyncio.to_thread(baresip.command, "transfer", f"sip:{second_number}@{office.realm}"))["ok"]
            await _until_heard(caller, SECOND_HZ, 2.0)
            await caller.hangup()
            return caller
        finally:
            caller.close()
            second.close()

    async def as_caller() -> None:  # baresip calls the first phone, then hands it on to the second
        first = await _phone(office, first_username, FIRST_HZ)
        second = await _phone(office, second_username, SECOND_HZ)
        try:
            assert (await asyncio.to_thread(baresip.command, "dial", f"sip:{first_number}@{office.realm}"))["ok"]
            await _until_heard(first, BARESIP_HZ, 1.0)
            assert (await asyncio.to_thread(baresip.command, "transfer", f"sip:{second_number}@{office.realm}"))["ok"]
            await _until_heard(first, SECOND_HZ, 2.0)
            await first.hangup_incoming()
            await second.wait_bye(5)
        finally:
            first.close()
            second.close()

    try:
        baresip.wait_registered()
        asyncio.run(scenario())
        baresip.wait_event("CALL_CLOSED")  # baresip's own leg ended with the transfer
        asyncio.run(as_caller())
        baresip.wait_event("CALL_CLOSED")
    finally:
        baresip.close()


def test_an_attended_transfer_joins_the_caller_to_the_consultation_calls_party(office: Office) -> None:
    """The first phone talks to the caller, calls the second phone itself (the consultation call), then REFERs
    the caller there with Replaces naming that call: the caller and the second phone talk, both of the first
    phone's calls end, and the caller's one recording holds the first phone's tone, then the second's."""
    first_username = f"d{uuid.uuid4().hex[:4]}"
    first_number = office.device_number(first_username, _record(office))
    second_username = f"e{uuid.uuid4().hex[:4]}"
    second_number = office.device_number(second_username)

    async def scenario() -> tuple[str, float, float, float, Phone]:
        first = await _phone(office, first_username, FIRST_HZ)
        second = await _phone(office, second_username, SECOND_HZ)
        consult = await Phone(
            office.server.sip_port, user=first_username, realm=office.realm, password=PASSWORD
        ).start()
        consult.say_pcm(tone(FIRST_HZ, 30.0))
        caller = await _caller(office)
        try:
            assert (await caller.call(first_number)).status == 200
            answered = time.monotonic()
            await _until_heard(caller, FIRST_HZ, 2.0)
            assert (await consult.call(second_number)).status == 200  # the consultation call
            await _until_heard(consult, SECOND_HZ, 1.0)
            replaces = f"{consult.call_id}%3Bto-tag%3D{consult.to_tag}%3Bfrom-tag%3D{consult.from_tag}"
            transfer_at = time.monotonic()
            refer = await first.refer_incoming(f"sip:{second_number}@{office.realm}?Replaces={replaces}")
            assert refer.status == 202
            await _notified(first, "SIP/2.0 200")
            await first.wait_bye(5)  # both of the transferor's calls end
            await consult.wait_bye(5)
            await _until_heard(caller, SECOND_HZ, 2.0)
            ended = time.monotonic()
            await caller.hangup()
            await second.wait_bye(5)  # the caller's hangup reaches the party it was joined to
            return caller.call_id, answered, transfer_at, ended, second
        finally:
            for phone in (caller, first, second, consult):
                phone.close()

    call_id, answered, transfer_at, ended, second = asyncio.run(scenario())
    assert heard_for(second.received.pcm(), CALLER_HZ) >= 1.5, "the second phone did not hear the caller"
    doc = wait_delivered(office.api, office.account_id, call_id)
    [transfer] = doc["transfers"]
    assert transfer["to"] == second_number and abs(float(transfer["offset_s"]) - (transfer_at - answered)) <= 0.5
    [upload] = [u for u in office.sink.uploads if call_id in u.path]
    pcm, rate, _ = decode(upload.body, "wav")
    assert abs(len(pcm) / rate - (ended - answered)) <= 0.25
    _handed_over(pcm, rate, float(transfer["offset_s"]))


def test_the_caller_joins_its_party_to_its_consultation_call_with_replaces(office: Office) -> None:
    """A desk phone calls the first phone (recorded), calls the second itself, then REFERs the first call with
    Replaces naming the second: the first and second phones talk, both of the desk's calls end, and the one file
    keeps the first phone in its channel while the caller's channel goes from the desk to the second phone."""
    desk_user, first_user, first_number, second_user, second_number = _desk_and_two_phones(office)

    async def scenario() -> tuple[str, float, float, float]:
        first = await _phone(office, first_user, FIRST_HZ)
        second = await _phone(office, second_user, SECOND_HZ)
        desk = await _phone(office, desk_user, CALLER_HZ)
        consult = await Phone(office.server.sip_port, user=desk_user, realm=office.realm, password=PASSWORD).start()
        consult.say_pcm(tone(CALLER_HZ, 30.0))
        desk.password = PASSWORD
        try:
            assert (await desk.call(first_number)).status == 200
            answered = time.monotonic()
            await _until_heard(desk, FIRST_HZ, 2.0)
            assert (await consult.call(second_number)).status == 200  # the consultation call
            await _until_heard(consult, SECOND_HZ, 1.0)
            replaces = f"{consult.call_id}%3Bto-tag%3D{consult.to_tag}%3Bfrom-tag%3D{consult.from_tag}"
            transfer_at = time.monotonic()
            assert (await desk.refer(f"sip:{second_number}@{office.realm}?Replaces={replaces}")).status == 202
            await _notified(desk, "SIP/2.0 200")
            await desk.wait_bye(5)  # both of the desk's calls end
            await consult.wait_bye(5)
            await _until_heard(first, SECOND_HZ, 2.0)
            ended = time.monotonic()
            await first.hangup_incoming()
            await second.wait_bye(5)  # the first phone's hangup reaches the party it was joined to
            assert heard_for(second.received.pcm(), FIRST_HZ) >= 1.5, "the second phone did not hear the first"
            return desk.call_id, answered, transfer_at, ended
        finally:
            for phone in (desk, consult, first, second):
                phone.close()

    _caller_handed_over(office, second_number, *asyncio.run(scenario()))


def test_a_held_caller_hears_the_accounts_music_and_so_does_the_recording(office: Office) -> None:
    """The answering phone holds (re-INVITE sendonly): the caller hears the account's music on hold until it
    resumes, the recording's other-party channel holds the music at that place, and its metadata the hold."""
    music = office.put("media", {"name": "hold music"})
    raw = f"/v2/accounts/{office.account_id}/media/{music}/raw"
    r = office.api.put(raw, content=wav_bytes(1.0, MUSIC_HZ), headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200, r.text
    r = office.api.patch(f"/v2/accounts/{office.account_id}", json={"data": {"music_on_hold": {"media_id": music}}})
    assert r.status_code == 200, r.text
    username = f"h{uuid.uuid4().hex[:4]}"
    number = office.device_number(username, _record(office))

    async def scenario() -> tuple[str, float, float, float, float]:
        desk = await _phone(office, username, FIRST_HZ)
        caller = await _caller(office)
        try:
            assert (await caller.call(number)).status == 200
            answered = time.monotonic()
            await _until_heard(caller, FIRST_HZ, 1.5)
            held_at = time.monotonic()
            assert (await desk.reinvite_incoming("sendonly")).status == 200
            await _until_heard(caller, MUSIC_HZ, 2.0)
            resumed_at = time.monotonic()
            assert (await desk.reinvite_incoming("sendrecv")).status == 200
            heard = heard_for(caller.received.pcm(), FIRST_HZ)
            await _until_heard(caller, FIRST_HZ, heard + 1.5)  # back to the desk phone
            ended = time.monotonic()
            await caller.hangup()
            return caller.call_id, answered, held_at, resumed_at, ended
        finally:
            caller.close()
            desk.close()

    call_id, answered, held_at, resumed_at, _ended = asyncio.run(scenario())
    doc = wait_delivered(office.api, office.account_id, call_id)
    [hold] = doc["holds"]
    assert abs(float(hold["offset_s"]) - (held_at - answered)) <= 0.5
    assert abs(float(hold["length_s"]) - (resumed_at - held_at)) <= 0.5
    [upload] = [u for u in office.sink.uploads if call_id in u.path]
    pcm, rate, _ = decode(upload.body, "wav")
    windows = window_hz(np.ascontiguousarray(pcm[:, 1]), rate)
    start, stop = int(float(hold["offset_s"]) / 0.25), int((float(hold["offset_s"]) + float(hold["length_s"])) / 0.25)
    during = windows[start + 2 : stop - 1]
    assert during and sum(abs(hz - MUSIC_HZ) < 20 for hz in during) >= len(during) - 1, during
    assert sum(abs(hz - FIRST_HZ) < 20 for hz in windows[stop + 2 :]) >= 4  # the desk phone again after


def test_the_api_starts_masks_and_stops_a_live_calls_recording(office: Office) -> None:
    """``POST …/channels/{CALL_ID}/recordings``: start on a call that was not recorded, mask (the file holds no
    audio of the caller meanwhile), unmask, stop; the channel lists the recording and its state; another
    account's token sees no such call; a bad action is a 400 naming it."""
    username = f"live{uuid.uuid4().hex[:4]}"
    number = office.device_number(username)

    marks: list[float] = []
    started: list[dict[str, Any]] = []

    async def meanwhile(caller: Phone, desk: Phone) -> None:
        await _until_heard(caller, FIRST_HZ, 1.0)
        r = await _control(
            office, caller.call_id, {"action": "start", "format": "wav", "url": f"{office.sink.url}/live"}
        )
        assert r.status_code == 200, r.text
        [running] = r.json()["data"]["recordings"]
        assert running["state"] == "recording"
        started.append(running)
        marks.append(time.monotonic())
        await asyncio.sleep(1.5)
        r = await _control(office, caller.call_id, {"action": "mask"})
        assert r.json()["data"]["recordings"][0]["state"] == "masked"
        marks.append(time.monotonic())
        await asyncio.sleep(2.0)
        assert (await _control(office, caller.call_id, {"action": "unmask"})).status_code == 200
        marks.append(time.monotonic())
        await asyncio.sleep(1.5)
        bad = await _control(office, caller.call_id, {"action": "rewind"})
        assert bad.status_code == 400 and "action" in json.dumps(bad.json()), bad.text
        assert (await _control(office, "no-such-call", {"action": "stop"})).status_code == 404
        r = await _control(office, caller.call_id, {"action": "stop"})
        assert r.json()["data"]["recordings"] == []
        marks.append(time.monotonic())

    call_id = asyncio.run(_desk_call(office, username, number, meanwhile))
    [running] = started
    _, pcm, rate = _recorded(office, call_id, "/live")
    assert abs(len(pcm) / rate - (marks[3] - marks[0])) <= 0.3
    caller_windows = window_hz(np.ascontiguousarray(pcm[:, 0]), rate)
    masked = caller_windows[int((marks[1] - marks[0]) / 0.25) + 1 : int((marks[2] - marks[0]) / 0.25) - 1]
    unmasked = caller_windows[: int((marks[1] - marks[0]) / 0.25) - 1]
    assert masked and all(hz == 0.0 for hz in masked), masked  # no frame of the caller while masked
    assert sum(abs(hz - CALLER_HZ) < 20 for hz in unmasked) >= len(unmasked) - 1, unmasked
    assert running["format"] == "wav" and running["follows_transfer"] is True


def test_the_api_pauses_a_live_recording_and_the_file_leaves_the_pause_out_and_lists_it(office: Office) -> None:
    """Issue 22: ``pause``/``resume`` on a live call with ``pause_behavior: skip`` (the default): the file is as long
    as the call's recorded time minus the pause, the caller's tone runs through the splice, and the metadata lists
    the pause where it falls in the file."""
    username = f"pz{uuid.uuid4().hex[:4]}"
    number = office.device_number(username)

    marks: list[float] = []

    async def meanwhile(caller: Phone, desk: Phone) -> None:
        await _until_heard(caller, FIRST_HZ, 1.0)
        data = {"action": "start", "format": "wav", "url": f"{office.sink.url}/paused"}
        assert (r := await _control(office, caller.call_id, data)).status_code == 200, r.text
        marks.append(time.monotonic())
        await asyncio.sleep(1.5)
        r = await _control(office, caller.call_id, {"action": "pause"})
        assert r.json()["data"]["recordings"][0]["state"] == "paused"
        marks.append(time.monotonic())
        await asyncio.sleep(2.0)
        r = await _control(office, caller.call_id, {"action": "resume"})
        assert r.json()["data"]["recordings"][0]["state"] == "recording"
        marks.append(time.monotonic())
        await asyncio.sleep(1.5)
        assert (await _control(office, caller.call_id, {"action": "stop"})).status_code == 200
        marks.append(time.monotonic())

    call_id = asyncio.run(_desk_call(office, username, number, meanwhile))
    doc, pcm, rate = _recorded(office, call_id, "/paused")
    paused = marks[2] - marks[1]
    assert abs(len(pcm) / rate - (marks[3] - marks[0] - paused)) <= 0.3  # the pause is not in the file
    [pause] = doc["pauses"]
    assert abs(pause["offset"] - (marks[1] - marks[0])) <= 0.3 and abs(pause["length"] - paused) <= 0.3
    assert doc["frames"]["left_out"]["paused"] >= 2 * 50 * (paused - 0.3)  # both directions' frames, counted
    windows = window_hz(np.ascontiguousarray(pcm[:, 0]), rate)
    assert sum(abs(hz - CALLER_HZ) < 20 for hz in windows) >= len(windows) - 2, windows  # the tone runs on


def test_feature_codes_pause_and_resume_the_recording_and_their_digits_reach_nobody(office: Office) -> None:
    """Issue 22: the account's metaflows ``*2`` pause and ``*3`` resume the call's recording; the far end's RFC 4733
    log holds none of those digits, while a digit that is no code (``5``) reaches it; the file leaves the pause
    out and lists it."""
    codes = {
        "2": {"module": "record_call", "data": {"action": "pause"}},
        "3": {"module": "record_call", "data": {"action": "resume"}},
    }
    account = f"/v2/accounts/{office.account_id}"
    assert office.api.patch(account, json={"data": {"metaflows": {"numbers": codes}}}).status_code == 200
    username = f"fc{uuid.uuid4().hex[:4]}"
    number = office.device_number(username, {"format": "wav", "url": f"{office.sink.url}/codes"})

    async def scenario() -> tuple[str, list[float], list[int]]:
        desk = await _phone(office, username, FIRST_HZ)
        caller = await _caller(office)
        marks: list[float] = []
        try:
            assert (await caller.call(number)).status == 200
            await _until_heard(caller, FIRST_HZ, 1.0)
            caller.send_digits("*2")
            marks.append(time.time())
            await asyncio.sleep(2.0)
            caller.send_digits("*3")
            marks.append(time.time())
            await asyncio.sleep(1.5)
            caller.send_digits("5")
            await asyncio.sleep(1.0)
            await caller.hangup()
            marks.append(time.time())
            await desk.wait_bye(10)
            events = [payload[0] for _, pt, payload in desk.received.frames if pt == 101 and payload]
            return caller.call_id, marks, events
        finally:
            caller.close()
            desk.close()

    try:
        call_id, marks, events = asyncio.run(scenario())
    finally:
        office.api.patch(account, json={"data": {"metaflows": None}})
    assert set(events) == {5}, events  # RFC 4733 event codes: * is 10, 2 and 3 are themselves
    doc = wait_delivered(office.api, office.account_id, call_id)
    [pause] = doc["pauses"]
    assert abs(pause["length"] - (marks[1] - marks[0])) <= 0.4
    assert abs(doc["duration_ms"] / 1000 - (marks[2] - doc["created"] - pause["length"])) <= 0.5
    assert doc["frames"]["left_out"]["paused"] > 0


def test_consent_both_parties_hear_the_announcement_before_the_recording_starts(office: Office) -> None:
    """Issue 22: ``announce`` on record_call: once the call is answered, caller and callee hear it (before they are
    bridged), and the recording starts after it: no frame of it is in the file."""
    announce_hz = 880.0
    media = office.put("media", {"name": "consent"})
    raw = f"/v2/accounts/{office.account_id}/media/{media}/raw"
    assert (
        office.api.put(raw, content=wav_bytes(1.0, announce_hz), headers={"Content-Type": "audio/wav"}).status_code
        < 300
    )
    username = f"cs{uuid.uuid4().hex[:4]}"
    number = office.device_number(username, {"format": "wav", "url": f"{office.sink.url}/consent", "announce": media})

    async def meanwhile(caller: Phone, desk: Phone) -> None:
        await _until_heard(caller, announce_hz, 0.8)
        await _until_heard(desk, announce_hz, 0.8)
        await _until_heard(caller, FIRST_HZ, 1.5)  # then bridged

    call_id = asyncio.run(_desk_call(office, username, number, meanwhile))
    _, pcm, rate = _recorded(office, call_id, "/consent")
    said, heard = (window_hz(np.ascontiguousarray(pcm[:, c]), rate) for c in (0, 1))
    assert all(abs(hz - announce_hz) > 20 for hz in said + heard)  # nothing of the announcement in the file
    assert sum(abs(hz - FIRST_HZ) < 20 for hz in heard) >= len(heard) - 3 and len(heard) >= 4  # the bridge after it
    assert sum(abs(hz - CALLER_HZ) < 20 for hz in said) >= len(said) - 3


def test_consent_given_before_a_party_joins_is_told_to_that_party_too(office: Office) -> None:
    """Issue 22: the call is answered (as an IVR would) and recorded with ``announce`` before it rings the desk:
    the caller hears the announcement at once, and the desk phone hears it when it answers, before the bridge."""
    announce_hz = 880.0
    media = office.put("media", {"name": "consent"})
    raw = f"/v2/accounts/{office.account_id}/media/{media}/raw"
    assert (
        office.api.put(raw, content=wav_bytes(1.0, announce_hz), headers={"Content-Type": "audio/wav"}).status_code
        < 300
    )
    username = f"cj{uuid.uuid4().hex[:4]}"
    device = office.put("devices", {"name": username, "sip": {"username": username, "password": PASSWORD}})
    record = {"format": "wav", "url": f"{office.sink.url}/joined", "announce": media}
    ring = {"module": "device", "data": {"id": device}}
    flow = {"module": "answer", "children": {"_": {"module": "record_call", "data": record, "children": {"_": ring}}}}
    number = str(next(office.numbers))
    office.put("callflows", {"numbers": [number], "flow": flow})

    async def meanwhile(caller: Phone, desk: Phone) -> None:
        await _until_heard(caller, announce_hz, 0.8)
        await _until_heard(desk, announce_hz, 0.8)  # the party joining later
        await _until_heard(caller, FIRST_HZ, 1.0)

    call_id = asyncio.run(_desk_call(office, username, number, meanwhile))
    _, pcm, rate = _recorded(office, call_id, "/joined")
    heard = window_hz(np.ascontiguousarray(pcm[:, 1]), rate)
    assert all(abs(hz - announce_hz) > 20 for hz in heard) and sum(abs(hz - FIRST_HZ) < 20 for hz in heard) >= 3


def test_a_beep_every_two_seconds_is_heard_by_both_and_is_in_the_file(office: Office) -> None:
    """Issue 22: ``beep_interval`` (as Asterisk's MixMonitor B()): while the bridged call is recorded, both parties
    hear a beep every 2 s, and the file has each one where it was played."""
    beep_hz = 1400.0
    username = f"bp{uuid.uuid4().hex[:4]}"
    number = office.device_number(username, {"format": "wav", "url": f"{office.sink.url}/beeps", "beep_interval": 2})

    async def meanwhile(caller: Phone, desk: Phone) -> None:
        await _until_heard(caller, FIRST_HZ, 1.0)
        deadline = time.monotonic() + 20
        while _bursts(caller.received.pcm(), beep_hz) < 2 or _bursts(desk.received.pcm(), beep_hz) < 2:
            assert time.monotonic() < deadline, "two beeps not heard by both"
            await asyncio.sleep(0.2)

    call_id = asyncio.run(_desk_call(office, username, number, meanwhile))
    _, pcm, rate = _recorded(office, call_id, "/beeps")
    starts = _burst_starts(np.ascontiguousarray(pcm[:, 1]), beep_hz, rate)
    assert len(starts) >= 2 and all(1.8 <= b - a <= 2.6 for a, b in itertools.pairwise(starts)), starts


def _burst_starts(pcm: np.ndarray, hz: float, rate: int = 8000) -> list[float]:
    """Where each burst of *hz* begins (in 50 ms windows; a burst is a run of them)."""
    windows = window_hz(pcm, rate, 0.05)
    return [i * 0.05 for i, w in enumerate(windows) if abs(w - hz) < 30 and (i == 0 or abs(windows[i - 1] - hz) >= 30)]


def _bursts(pcm: np.ndarray, hz: float) -> int:
    return len(_burst_starts(pcm, hz))


def test_another_accounts_token_sees_no_such_call(office: Office) -> None:
    other = Account.create(office.server, "Other")
    key = office.api.get(f"/v2/accounts/{other.account_id}/api_key").json()["data"]["api_key"]
    token = httpx.put(f"{office.server.api_url}/v2/api_auth", json={"data": {"api_key": key}}).json()["auth_token"]
    with httpx.Client(base_url=office.server.api_url, headers={"X-Auth-Token": token}) as tenant:
        r = tenant.post(
            f"/v2/accounts/{other.account_id}/channels/anything/recordings", json={"data": {"action": "stop"}}
        )
        assert r.status_code == 404
        r = tenant.get(f"/v2/accounts/{office.account_id}/channels/anything")
        assert r.status_code == 403  # not its account


def test_a_transferor_that_hangs_up_as_soon_as_its_refer_is_accepted_does_not_end_the_call(office: Office) -> None:
    first_username = f"g{uuid.uuid4().hex[:4]}"
    first_number = office.device_number(first_username)
    second_username = f"k{uuid.uuid4().hex[:4]}"
    second_number = office.device_number(second_username)

    async def scenario() -> None:
        first = await _phone(office, first_username, FIRST_HZ)
        second = await _phone(office, second_username, SECOND_HZ)
        caller = await _caller(office)
        try:
            assert (await caller.call(first_number)).status == 200
            await _until_heard(caller, FIRST_HZ, 1.0)
            assert (await first.refer_incoming(f"sip:{second_number}@{office.realm}")).status == 202
            await first.hangup_incoming()  # at once, as many phones do after a blind transfer
            await _until_heard(caller, SECOND_HZ, 2.0)
            assert caller.bye_at is None
            await caller.hangup()
        finally:
            for phone in (caller, first, second):
                phone.close()

    asyncio.run(scenario())
