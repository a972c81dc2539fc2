"""Voicemail (issue 7): nobody answers, the caller leaves a message; the box's owner listens to it after the PIN.

The message must hold the caller's audio (its frequency) for as long as the caller spoke, be listed
and downloadable as a real WAV over the API, and e-mailed to the box's owner through a real SMTP server that
requires a login (issue 21); ``check`` must play it back; a wrong PIN three times ends the call with nothing played.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest

from tests.audio import tone
from tests.e2e.account import Account, running
from tests.e2e.sipp_runner import free_port
from tests.e2e.upload_sink import decode
from tests.notify.smtp_server import Inbox, start_smtp
from tests.phone import Phone
from tests.ports import rtp_ports

CALLER_HZ = 440.0
SPOKEN = 3.0


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Webhook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Box(Account):
    box_id: str = ""
    compose_number: str = ""  # rings Grace's phone, then her voicemail
    check_number: str = ""  # her voicemail's check action
    inbox: Inbox = field(default_factory=Inbox)  # what the SMTP relay received

    def messages(self) -> list[dict[str, Any]]:
        r = self.api.get(f"/v2/accounts/{self.account_id}/vmboxes/{self.box_id}/messages")
        assert r.status_code == 200, r.text
        return list(r.json()["data"])


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    inbox, smtp_port = Inbox(), free_port(socket.SOCK_STREAM)
    smtp = start_smtp(smtp_port, inbox, credentials=("vm", "s3cret"))
    webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(26400, 26599)]
    try:
        with running(
            tmp_path_factory.mktemp("vm"), args, "VM", Box, doc={"realm": "vm.example.com"}, inbox=inbox
        ) as vm:
            yield _provision(vm, smtp_port, webhook.server_address[1])
    finally:
        smtp.stop()
        webhook.shutdown()


def _provision(vm: Box, smtp_port: int, webhook_port: int) -> Box:
    """Grace, her phone that never answers, her box (PIN 1234, e-mailed and webhooked) and its two numbers."""
    api, put = vm.api, vm.put
    smtp_client = {"relay": "127.0.0.1", "port": smtp_port, "auth": "always", "username": "vm", "password": "s3cret"}
    smtp_client["tls"] = "never"  # the test server has no certificate: the password may go in the clear
    r = api.put("/v2/system_configs/smtp_client", json={"data": {**smtp_client, "default_from": "vm@vm.example.com"}})
    assert r.status_code == 200 and r.json()["data"]["password"] == "********", r.text  # never shown
    shown = api.get("/v2/system_configs/smtp_client").json()["data"]
    assert api.put("/v2/system_configs/smtp_client", json={"data": shown}).status_code == 200  # the secret is kept
    user = put("users", {"first_name": "Grace", "last_name": "Hopper", "email": "grace@vm.example.com"})
    sip = {"username": "grace", "password": "grace-secret", "invite_format": "route"}
    sip["route"] = f"sip:grace@127.0.0.1:{free_port()}"  # nobody there: the phone never answers
    put("devices", {"name": "desk", "owner_id": user, "sip": sip})
    box_id = put(
        "vmboxes",
        {
            "name": "Grace",
            "mailbox": "2000",
            "pin": "1234",
            "owner_id": user,
            "skip_instructions": True,
            "notify_webhook": f"http://127.0.0.1:{webhook_port}/vm",
        },
    )
    compose = str(8000 + uuid.uuid4().int % 1000)
    flow = {
        "module": "user",
        "data": {"id": user, "timeout": 2},
        "children": {"_": {"module": "voicemail", "data": {"id": box_id}}},
    }
    put("callflows", {"numbers": [compose], "flow": flow})
    check = str(int(compose) + 1)
    put("callflows", {"numbers": [check], "flow": {"module": "voicemail", "data": {"id": box_id, "action": "check"}}})
    vm.box_id, vm.compose_number, vm.check_number = box_id, compose, check
    return vm


def _is_tone(chunk: np.ndarray, hz: float) -> bool:
    """A loud, pure *hz* (most of the energy within 30 Hz of it: a test tone, not speech)."""
    if np.abs(chunk.astype(np.int32)).max() < 1000:
        return False
    power = np.abs(np.fft.rfft(chunk.astype(np.float64) * np.hanning(len(chunk)))) ** 2
    freqs = np.fft.rfftfreq(len(chunk), 1 / 8000)
    return bool(power[np.abs(freqs - hz) < 30].sum() > 0.8 * power.sum())


def _seconds_of(pcm: np.ndarray, hz: float, window: int = 400) -> float:
    """How long *pcm* carries a pure *hz* (in 50 ms windows)."""
    return sum(_is_tone(pcm[i : i + window], hz) for i in range(0, len(pcm) - window, window)) * window / 8000


async def _wait_for_tone(phone: Phone, hz: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pcm = phone.received.pcm(0)[-1600:]
        if len(pcm) == 1600 and _is_tone(pcm, hz):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no {hz} Hz heard")


def test_no_answer_leaves_a_message_that_is_listed_and_downloadable(box: Box) -> None:
    async def scenario() -> None:
        caller = await Phone(box.server.sip_port).start()
        try:
            assert (await caller.call(box.compose_number, timeout=15)).status == 200
            await _wait_for_tone(caller, 1000.0, 20)  # the beep, after the spoken greeting
            await asyncio.sleep(0.3)
            caller.say_pcm(tone(CALLER_HZ, SPOKEN))
            await asyncio.sleep(SPOKEN + 0.3)
            await caller.hangup()  # hanging up ends and keeps the message
        finally:
            caller.close()

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while not (listed := box.messages()) and time.monotonic() < deadline:
        time.sleep(0.1)
    [message] = listed
    assert message["folder"] == "new" and message["caller_id_number"] == "tester"
    url = f"/v2/accounts/{box.account_id}/vmboxes/{box.box_id}/messages/{message['id']}"
    audio = box.api.get(url, headers={"Accept": "audio/mpeg"})  # MP3: Kazoo's media_extension by default
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert message["media_type"] == "audio/mpeg"
    decoded, rate, channels = decode(audio.content, "mp3")  # by mpg123, which honours the gapless Info frame
    assert (channels, rate) == (1, 8000)
    pcm = decoded[:, 0]
    assert abs(len(pcm) / 8000 - message["length"] / 1000) < 0.05  # the metadata tells the file's real length
    assert abs(_seconds_of(pcm, CALLER_HZ) - SPOKEN) <= 0.2  # the caller's audio, for as long as they spoke
    assert box.api.get(url).json()["data"]["id"] == message["id"]  # and the same message as JSON
    assert [m["data"]["id"] for m in _Webhook.received] == [message["id"]]  # the box's webhook was told
    mail = box.inbox.wait_for(1)[0]  # and its owner was e-mailed, logging in as smtp_client says
    assert (mail.login, mail.mail_from, mail.rcpt_tos) == ("vm", "vm@vm.example.com", ["grace@vm.example.com"])
    assert mail.message["Subject"] == "New voicemail from tester"
    assert "Length: 00:00:03" in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [attached] = list(mail.message.iter_attachments())
    assert (attached.get_filename(), attached.get_content_type()) == (f"{message['id']}.mp3", "audio/mpeg")
    assert attached.get_content() == audio.content  # the message itself, whole
    smtplog = f"/v2/accounts/{box.account_id}/notifications/smtplog"
    deadline = time.monotonic() + 5  # the relay's answer is logged just after it came
    while (log := box.api.get(smtplog).json()["data"])[0]["state"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(e["template_id"], e["state"], e["receipt"]) for e in log] == [
        ("voicemail_to_email", "sent", "2.0.0 Ok: queued as Q1")
    ]
    assert log[0]["emails"] == {"from": "vm@vm.example.com", "to": ["grace@vm.example.com"]}
    metrics = dict(line.rsplit(" ", 1) for line in box.api.get("/metrics").text.splitlines() if line[:1] != "#")
    assert (
        float(metrics['calltape_emails{state="sent"}']) >= 1 and float(metrics['calltape_emails{state="pending"}']) == 0
    )


def test_check_plays_the_message_after_the_pin(box: Box) -> None:
    if not box.messages():
        test_no_answer_leaves_a_message_that_is_listed_and_downloadable(box)

    async def scenario() -> float:
        owner = await Phone(box.server.sip_port).start()
        try:
            assert (await owner.call(box.check_number)).status == 200
            owner.send_digits("1234#1")  # typed ahead: the PIN, then Kazoo's main menu: 1 new messages
            await _wait_for_tone(owner, CALLER_HZ, 30)  # the message plays
            owner.send_digits("1#")  # Kazoo's keys: 1 keeps it (saved); back in the main menu, # leaves
            await owner.wait_bye(30)
            return _seconds_of(owner.received.pcm(0), CALLER_HZ)
        finally:
            owner.close()

    heard = asyncio.run(scenario())
    assert heard >= SPOKEN - 0.5
    assert {m["folder"] for m in box.messages()} == {"saved"}


def test_a_wrong_pin_three_times_hangs_up_with_nothing_played(box: Box) -> None:
    async def scenario() -> float:
        owner = await Phone(box.server.sip_port).start()
        try:
            assert (await owner.call(box.check_number)).status == 200
            owner.send_digits("9999#9999#9999#")
            await owner.wait_bye(40)
            return _seconds_of(owner.received.pcm(0), CALLER_HZ)
        finally:
            owner.close()

    assert asyncio.run(scenario()) == 0.0


def test_delete_after_notify_moves_the_message_to_the_deleted_folder_once_the_webhook_took_it(box: Box) -> None:
    webhook_url = box.api.get(f"/v2/accounts/{box.account_id}/vmboxes/{box.box_id}").json()["data"]["notify_webhook"]
    doc = {
        "name": "Relay",
        "mailbox": "3000",
        "skip_greeting": True,
        "skip_instructions": True,
        "delete_after_notify": True,
        "notify_webhook": webhook_url,
    }
    r = box.api.put(f"/v2/accounts/{box.account_id}/vmboxes", json={"data": doc})
    assert r.status_code == 201, r.text
    relay_box = r.json()["data"]["id"]
    number = str(int(box.check_number) + 1)
    flow = {"numbers": [number], "flow": {"module": "voicemail", "data": {"id": relay_box}}}
    assert box.api.put(f"/v2/accounts/{box.account_id}/callflows", json={"data": flow}).status_code == 201
    already = len(_Webhook.received)

    async def scenario() -> None:
        caller = await Phone(box.server.sip_port).start()
        try:
            assert (await caller.call(number)).status == 200
            await _wait_for_tone(caller, 1000.0, 10)  # the beep
            caller.say_pcm(tone(CALLER_HZ, SPOKEN))
            await asyncio.sleep(SPOKEN + 0.3)
            await caller.hangup()
        finally:
            caller.close()

    asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while len(_Webhook.received) == already and time.monotonic() < deadline:
        time.sleep(0.1)
    [posted] = _Webhook.received[already:]
    assert posted["data"]["vmbox_id"] == relay_box and posted["data"]["length"] >= (SPOKEN - 0.2) * 1000
    base = f"/v2/accounts/{box.account_id}/vmboxes/{relay_box}/messages"
    while [m["folder"] for m in box.api.get(base).json()["data"]] != ["deleted"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [m["folder"] for m in box.api.get(base).json()["data"]] == ["deleted"]  # Kazoo's: kept, as deleted
    assert box.api.get(f"{base}/{posted['data']['id']}", headers={"Accept": "audio/wav"}).status_code == 200


def test_the_owner_on_its_own_phone_hears_its_messages_without_a_pin(box: Box) -> None:
    """Kazoo's ``check_if_owner``: the box's owner calling from a device it owns (digest from an untrusted
    address) goes straight to the main menu; pressing 1 plays the new messages."""
    box.api.post(
        f"/v2/accounts/{box.account_id}/vmboxes/{box.box_id}/messages/{_newest(box)}", json={"data": {"folder": "new"}}
    )

    async def scenario() -> float:
        owner = Phone(
            box.server.sip_port, host="127.0.0.3", user="grace", realm="vm.example.com", password="grace-secret"
        )
        await owner.start()
        try:
            assert (await owner.call(box.check_number)).status == 200
            owner.send_digits("1")  # no PIN asked: the main menu reads this
            await _wait_for_tone(owner, CALLER_HZ, 30)  # a message plays
            deadline = time.monotonic() + 10
            while _seconds_of(owner.received.pcm(0), CALLER_HZ) < 1.0 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await owner.hangup()
            return _seconds_of(owner.received.pcm(0), CALLER_HZ)
        finally:
            owner.close()

    assert asyncio.run(scenario()) >= 1.0


def _newest(box: Box) -> str:
    if not box.messages():
        test_no_answer_leaves_a_message_that_is_listed_and_downloadable(box)
    return str(box.messages()[-1]["id"])


def test_a_greeting_recorded_by_phone_is_heard_by_the_next_caller_and_the_pin_is_changed_by_phone(box: Box) -> None:
    """Kazoo's settings menu (issue 21): the owner records the unavailable greeting (5, 1, tone, #, 1 save) and a new
    PIN (3, twice); the next caller hears that greeting before the beep, and the box holds the new PIN."""
    greeting_hz = 660.0

    async def owner_records() -> None:
        owner = await Phone(box.server.sip_port).start()
        try:
            assert (await owner.call(box.check_number)).status == 200
            owner.send_digits("1234#51")  # PIN; main menu 5 settings; settings 1 the unavailable greeting
            await _wait_for_tone(owner, 1000.0, 30)  # the beep
            owner.say_pcm(tone(greeting_hz, 2.0))
            await asyncio.sleep(2.2)
            owner.send_digits("#13")  # ends the greeting; review 1 saves; settings 3 the PIN
            owner.send_digits("4321#4321#0#")  # twice; 0 back to the main menu; # goodbye
            await owner.wait_bye(60)
        finally:
            owner.close()

    async def next_caller_hears_it() -> None:
        caller = await Phone(box.server.sip_port).start()
        try:
            assert (await caller.call(box.compose_number, timeout=15)).status == 200
            await _wait_for_tone(caller, greeting_hz, 20)  # the greeting the owner recorded
            await _wait_for_tone(caller, 1000.0, 10)  # then the beep
            await caller.hangup()
        finally:
            caller.close()

    try:
        asyncio.run(owner_records())
        stored = box.api.get(f"/v2/accounts/{box.account_id}/vmboxes/{box.box_id}").json()["data"]
        assert stored["pin"] == "4321"
        media = box.api.get(f"/v2/accounts/{box.account_id}/media/{stored['media']['unavailable']}").json()["data"]
        assert media["media_source"] == "recording" and 2.0 <= media["duration"] <= 3.5
        asyncio.run(next_caller_hears_it())
    finally:  # the box as the other tests know it
        box.api.patch(
            f"/v2/accounts/{box.account_id}/vmboxes/{box.box_id}",
            json={"data": {"pin": "1234", "media": {"unavailable": None}}},
        )
