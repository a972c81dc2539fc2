"""The receiver over real HTTP: Kazoo's URL forms, integrity, idempotency, auth, limits, serving."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.receiver.audio import mp3_bytes, wav_bytes
from tests.receiver.conftest import TOKEN, ReceiverProcess

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MONTH = datetime.now(UTC).strftime("%Y/%m")


def _put(receiver: ReceiverProcess, path_and_query: str, body: bytes, **kw: object) -> httpx.Response:
    headers = {**AUTH, **kw.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.put(receiver.url + path_and_query, content=body, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def _sidecar(receiver: ReceiverProcess, key: str) -> dict[str, object]:
    return json.loads((receiver.dir / f"{key}.json").read_text())


def _raw(receiver: ReceiverProcess, request: bytes, *, close_after_send: bool = False) -> bytes:
    """Send bytes on a socket as they are (no client-side path normalisation) and read the answer."""
    host, port = urlparse(receiver.url).hostname, urlparse(receiver.url).port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        if close_after_send:
            return b""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_kazoo_record_call_url_with_metadata(receiver: ReceiverProcess) -> None:
    audio = mp3_bytes(1.0)
    query = "?from=1001%40acme.example.com&to=5550100&caller_id_name=Alice%20A&call_id=abc%40host&account_id=acc1"
    r = _put(receiver, f"/kzr/call_recording_abc%40host.mp3{query}", audio, headers={"Content-Type": "audio/mpeg"})
    assert r.status_code == 201, r.text
    key = f"acc1/{MONTH}/call_recording_abc@host.mp3"
    assert r.json()["key"] == key and r.headers["location"] == f"/recordings/{key}"
    assert (receiver.dir / key).read_bytes() == audio
    side = _sidecar(receiver, key)
    assert side["metadata"] == {
        "from": "1001@acme.example.com",
        "to": "5550100",
        "caller_id_name": "Alice A",
        "call_id": "abc@host",
        "account_id": "acc1",
    }
    assert side["sha256"] == hashlib.sha256(audio).hexdigest() and side["size"] == len(audio)
    assert side["headers"]["content-type"] == "audio/mpeg" and side["received_at"]


def test_record_caller_and_query_string_forms(receiver: ReceiverProcess) -> None:
    audio = wav_bytes(0.5)
    assert _put(receiver, "/voicemail/acc2/box9/vm-call-1.wav", audio).status_code == 201
    assert (receiver.dir / f"unknown/{MONTH}/vm-call-1.wav").read_bytes() == audio  # no account id anywhere
    account, box = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    assert _put(receiver, f"/voicemail/{account}/{box}/vm-call-2.wav", audio).status_code == 201
    assert (receiver.dir / f"{account}/{MONTH}/vm-call-2.wav").read_bytes() == audio  # the account in the path
    r = _put(receiver, "/upload.php?file=call_recording_q1.mp3&from=a&account_id=acc3", mp3_bytes(0.3))
    assert r.status_code == 201 and r.json()["key"] == f"acc3/{MONTH}/call_recording_q1.mp3"
    r = _put(receiver, "/upload.php?k=v&recording=call_recording_q2.mp3&from=b&account_id=acc3", mp3_bytes(0.4))
    assert r.status_code == 201 and _sidecar(receiver, r.json()["key"])["metadata"] == {
        "k": "v",
        "from": "b",
        "account_id": "acc3",
    }


def test_post_raw_and_multipart(receiver: ReceiverProcess) -> None:
    audio = mp3_bytes(0.6)
    r = httpx.post(f"{receiver.url}/r/call_recording_post1.mp3?account_id=acc4", content=audio, headers=AUTH)
    assert r.status_code == 201
    r = httpx.post(
        f"{receiver.url}/r/call_recording_form1.mp3?account_id=acc4",
        headers=AUTH,
        data={"from": "alice", "note": "hello"},
        files={"file": ("x.mp3", audio, "audio/mpeg")},
    )
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    assert (receiver.dir / key).read_bytes() == audio
    assert _sidecar(receiver, key)["metadata"] == {"from": "alice", "note": "hello", "account_id": "acc4"}


def test_wrong_format_and_unconfigured_extension_keep_nothing(receiver: ReceiverProcess) -> None:
    before = receiver.stored_files()
    assert _put(receiver, "/r/call_recording_fake.mp3", b"<?php system($_GET['c']); ?>").status_code == 415
    assert _put(receiver, "/r/call_recording_fake.wav", mp3_bytes(0.2)).status_code == 415
    assert _put(receiver, "/r/call_recording_x.ogg", b"OggS\x00\x02").status_code == 415
    assert receiver.stored_files() == before


def test_digest_headers(receiver: ReceiverProcess) -> None:
    audio = mp3_bytes(0.7)
    md5 = base64.b64encode(hashlib.md5(audio).digest()).decode()
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    before = receiver.stored_files()
    assert _put(receiver, "/r/call_recording_d1.mp3", audio, headers={"Content-MD5": wrong}).status_code == 400
    sha_wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    r = _put(receiver, "/r/call_recording_d1.mp3", audio, headers={"Repr-Digest": f"sha-256=:{sha_wrong}:"})
    assert r.status_code == 400
    assert receiver.stored_files() == before
    assert _put(receiver, "/r/call_recording_d1.mp3", audio, headers={"Content-MD5": md5}).status_code == 201
    sha = base64.b64encode(hashlib.sha256(audio).digest()).decode()
    r = _put(receiver, "/r/call_recording_d2.mp3", audio, headers={"Repr-Digest": f"sha-256=:{sha}:"})
    assert r.status_code == 201


def test_idempotent_and_versions_never_overwrite(receiver: ReceiverProcess) -> None:
    first, second = mp3_bytes(0.5, 440), mp3_bytes(0.5, 1000)
    url = "/r/call_recording_same.mp3?account_id=acc5"
    assert _put(receiver, url, first).status_code == 201
    again = _put(receiver, url, first)
    assert again.status_code == 200 and again.json()["created"] is False
    other = _put(receiver, url, second)
    assert other.status_code == 201 and other.json()["key"] == f"acc5/{MONTH}/call_recording_same.1.mp3"
    assert _put(receiver, url, second).status_code == 200  # matches version 1
    folder = receiver.dir / "acc5" / MONTH
    assert sorted(p.name for p in folder.iterdir()) == [
        "call_recording_same.1.mp3",
        "call_recording_same.1.mp3.json",
        "call_recording_same.mp3",
        "call_recording_same.mp3.json",
    ]
    assert (folder / "call_recording_same.mp3").read_bytes() == first
    assert (folder / "call_recording_same.1.mp3").read_bytes() == second


def test_concurrent_puts_of_one_name(receiver: ReceiverProcess) -> None:
    bodies = [mp3_bytes(0.4, 300 + 100 * i) for i in range(4)] + [mp3_bytes(0.4, 300)] * 2
    results: list[int] = []

    def put(body: bytes) -> None:
        results.append(_put(receiver, "/r/call_recording_race.mp3?account_id=acc6", body).status_code)

    threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 200, 201, 201, 201, 201]
    folder = receiver.dir / "acc6" / MONTH
    stored = {p.read_bytes() for p in folder.glob("*.mp3")}
    assert stored == set(bodies) and len(list(folder.glob("*.mp3"))) == 4


def test_auth_required_and_basic_auth(receiver: ReceiverProcess) -> None:
    before = receiver.stored_files()
    r = httpx.put(f"{receiver.url}/r/call_recording_noauth.mp3", content=mp3_bytes(0.2))
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    r = httpx.put(
        f"{receiver.url}/r/call_recording_noauth.mp3", content=mp3_bytes(0.2), headers={"Authorization": "Bearer wrong"}
    )
    assert r.status_code == 401
    assert httpx.get(f"{receiver.url}/recordings").status_code == 401
    assert receiver.stored_files() == before
    r = httpx.put(f"{receiver.url}/r/call_recording_basic.mp3", content=mp3_bytes(0.2), auth=("kazoo", TOKEN))
    assert r.status_code == 201


def test_guessing_the_token_gets_429_from_that_address_only(receiver: ReceiverProcess) -> None:
    before = receiver.stored_files()
    url = f"{receiver.url}/r/call_recording_guess.mp3"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as guesser:
        statuses = [
            guesser.put(url, content=b"x", headers={"Authorization": f"Bearer guess-{n}"}).status_code
            for n in range(20)
        ]
        assert statuses == [401] * 20
        refused = guesser.put(url, content=mp3_bytes(0.2), headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60  # even the right one
    assert receiver.stored_files() == before
    ok = httpx.put(url, content=mp3_bytes(0.2), headers={"Authorization": f"Bearer {TOKEN}"})  # another address
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        b"/kzr/../../etc/call_recording_x.mp3",
        b"/kzr/%2e%2e/%2e%2e/call_recording_x.mp3",
        b"/kzr/%2E%2E/call_recording_x.mp3",
        b"/kzr/call_recording_..%2f..%2fx.mp3",
        b"/kzr/call_recording_x%00.mp3",
        b"/kzr/..%5c..%5ccall_recording_x.mp3",
        b"/kzr/call_recording_%2e%2e.mp3/..",
        b"/kzr?file=../../call_recording_x.mp3",
        b"/kzr/call_recording_x.mp3?account_id=../../etc",
        b"//etc/passwd/call_recording_x.mp3",
    ],
)
def test_path_traversal_refused(receiver: ReceiverProcess, path: bytes) -> None:
    before = receiver.stored_files()
    outside = sorted(p.name for p in receiver.root.iterdir())
    audio = mp3_bytes(0.2)
    request = (
        b"PUT "
        + path
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: "
        + str(len(audio)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + audio
    )
    answer = _raw(receiver, request)
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 404")), answer[:200]
    assert receiver.stored_files() == before
    assert sorted(p.name for p in receiver.root.iterdir()) == outside


def test_too_large_is_413_before_reading(receiver: ReceiverProcess) -> None:
    head = (
        b"PUT /r/call_recording_big.mp3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: 50000000\r\n\r\n"
    )
    answer = _raw(receiver, head)  # no body sent at all: the answer must come anyway
    assert answer.startswith(b"HTTP/1.1 413")
    chunks = (b"\xff\xfb" + b"\x00" * 65534 for _ in range(40))  # 2.6 MB chunked, over the 2 MB limit
    r = httpx.put(f"{receiver.url}/r/call_recording_big2.mp3", content=chunks, headers=AUTH)
    assert r.status_code == 413
    assert not list(receiver.dir.rglob("call_recording_big*"))


def test_short_body_or_disconnect_keeps_nothing(receiver: ReceiverProcess) -> None:
    audio = mp3_bytes(1.0)
    request = (
        b"PUT /r/call_recording_cut.mp3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: "
        + str(len(audio) * 2).encode()
        + b"\r\n\r\n"
        + audio
    )
    _raw(receiver, request, close_after_send=True)
    time.sleep(0.5)
    assert not list(receiver.dir.rglob("call_recording_cut*"))
    assert list((receiver.dir / ".incoming").iterdir()) == []


def test_list_and_serve_with_range(receiver: ReceiverProcess) -> None:
    audio = mp3_bytes(1.5)
    key = _put(receiver, "/r/call_recording_serve.mp3?account_id=acc7&from=x", audio).json()["key"]
    listed = httpx.get(f"{receiver.url}/recordings?account_id=acc7", headers=AUTH).json()["data"]
    assert [item["key"] for item in listed] == [key]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert httpx.get(f"{receiver.url}/recordings?account_id=acc7&since=2099-01-01", headers=AUTH).json()["data"] == []
    in_range = httpx.get(f"{receiver.url}/recordings?account_id=acc7&since={today}&until={today}", headers=AUTH)
    assert len(in_range.json()["data"]) == 1
    whole = httpx.get(f"{receiver.url}/recordings/{key}", headers=AUTH)
    assert whole.status_code == 200 and whole.content == audio and whole.headers["content-type"] == "audio/mpeg"
    part = httpx.get(f"{receiver.url}/recordings/{key}", headers={**AUTH, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == audio[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(audio)}"
    tail = httpx.get(f"{receiver.url}/recordings/{key}", headers={**AUTH, "Range": "bytes=-10"})
    assert tail.content == audio[-10:]
    bad = httpx.get(f"{receiver.url}/recordings/{key}", headers={**AUTH, "Range": f"bytes={len(audio) + 5}-"})
    assert bad.status_code == 416
    head = httpx.head(f"{receiver.url}/recordings/{key}", headers=AUTH)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(audio)) and head.content == b""
    assert httpx.get(f"{receiver.url}/recordings/acc7/2020/01/none.mp3", headers=AUTH).status_code == 404


def test_metrics(receiver: ReceiverProcess) -> None:
    _put(receiver, "/r/call_recording_m1.mp3", mp3_bytes(0.2))
    _put(receiver, "/r/call_recording_m2.mp3", b"not audio")
    text = httpx.get(f"{receiver.url}/metrics").text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(values["calltape_receiver_stored_total"]) >= 1
    assert float(values['calltape_receiver_rejected_total{reason="format"}']) >= 1
    assert float(values["calltape_receiver_bytes_total"]) > 0
    assert float(values["calltape_receiver_upload_seconds_count"]) >= 1


def test_allowlist_refuses_other_sources(tmp_path: Path) -> None:
    proc = ReceiverProcess(tmp_path, ["--allow", "10.0.0.0/8"]).start()
    try:
        r = httpx.put(f"{proc.url}/r/call_recording_a.mp3", content=mp3_bytes(0.2))
        assert r.status_code == 403
        assert not list(proc.dir.rglob("*.mp3"))
    finally:
        proc.stop()


class _Webhook(threading.Thread):
    """A real local HTTP server that records what is POSTed to it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import http.server

        received = self.received = []  # type: ignore[var-annotated]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def run(self) -> None:
        self.server.serve_forever()


