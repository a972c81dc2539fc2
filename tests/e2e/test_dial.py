"""``calltape dial`` run as a user runs it: against calltape, and against SIPp as an independent peer."""

from __future__ import annotations

import audioop
import json
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.audio import dominant_frequency
from tests.e2e.account import Account
from tests.e2e.sipp_runner import SCENARIOS, free_port
from tests.ports import rtp_ports
from tests.server import ServerProcess

PASSWORD = "dial-secret-1"


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    server = ServerProcess(tmp_path_factory.mktemp("dial"), ["--rtp-ports", rtp_ports(27000, 27199)]).start()
    pbx = Account.create(server, "Dial")
    for name in ("ada", "bob"):
        pbx.put("devices", {"name": name, "sip": {"username": name, "password": PASSWORD}})
    bob = next(
        d["id"] for d in pbx.api.get(f"/v2/accounts/{pbx.account_id}/devices").json()["data"] if d["name"] == "bob"
    )
    pbx.put("callflows", {"numbers": ["2000"], "flow": {"module": "echo", "data": {}}})
    pbx.put("callflows", {"numbers": ["3000"], "flow": {"module": "device", "data": {"id": bob}}})
    digits = {
        "module": "collect_dtmf",
        "data": {"max_digits": 2, "timeout": 5},
        "children": {
            "42": {"module": "tone", "data": {"frequencies": [1000], "duration_ms": 1500}},
            "_": {"module": "tone", "data": {"frequencies": [400], "duration_ms": 1500}},
        },
    }
    pbx.put("callflows", {"numbers": ["4000"], "flow": digits})
    yield pbx
    pbx.api.close()
    server.stop()


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def no_phone_left_running() -> Iterator[None]:
    yield
    while STARTED:
        STARTED.pop().kill()


def dial(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "calltape", "dial", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    STARTED.append(proc)
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, list[dict[str, object]], str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, [json.loads(line) for line in out.splitlines() if line.strip()], err


def as_device(pbx: Account, name: str) -> list[str]:
    server = f"127.0.0.1:{pbx.server.sip_port}"
    return ["--server", server, "--realm", pbx.realm, "--user", name, "--password", PASSWORD]


def wav_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def test_dial_registers_calls_echo_and_records_what_it_hears(pbx: Account, tmp_path: Path) -> None:
    record = tmp_path / "heard.wav"
    args = [*as_device(pbx, "ada"), "--register", "--tone", "440", "--hangup-after", "3", "--record", str(record)]
    code, calls, err = finish(dial("2000", *args))
    assert code == 0, err
    assert "registered ada@" in err
    (call,) = calls
    assert (call["status"], call["answered"], call["ended_by"]) == (200, True, "hung up by us")
    assert abs(float(call["duration"]) - 3.0) < 0.2  # type: ignore[arg-type]
    pcm = wav_pcm(record)
    assert abs(len(pcm) / 8000 - 3.0) < 0.2
    assert abs(dominant_frequency(pcm) - 440) < 10  # the echo of our own tone


def test_dial_answers_a_call_rung_through_a_device_flow(pbx: Account) -> None:
    bob = dial(
        "--answer", "--calls", "1", "--register", "--tone", "1000", "--answer-after", "0.5", *as_device(pbx, "bob")
    )
    assert bob.stderr is not None
    while "waiting for calls" not in (line := bob.stderr.readline()):
        assert line, "calltape dial --answer stopped before waiting for calls"
    code, (ada_call,), err = finish(dial("3000", "--tone", "440", "--hangup-after", "3", *as_device(pbx, "ada")))
    assert code == 0, err
    bob_code, (bob_call,), bob_err = finish(bob)
    assert bob_code == 0, bob_err
    assert ada_call["heard"]["dominant_hz"] == pytest.approx(1000, abs=10)  # type: ignore[index]
    assert bob_call["heard"]["dominant_hz"] == pytest.approx(440, abs=10)  # type: ignore[index]
    assert (bob_call["direction"], bob_call["ended_by"]) == ("inbound", "hung up by the other side")
    assert str(bob_call["remote"]).startswith("sip:ada@")


def test_dial_sends_rfc4733_digits_that_choose_a_branch(pbx: Account) -> None:
    code, (call,), err = finish(dial("4000", "--dtmf", "42", "--dtmf-after", "0.5", *as_device(pbx, "ada")))
    assert code == 0, err
    assert call["ended_by"] == "hung up by the other side"  # the tone branch ends the call
    assert call["heard"]["dominant_hz"] == pytest.approx(1000, abs=15)  # type: ignore[index]


def test_dial_against_sipp_as_callee(tmp_path: Path) -> None:
    """SIPp answers and echoes RTP: our INVITE, ACK and BYE satisfy an independent UAS, and its echo is our tone."""
    port = free_port()
    echo = ["-rtp_echo", "-mi", "127.0.0.1", "-mp", str(free_port()), "-nostdin", "-trace_err"]
    sipp = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / "uas_echo.xml"), "-i", "127.0.0.1", "-p", str(port), "-m", "1", *echo],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code, (call,), err = finish(dial(f"sip:echo@127.0.0.1:{port}", "--tone", "700", "--hangup-after", "2"))
        assert sipp.wait(10) == 0  # SIPp's verdict: its one call went as its scenario says
    finally:
        sipp.kill()
    assert code == 0, err
    assert call["status"] == 200
    assert call["heard"]["dominant_hz"] == pytest.approx(700, abs=10)  # type: ignore[index]


