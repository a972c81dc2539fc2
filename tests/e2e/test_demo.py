"""``calltape demo`` run as a new user runs it: its table, the files it names, and a phone joining afterwards."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.audio import channel_hz
from tests.e2e.upload_sink import decode


def test_demo_records_every_seed_flow_and_leaves_calltape_up_for_a_phone(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "calltape", "demo", "--data-dir", str(data_dir), "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        check_demo(demo, data_dir)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # it stops the calltape it started
            demo.wait(30)


def check_demo(demo: subprocess.Popen[str], data_dir: Path) -> None:
    assert demo.stdout is not None
    lines: list[str] = []
    while "Ctrl-C stops calltape." not in (line := demo.stdout.readline()):
        assert line, f"the demo ended early: {lines} {demo.stderr.read() if demo.stderr else ''}"
        lines.append(line.rstrip("\n"))
    dashes = next(i for i, text in enumerate(lines) if text.startswith("---"))
    header = re.split(r"\s{2,}", lines[dashes - 1])
    rows = [dict(zip(header, re.split(r"\s{2,}", text), strict=True)) for text in lines[dashes + 1 : dashes + 4]]
    assert lines[dashes + 4] == "3 of 3 flows recorded and checked (all right)"
    expected = {"seed 1": (440, 440), "seed 2": (440, 1000), "seed 3": (440,)}
    for row, (flow, tones) in zip(rows, expected.items(), strict=True):
        assert row["flow"].startswith(flow) and row["verdict"].startswith("ok"), row
        body = (data_dir / row["recording file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest().startswith(row["sha256"])
        assert row["delivered to"].endswith(Path(row["recording file"]).name)
        pcm, rate, channels = decode(body, row["format"])
        assert channels == int(row["channels"]) == len(tones)
        assert abs(len(pcm) / rate - float(row["duration"].split()[0])) <= 0.1
        for index, hz in enumerate(tones):
            assert abs(channel_hz(pcm[:, index], rate) - hz) < 15, (flow, index)

    text = "\n".join(lines)
    server, realm, user, password = (
        re.search(rf"^  {key}\s+(\S+)", text, re.MULTILINE) for key in ("server", "domain", "user", "password")
    )
    assert server and realm and user and password
    login = ["--server", server[1], "--realm", realm[1], "--user", user[1], "--password", password[1]]
    dial = subprocess.run(
        [sys.executable, "-m", "calltape", "dial", "1001", *login, "--tone", "600", "--hangup-after", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dial.returncode == 0, dial.stderr
    assert abs(json.loads(dial.stdout)["heard"]["dominant_hz"] - 600) < 10  # the echo flow, as a phone would use it

    demo.send_signal(signal.SIGINT)
    assert demo.wait(30) == 0