def test_on_stored_command_and_webhook(tmp_path: Path) -> None:
    hook_out = tmp_path / "hook-out.json"
    script = tmp_path / "hook.py"
    script.write_text(
        f"import sys, pathlib\npathlib.Path({str(hook_out)!r}).write_text(sys.stdin.read() + '\\n' + sys.argv[1])\n"
    )
    webhook = _Webhook()
    webhook.start()
    config = tmp_path / "receiver.toml"
    import sys

    config.write_text(
        f"on_stored_command = [{sys.executable!r}, {str(script)!r}]\n"
        f'on_stored_webhook = "http://127.0.0.1:{webhook.port}/stored"\n'
    )
    proc = ReceiverProcess(tmp_path, ["--config", str(config)]).start()
    try:
        r = httpx.put(f"{proc.url}/r/call_recording_hook.mp3?account_id=acc8&call_id=hook1", content=mp3_bytes(0.2))
        assert r.status_code == 201
        deadline = time.monotonic() + 10
        while (not hook_out.exists() or not webhook.received) and time.monotonic() < deadline:
            time.sleep(0.05)
        payload_text, _, path_arg = hook_out.read_text().rpartition("\n")
        payload = json.loads(payload_text)
        assert path_arg == str(proc.dir / r.json()["key"]) == payload["path"]
        assert payload["metadata"]["metadata"]["call_id"] == "hook1"
        assert webhook.received[0]["path"] == path_arg
    finally:
        proc.stop()
        webhook.server.shutdown()


def test_wrong_format_is_refused_before_the_rest_of_the_body(receiver: ReceiverProcess) -> None:
    head = (
        b"PUT /r/call_recording_early.mp3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: 1500000\r\n\r\n"
        + b"#!/bin/sh\necho not audio\n"
        + b"\x00" * 65536
    )
    answer = _raw(receiver, head)  # the remaining 1.4 MB are never sent: the answer comes anyway
    assert answer.startswith(b"HTTP/1.1 415")
    assert not list(receiver.dir.rglob("call_recording_early*"))
