"""Whole calls through a running calltape: callflows answer, speak, play, collect digits and hang up."""

from __future__ import annotations

import asyncio
import socket
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from calltape.media.sdp import parse_sdp
from calltape.media.tts import TtsCache
from tests.audio import dominant_frequency
from tests.e2e.account import Account, running
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.receiver.audio import mp3_bytes, wav_bytes
from tests.server import TOKEN, ServerProcess
from tests.sipclient import UdpSipClient

SAY_TEXT = "Please leave your message after the beep"


Pbx = Account


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(24000, 24999)]
    with running(tmp_path_factory.mktemp("calls"), args, "Calls") as account:
        yield account


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _loud(pcm: np.ndarray, threshold: int = 500) -> np.ndarray:
    """The contiguous stretch from the first to the last loud sample."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    return pcm[loud[0] : loud[-1] + 1] if len(loud) else pcm


def _audible_span(pcm: np.ndarray, threshold: int = 64) -> float:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    return 0.0 if len(loud) == 0 else (loud[-1] - loud[0]) / 8000


def test_say_callflow_speaks_the_render_and_hangs_up(pbx: Pbx) -> None:
    pbx.callflow(number="5551000", flow={"module": "say", "data": {"text": SAY_TEXT}})

    async def scenario() -> tuple[int, np.ndarray, float, int]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            response = await phone.call("5551000")
            await phone.wait_bye(30)
            await asyncio.sleep(0.1)
            rtp_port = parse_sdp(response.body).media[0].port
            return response.status, phone.received.pcm(0), phone.bye_at - phone.answered_at, rtp_port  # type: ignore[operator]
        finally:
            phone.close()

    status, received, answered_for, rtp_port = _run(scenario())  # type: ignore[misc]
    assert status == 200
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", rtp_port))  # the call's RTP port went back to the pool, closed
    render = TtsCache(pbx.server.data_dir / "tts").path_for(SAY_TEXT, "female", "en-us")
    with wave.open(str(render)) as w:
        rendered = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert abs(_audible_span(received) - _audible_span(rendered)) <= 0.2
    assert answered_for >= len(rendered) / 8000 - 0.2
    power = np.abs(np.fft.rfft(received.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(received), 1 / 8000)
    assert power[(freqs > 100) & (freqs < 3400)].sum() / power.sum() > 0.9  # speech band
    # the received audio is the render itself (through G.711): strongly correlated once aligned
    loud = np.flatnonzero(np.abs(received) > 64)[0]
    start = np.flatnonzero(np.abs(rendered) > 64)[0]
    n = min(len(rendered) - start, len(received) - loud)
    corr = np.corrcoef(received[loud : loud + n].astype(float), rendered[start : start + n].astype(float))[0, 1]
    assert corr > 0.95


def test_rfc4733_and_info_digits_choose_the_branch(pbx: Pbx) -> None:
    flow = {
        "module": "collect_dtmf",
        "data": {"max_digits": 2, "timeout": 5},
        "children": {
            "42": {"module": "tone", "data": {"frequencies": [1000], "duration_ms": 1500}},
            "_": {"module": "tone", "data": {"frequencies": [400], "duration_ms": 1500}},
        },
    }
    pbx.callflow(number="5551001", flow=flow)

    async def scenario(use_info: bool) -> float:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            assert (await phone.call("5551001")).status == 200
            await asyncio.sleep(0.3)
            if use_info:
                assert (await phone.info_digit("4")).status == 200
                assert (await phone.info_digit("2")).status == 200
            else:
                phone.send_digits("42")
            mark = len(phone.received.frames)
            await phone.wait_bye(15)
            tone = phone.received.frames[mark:]
            pcm = np.concatenate(
                [np.frombuffer(__import__("audioop").ulaw2lin(p, 2), np.int16) for _, pt, p in tone if pt == 0]
            )
            return dominant_frequency(_loud(pcm))
        finally:
            phone.close()

    assert abs(_run(scenario(False)) - 1000) < 20  # type: ignore[operator]
    assert abs(_run(scenario(True)) - 1000) < 20  # type: ignore[operator]


def test_no_digits_takes_the_default_branch(pbx: Pbx) -> None:
    flow = {
        "module": "collect_dtmf",
        "data": {"max_digits": 2, "timeout": 0.5},
        "children": {
            "42": {"module": "tone", "data": {"frequencies": [1000], "duration_ms": 800}},
            "_": {"module": "tone", "data": {"frequencies": [400], "duration_ms": 800}},
        },
    }
    pbx.callflow(number="5551002", flow=flow)

    async def scenario() -> float:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            await phone.call("5551002")
            await phone.wait_bye(10)
            pcm = phone.received.pcm(0)
            return dominant_frequency(_loud(pcm))
        finally:
            phone.close()

    assert abs(_run(scenario()) - 400) < 20  # type: ignore[operator]


def test_cancel_before_answer_gets_487(pbx: Pbx) -> None:
    pbx.callflow(
        number="5551003",
        flow={"module": "sleep", "data": {"duration": 10}, "children": {"_": {"module": "answer", "data": {}}}},
    )

    async def scenario() -> tuple[int, int]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            invite = phone.request("INVITE", f"sip:5551003@127.0.0.1:{pbx.server.sip_port}", phone.sdp())
            phone.invite = invite
            phone.send(invite)
            trying = await asyncio.wait_for(phone.responses.get(), 5)
            await asyncio.sleep(0.3)
            final = await phone.cancel()
            cancel_ok = next(r for r in [final] if r.cseq.method == "CANCEL") if final.cseq.method == "CANCEL" else None
            if cancel_ok is not None:
                final = await phone.final()
            await asyncio.sleep(1.0)
            return trying.status, final.status
        finally:
            phone.close()

    assert _run(scenario()) == (100, 487)


def test_g729_only_gets_488(pbx: Pbx) -> None:
    pbx.callflow(number="5551004", flow={"module": "answer", "data": {}})

    async def scenario() -> int:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            return (await phone.call("5551004", body=phone.sdp([(18, "G729")], dtmf=False))).status
        finally:
            phone.close()

    assert _run(scenario()) == 488


def test_late_offer(pbx: Pbx) -> None:
    pbx.callflow(number="5551005", flow={"module": "tone", "data": {"frequencies": [700], "duration_ms": 1000}})

    async def scenario() -> tuple[int, float]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            response = await phone.call("5551005", body=b"", answer_sdp=phone.sdp([(8, "PCMA")]))
            offer = response.body.decode()
            assert "m=audio" in offer and "PCMU/8000" in offer and "PCMA/8000" in offer
            from calltape.media.sdp import parse_sdp

            media = parse_sdp(response.body).media[0]
            phone.remote_rtp = ("127.0.0.1", media.port)
            await phone.wait_bye(10)
            pcm = phone.received.pcm(8)
            return response.status, dominant_frequency(_loud(pcm))
        finally:
            phone.close()

    status, freq = _run(scenario())  # type: ignore[misc]
    assert status == 200 and abs(freq - 700) < 20


def test_hold_and_unhold(pbx: Pbx) -> None:
    pbx.callflow(number="5551006", flow={"module": "tone", "data": {"frequencies": [500], "duration_ms": 6000}})

    async def scenario() -> tuple[str, str, int, int]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            await phone.call("5551006")
            await asyncio.sleep(0.5)
            held = await phone.reinvite("sendonly")
            await asyncio.sleep(0.2)
            before = len(phone.received.frames)
            await asyncio.sleep(1.0)
            during_hold = len(phone.received.frames) - before
            resumed = await phone.reinvite("sendrecv")
            await asyncio.sleep(0.3)
            before = len(phone.received.frames)
            await asyncio.sleep(1.0)
            after = len(phone.received.frames) - before
            await phone.hangup()
            return held.body.decode(), resumed.body.decode(), during_hold, after
        finally:
            phone.close()

    held, resumed, during, after = _run(scenario())  # type: ignore[misc]
    assert "a=recvonly" in held and "a=sendrecv" in resumed
    assert during == 0 and 40 <= after <= 60


def test_device_is_challenged_with_407(pbx: Pbx) -> None:
    doc = {"name": "desk", "sip": {"username": "bob", "password": "bob-secret-1"}}
    assert pbx.api.put(f"/v2/accounts/{pbx.account_id}/devices", json={"data": doc}).status_code == 201
    pbx.callflow(number="5551007", flow={"module": "tone", "data": {"name": "beep"}})

    async def scenario(password: str) -> int:
        phone = await Phone(
            pbx.server.sip_port, host="127.0.0.5", user="bob", realm=pbx.realm, password=password
        ).start()
        try:
            response = await phone.call("5551007")
            if response.status == 200:
                await phone.wait_bye(10)
            return response.status
        finally:
            phone.close()

    assert _run(scenario("bob-secret-1")) == 200
    assert _run(scenario("wrong-password")) == 407


def test_caller_hangs_up_during_say(pbx: Pbx) -> None:
    pbx.callflow(
        number="5551008", flow={"module": "say", "data": {"text": "This is a rather long sentence that will be cut."}}
    )

    async def scenario() -> tuple[int, int]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            await phone.call("5551008")
            await asyncio.sleep(0.5)
            bye = await phone.hangup()
            await asyncio.sleep(1.0)
            return bye.status, phone.requests.qsize()
        finally:
            phone.close()

    assert _run(scenario()) == (200, 0)  # no BYE comes back after ours


def test_play_uploaded_wav_and_mp3(pbx: Pbx) -> None:
    base = f"/v2/accounts/{pbx.account_id}/media"
    wav_id = pbx.api.put(base, json={"data": {"name": "tone wav"}}).json()["data"]["id"]
    r = pbx.api.put(f"{base}/{wav_id}/raw", content=wav_bytes(1.0, 600), headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200 and abs(r.json()["data"]["duration"] - 1.0) < 0.01
    mp3_id = pbx.api.put(base, json={"data": {"name": "tone mp3"}}).json()["data"]["id"]
    r = pbx.api.put(f"{base}/{mp3_id}/raw", content=mp3_bytes(1.0, 900), headers={"Content-Type": "audio/mpeg"})
    # an untagged MP3 keeps the encoder's delay and frame padding (576-sample frames at 8 kHz)
    assert r.status_code == 200 and 1.0 <= r.json()["data"]["duration"] < 1.2
    assert pbx.api.put(f"{base}/{wav_id}/raw", content=b"xx", headers={"Content-Type": "text/plain"}).status_code == 415
    pbx.callflow(
        number="5551009",
        flow={"module": "play", "data": {"id": wav_id}, "children": {"_": {"module": "play", "data": {"id": mp3_id}}}},
    )

    async def scenario() -> tuple[float, float]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            await phone.call("5551009")
            await phone.wait_bye(10)
            pcm = phone.received.pcm(0)
            loud = np.flatnonzero(np.abs(pcm) > 500)
            first, second = pcm[loud[0] : loud[0] + 6000], pcm[loud[-1] - 6000 : loud[-1]]
            return dominant_frequency(first), dominant_frequency(second)
        finally:
            phone.close()

    first, second = _run(scenario())  # type: ignore[misc]
    assert abs(first - 600) < 20 and abs(second - 900) < 20
    audio = pbx.server.data_dir / "media" / pbx.account_id / f"{wav_id}.wav"
    assert audio.exists()
    assert pbx.api.delete(f"{base}/{wav_id}").status_code == 200
    assert not audio.exists()  # the converted audio goes with its document


def _heard(pbx: Pbx, number: str) -> tuple[int, float | None]:
    async def scenario() -> tuple[int, float | None]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            response = await phone.call(number)
            if response.status != 200:
                return response.status, None
            await phone.wait_bye(10)
            return 200, dominant_frequency(_loud(phone.received.pcm(0)))
        finally:
            phone.close()

    return _run(scenario())  # type: ignore[return-value]


def test_skip_module_and_callflow_jump(pbx: Pbx) -> None:
    tone = {"module": "tone", "data": {"frequencies": [700], "duration_ms": 600}}
    target = pbx.put("callflows", {"numbers": ["5551010"], "flow": tone})  # its id
    pbx.callflow(
        number="5551011",
        flow={
            "module": "tone",
            "data": {"frequencies": [1000], "skip_module": True},
            "children": {"_": {"module": "callflow", "data": {"id": target}}},
        },
    )
    status, freq = _heard(pbx, "5551011")
    assert status == 200 and freq is not None and abs(freq - 700) < 20


def test_unknown_module_at_run_time_and_loops_end_cleanly(pbx: Pbx) -> None:
    from calltape.store.callflows import Callflows
    from calltape.store.database import Database

    async def store_unchecked() -> None:
        db = Database(f"sqlite:///{pbx.server.data_dir / 'calltape.db'}")
        callflows = Callflows(db)
        await callflows.create(
            {"numbers": ["5551012"], "flow": {"module": "from_the_future", "data": {}}}, pbx.account_id
        )
        looping = await callflows.create(
            {"numbers": ["5551013"], "flow": {"module": "answer", "data": {}}}, pbx.account_id
        )
        await callflows.replace(
            looping["id"],
            {"numbers": ["5551013"], "flow": {"module": "callflow", "data": {"id": looping["id"]}}},
            pbx.account_id,
        )
        await db.close()

    _run(store_unchecked())
    assert _heard(pbx, "5551012") == (480, None)  # never answered: a final response, no hang
    assert _heard(pbx, "5551013") == (480, None)


def test_silent_far_end_is_hung_up_after_rtp_timeout(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data",
        ["--trusted-networks", "127.0.0.1/32", "--rtp-timeout", "1", "--rtp-ports", rtp_ports(25500, 25599)],
    ).start()
    try:
        with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
            account = api.put("/v2/accounts", json={"data": {"name": "t", "realm": "timeout.example.com"}}).json()
            flow = {
                "numbers": ["600"],
                "flow": {
                    "module": "answer",
                    "data": {},
                    "children": {"_": {"module": "sleep", "data": {"duration": 30}}},
                },
            }
            api.put(f"/v2/accounts/{account['data']['id']}/callflows", json={"data": flow}).raise_for_status()

        async def scenario() -> float:
            phone = await Phone(server.sip_port).start()
            try:
                await phone.call("600")
                await asyncio.sleep(0.5)
                phone.sending = False  # the far end goes silent
                silent_from = asyncio.get_running_loop().time()
                bye = await phone.wait_bye(10)
                return bye - silent_from
            finally:
                phone.close()

        waited = _run(scenario())
        assert 0.9 <= waited <= 3.0  # type: ignore[operator]
    finally:
        server.stop()


def test_echo_returns_the_callers_audio(pbx: Pbx) -> None:
    pbx.callflow(number="5551014", flow={"module": "echo", "data": {"duration": 1.5}})

    async def scenario() -> float:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            t = np.arange(8000 * 3) / 8000
            phone.say_pcm((np.sin(2 * np.pi * 600 * t) * 8000).astype("<i2").tobytes())
            await phone.call("5551014")
            await phone.wait_bye(10)
            return dominant_frequency(_loud(phone.received.pcm(0)))
        finally:
            phone.close()

    assert abs(_run(scenario()) - 600) < 20  # type: ignore[operator]


def test_play_from_url_is_fetched_once_and_cached(pbx: Pbx, tmp_path: Path) -> None:
    import http.server
    import threading

    (tmp_path / "prompt.wav").write_bytes(wav_bytes(0.8, 1200))
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kw: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            hits.append(self.path)

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{web.server_address[1]}/prompt.wav"
    pbx.callflow(number="5551015", flow={"module": "play", "data": {"id": url}})
    try:
        first = _heard(pbx, "5551015")
    finally:
        web.shutdown()
        web.server_close()
    second = _heard(pbx, "5551015")  # the web server is gone: the cached copy plays
    assert first[0] == second[0] == 200
    assert abs(first[1] - 1200) < 20 and abs(second[1] - 1200) < 20  # type: ignore[operator]
    assert len(hits) == 1


def test_reinvite_to_a_new_address_moves_the_media(pbx: Pbx) -> None:
    pbx.callflow(number="5551016", flow={"module": "tone", "data": {"frequencies": [800], "duration_ms": 4000}})

    async def scenario() -> tuple[int, int]:
        phone = await Phone(pbx.server.sip_port).start()
        try:
            await phone.call("5551016")
            await asyncio.sleep(0.5)
            moved = await phone.move_media()
            await asyncio.sleep(0.3)
            before = len(phone.received.frames)
            await asyncio.sleep(1.0)
            arrived_at_new_port = len(phone.received.frames) - before
            await phone.hangup()
            return moved.status, arrived_at_new_port
        finally:
            phone.close()

    status, arrived = _run(scenario())  # type: ignore[misc]
    assert status == 200 and 40 <= arrived <= 60


def _echo_server(data_dir: Path, number: str) -> ServerProcess:
    """A server of its own (these tests stop it) whose *number* is an echo."""
    server = ServerProcess(data_dir, ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(25600, 25699)])
    server.start()
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        realm = f"shutdown{uuid.uuid4().hex[:6]}.example.com"
        account = api.put("/v2/accounts", json={"data": {"name": "s", "realm": realm}}).json()
        flow = {"numbers": [number], "flow": {"module": "echo", "data": {}}}
        api.put(f"/v2/accounts/{account['data']['id']}/callflows", json={"data": flow}).raise_for_status()
    return server


def test_shutdown_hangs_up_calls_in_progress(tmp_path: Path) -> None:
    server = _echo_server(tmp_path / "data", "601")

    async def scenario() -> int | None:
        phone = await Phone(server.sip_port).start()
        try:
            assert (await phone.call("601")).status == 200
            await asyncio.sleep(0.3)
            stopped = asyncio.get_running_loop().run_in_executor(None, server.stop)
            await phone.wait_bye(10)
            return await stopped
        finally:
            phone.close()

    assert _run(scenario()) == 0  # the caller got a BYE, and the server exited cleanly


def test_shutdown_with_a_late_offer_call_still_awaiting_its_ack_exits_cleanly(tmp_path: Path) -> None:
    """A late-offer INVITE (no SDP) answered with our offer, whose ACK never comes: shutting down then ends the
    call with nothing left running ("Task exception was never retrieved" was logged here)."""
    server = _echo_server(tmp_path / "data", "602")
    client = UdpSipClient()
    try:
        client.send(
            (
                f"INVITE sip:602@127.0.0.1:{server.sip_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=late1\r\nTo: <sip:602@127.0.0.1>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:{client.port}>\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            server.sip_port,
        )
        answer = client.recv_final(5)
        assert answer is not None and answer.status == 200 and b"m=audio" in answer.body  # our offer; no ACK sent
        assert server.stop() == 0
    finally:
        client.close()
    log = server.log_path.read_text()
    assert "never retrieved" not in log and "Traceback" not in log, log[-3000:]
