"""Recordings encrypted at rest (issue 24), on a running server: an account with ``recordings.encryption`` gets its
capture, its spool file, its database copy and its filesystem storage plan's file sealed — none holds a stretch of
the audio in the clear (checked by reading the files by hand with the key) — while its upload, the API and
``calltape keys decrypt`` give the plain file (440 Hz back from a decoder). Rotation re-wraps without re-encrypting;
a key that goes missing keeps the recording waiting, with the reason, until the key is back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.at_rest.test_sealed import by_hand
from tests.audio import channel_hz, tone
from tests.e2e.account import Account, running
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports

KEYS = {name: os.urandom(32) for name in ("k1", "k2", "k3")}
MAGIC = b"CTSEAL1\n"


@dataclass
class Vault(Account):
    keyring: Path = Path()
    sink: UploadSink = field(default_factory=UploadSink)

    def keys(self, *names: str) -> None:
        """The keyring file holds *names*; the server reads it again (SIGHUP) and says so."""
        self.keyring.write_text("".join(f"{n} {base64.b64encode(KEYS[n]).decode()}\n" for n in names))
        loaded = self.log_text().count("recording key(s) loaded")
        assert self.server.proc is not None
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.log_text().count("recording key(s) loaded") == loaded:
            assert time.monotonic() < deadline, "the keyring was not reloaded"
            time.sleep(0.05)

    def recording(self, call_id: str, state: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not (found := self.recordings(call_id=call_id)) or found[0]["state"] != state:
            assert time.monotonic() < deadline, f"recording of {call_id} not {state}: {found}"
            time.sleep(0.1)
        return found[0]

    def audio(self, doc: dict[str, Any], **headers: str) -> Any:
        return self.api.get(f"/v2/accounts/{self.account_id}/recordings/{doc['id']}", headers=headers)

    def keys_tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "calltape", "keys", *args, "--recording-keys", str(self.keyring)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    keyring = tmp_path_factory.mktemp("keys") / "keyring"
    keyring.write_text(f"k1 {base64.b64encode(KEYS['k1']).decode()}\n")
    sink = UploadSink().start()
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27000, 27099)]
    args += ["--recording-keys", str(keyring), "--delivery-retry-base", "0.2"]
    doc = {"recordings": {"encryption": {"key_id": "k1"}}}
    with running(tmp_path_factory.mktemp("at-rest"), args, "Vault", Vault, doc, keyring=keyring, sink=sink) as v:
        yield v
    sink.stop()


async def _call(vault: Vault, number: str, seconds: float, during: Any = None) -> str:
    """A 440 Hz caller on *number* for *seconds*; *during* runs (in a thread) once the call is a second old."""
    caller = await Phone(vault.server.sip_port).start()
    try:
        caller.say_pcm(tone(440, seconds + 5))
        assert (await caller.call(number)).status == 200
        answered = time.monotonic()
        await asyncio.sleep(1.0)
        if during is not None:
            await asyncio.to_thread(during)
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - answered)))
        await caller.hangup()
        return caller.call_id
    finally:
        caller.close()


def flow_to(url: str) -> dict[str, Any]:
    return {"module": "record_call", "data": {"format": "wav", "url": url}}


def _nothing_in_the_clear(plain: bytes, sealed: bytes) -> None:
    """No 32-byte stretch of *plain*'s second half (audio, past any header) is in *sealed*."""
    assert sealed.startswith(MAGIC)
    for start in range(len(plain) // 2, len(plain) - 32, max(1, len(plain) // 16)):
        assert plain[start : start + 32] not in sealed


def _is_the_tone(wav: bytes, seconds: float) -> None:
    pcm, rate, _ = decode(wav, "wav")
    assert abs(len(pcm) / rate - seconds) <= 0.25
    assert abs(channel_hz(pcm[:, 0], rate) - 440) < 15


def test_a_bad_key_id_is_refused_with_its_field(vault: Vault) -> None:
    r = vault.api.patch(
        f"/v2/accounts/{vault.account_id}", json={"data": {"recordings": {"encryption": {"key_id": "nope"}}}}
    )
    assert r.status_code == 400 and "keyring" in r.text and "key_id" in r.text


def test_sealed_on_disk_in_the_database_and_in_a_storage_plan_plain_on_the_way_out(
    vault: Vault, tmp_path: Path
) -> None:
    number = vault.callflow({**flow_to(vault.sink.url), "children": {"_": {"module": "echo", "data": {}}}})
    captured: list[bytes] = []

    def look_at_the_capture() -> None:  # once it holds a second of both directions (written once a second)
        (capture,) = (vault.server.data_dir / "spool" / vault.account_id).glob("*.capture")
        deadline = time.monotonic() + 5
        while capture.stat().st_size < 20_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        captured.append(capture.read_bytes())

    call_id = asyncio.run(_call(vault, number, 2.5, look_at_the_capture))
    key_id, plain_capture = by_hand(captured[0], KEYS["k1"], b"C")
    assert key_id == "k1" and len(plain_capture) > 8000  # a second of both directions, at least
    _nothing_in_the_clear(plain_capture, captured[0])

    upload = vault.sink.upload_of(call_id)  # delivery decrypts: the receiver gets the plain file
    assert upload.body[:4] == b"RIFF"
    sha256 = base64.b64encode(hashlib.sha256(upload.body).digest()).decode()
    assert upload.headers["repr-digest"] == f"sha-256=:{sha256}:"
    _is_the_tone(upload.body, 2.5)
    doc = vault.recording(call_id, "delivered")
    assert doc["encryption"] == {"key_id": "k1"} and doc["size"] == len(upload.body)

    # the database keeps it sealed; the API serves it plain, with ranges
    assert vault.api.patch("/v2/system_configs/media", json={"data": {"store_recordings": True}}).status_code == 200
    echo = {"_": {"module": "echo", "data": {}}}
    stored_number = vault.callflow({"module": "record_call", "data": {"format": "wav"}, "children": echo})
    stored = vault.recording(asyncio.run(_call(vault, stored_number, 2.0)), "stored")
    with sqlite3.connect(vault.server.data_dir / "calltape.db") as db:
        (blob,) = db.execute("SELECT data FROM recording_blobs WHERE recording_id = ?", (stored["id"],)).fetchone()
    served = vault.audio(stored, Accept="audio/wav")
    assert served.status_code == 200 and served.content == by_hand(blob, KEYS["k1"])[1]
    _nothing_in_the_clear(served.content, blob)
    _is_the_tone(served.content, 2.0)
    part = vault.audio(stored, Accept="audio/wav", Range="bytes=100-199")
    assert part.status_code == 206 and part.content == served.content[100:200]

    # a filesystem storage plan holds it sealed; calltape keys decrypt opens it
    plan = {"attachments": {"h1": {"handler": "filesystem", "settings": {"path": str(tmp_path)}}}}
    plan["plan"] = {"modb": {"types": {"call_recording": {"attachments": {"handler": "h1"}}}}}
    assert vault.api.put(f"/v2/accounts/{vault.account_id}/storage", json={"data": plan}).status_code == 201
    planned = vault.recording(asyncio.run(_call(vault, stored_number, 2.0)), "delivered")
    (kept,) = tmp_path.rglob("*.wav")
    plain = tmp_path / "plain.wav"
    assert vault.keys_tool("decrypt", str(kept), "-o", str(plain)).returncode == 0
    assert hashlib.sha256(plain.read_bytes()).hexdigest() == planned["sha256"]
    _nothing_in_the_clear(plain.read_bytes(), kept.read_bytes())
    _is_the_tone(plain.read_bytes(), 2.0)

    # rotation: k2 joins, the account moves to it, rewrap; then k1 leaves and everything still opens
    vault.keys("k1", "k2")
    moved = {"recordings": {"encryption": {"key_id": "k2"}}}
    assert vault.api.patch(f"/v2/accounts/{vault.account_id}", json={"data": moved}).status_code == 200
    before = kept.read_bytes()
    data_dir = str(vault.server.data_dir)
    rewrapped = vault.keys_tool("rewrap", "--to", "k2", "--data-dir", data_dir)
    assert rewrapped.returncode == 0 and "1 file(s), 1 database cop(ies)" in rewrapped.stdout, rewrapped.stdout
    assert kept.read_bytes()[132:] == before[132:] and by_hand(kept.read_bytes(), KEYS["k2"])[0] == "k2"
    vault.keys("k2")
    again = vault.audio(stored, Accept="audio/wav")
    assert again.status_code == 200 and again.content == served.content
    assert vault.keys_tool("decrypt", str(kept), "-o", str(plain)).returncode == 0
    assert hashlib.sha256(plain.read_bytes()).hexdigest() == planned["sha256"]
    vault.api.delete(f"/v2/accounts/{vault.account_id}/storage")
    vault.api.patch("/v2/system_configs/media", json={"data": {"store_recordings": False}})


def test_a_sealed_spool_file_is_served_plain_in_ranges_while_its_delivery_waits(vault: Vault) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nothing listens on: the upload is refused, the file waits in the spool
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/nobody"
    vault.keys("k1", "k2")
    number = vault.callflow({**flow_to(url), "children": {"_": {"module": "echo", "data": {}}}})
    doc = vault.recording(asyncio.run(_call(vault, number, 2.0)), "pending")
    spool = Path(doc["spool_path"])
    _, plain = by_hand(spool.read_bytes(), KEYS[doc["encryption"]["key_id"]])
    whole = vault.audio(doc, Accept="audio/wav")
    assert whole.status_code == 200 and whole.content == plain and int(whole.headers["content-length"]) == len(plain)
    part = vault.audio(doc, Accept="audio/wav", Range="bytes=1000-40999")
    assert part.status_code == 206 and part.content == plain[1000:41000]
    assert part.headers["content-range"] == f"bytes 1000-40999/{len(plain)}"
    tail = vault.audio(doc, Accept="audio/wav", Range="bytes=-100")
    assert tail.status_code == 206 and tail.content == plain[-100:]
    assert vault.audio(doc, Accept="audio/wav", Range=f"bytes={len(plain)}-").status_code == 416
    closed.close()
    vault.api.delete(f"/v2/accounts/{vault.account_id}/recordings/{doc['id']}")


def test_a_key_that_goes_missing_keeps_the_recording_waiting_with_the_reason_until_it_is_back(vault: Vault) -> None:
    vault.keys("k2")
    moved = {"recordings": {"encryption": {"key_id": "k2"}}}
    assert vault.api.patch(f"/v2/accounts/{vault.account_id}", json={"data": moved}).status_code == 200
    number = vault.callflow({**flow_to(vault.sink.url), "children": {"_": {"module": "echo", "data": {}}}})
    call_id = asyncio.run(_call(vault, number, 2.0, lambda: vault.keys("k3")))  # k2 goes while it records
    deadline = time.monotonic() + 20
    while "'k2' is not in this node's keyring" not in str((doc := vault.recording(call_id, "pending"))["last_error"]):
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    waiting = vault.audio(doc, Accept="audio/wav")
    assert waiting.status_code == 503 and "'k2' is not in this node's keyring" in waiting.text
    assert Path(doc["spool_path"]).exists() and not any(call_id in u.path for u in vault.sink.uploads)
    vault.keys("k2", "k3")
    upload = vault.sink.upload_of(call_id, timeout=30)
    _is_the_tone(upload.body, 2.0)
    delivered = vault.recording(call_id, "delivered")
    assert delivered["attempts"] <= 1  # the wait for the key counted no attempt: it is never given up on