def test_dial_answers_sipp_as_caller(tmp_path: Path) -> None:
    """SIPp calls ``dial --answer`` and streams a 440 Hz tone: our 180/200 satisfy an independent UAC."""
    tone = (np.sin(2 * np.pi * 440 * np.arange(8000 * 3) / 8000) * 8000).astype("<i2").tobytes()
    (tmp_path / "tone.ulaw").write_bytes(audioop.lin2ulaw(tone, 2))
    port = free_port()
    answerer = dial("--answer", "--calls", "1", "--listen", f"127.0.0.1:{port}", "--record", str(tmp_path / "in.wav"))
    assert answerer.stderr is not None
    while "waiting for calls" not in (line := answerer.stderr.readline()):
        assert line, "calltape dial --answer stopped before waiting for calls"
    scenario = (SCENARIOS / "call_echo.xml").read_text()
    scenario = scenario.replace("@RTP_STREAM@", f"{tmp_path / 'tone.ulaw'},-1,0").replace(
        "@HOLD@", '<pause milliseconds="3000"/>'
    )
    (tmp_path / "call.xml").write_text(scenario)
    local = ["-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-nostdin"]
    sipp = subprocess.run(
        [
            "sipp",
            f"127.0.0.1:{port}",
            "-sf",
            str(tmp_path / "call.xml"),
            "-s",
            "dial",
            "-m",
            "1",
            *local,
            "-timeout",
            "20s",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=40,
    )
    assert sipp.returncode == 0, sipp.stdout[-2000:]
    code, (call,), err = finish(answerer)
    assert code == 0, err
    assert call["ended_by"] == "hung up by the other side"
    pcm = wav_pcm(tmp_path / "in.wav")
    assert abs(dominant_frequency(pcm[pcm != 0]) - 440) < 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say what to call"),
        (["2000", "--answer"], "give no number"),
        (["2000", "--dtmf", "12x"], "not a DTMF digit"),
        (["2000", "--play", "/nonexistent.wav"], "cannot read /nonexistent.wav"),
        (["2000", "--server", "nowhere"], "--server: expected HOST:PORT"),
        (["2000", "--hangup-after", "soon"], "invalid float value"),
        (["--answer", "--register"], "--register needs --password"),
    ],
)
def test_dial_bad_options_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, calls, err = finish(dial(*args))
    assert (code, calls) == (2, [])
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_dial_with_a_wrong_password_says_so_and_exits_1(pbx: Account) -> None:
    args = ["--server", f"127.0.0.1:{pbx.server.sip_port}", "--realm", pbx.realm, "--user", "ada"]
    code, calls, err = finish(dial("2000", *args, "--password", "wrong", "--register"))
    assert (code, calls) == (1, [])
    assert "registration refused: 403" in err or "registration refused: 401" in err
