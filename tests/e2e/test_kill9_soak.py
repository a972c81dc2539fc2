"""The short version of ``bench/durability/kill9.py`` (issue 23): three rounds of a recorded call killed with
SIGKILL mid-call and the node started again on the same data dir; the receiver ends with exactly one decodable
recording per call, each as long as the audio that flowed before its kill: within a second and a half here (the
bench's bar is a second, on a quiet machine; here the whole suite shares the two cores, and the once-a-second
flush of the capture may slip by the event loop's lag)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_three_kills_leave_three_recordings_each_once_and_whole(tmp_path: Path) -> None:
    out = tmp_path / "durability.json"
    run = subprocess.run(
        [
            *(sys.executable, str(ROOT / "bench/durability/kill9.py"), "--rounds", "3", "--max", "2.5"),
            *("--slack", "1.5", "--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    [result] = json.loads(out.read_text())
    assert (result["calls"], result["received"], result["missing"], result["twice"]) == (3, 3, [], [])
    assert result["wrong"] == [] and result["recovered"] == 3
    assert -0.3 <= result["shortfall_s"]["min"] <= result["shortfall_s"]["max"] <= 1.5
