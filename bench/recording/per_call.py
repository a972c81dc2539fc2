"""What one recorded call costs apart from its audio: SIPp places N short calls (1 s by default) at 100 calls/s,
each recorded (``record_call`` → ``echo``) and delivered by HTTP PUT to calltape's receiver in its own process;
the server's CPU from the first INVITE until every recording is delivered, divided by N, split into its event loop
(the main thread), its other threads (the SQLite lane, the resolver…) and its child processes (the encoders).
Set-up, answer, recording rows, encoding, delivery and teardown are most of it; 1 s of audio is ~0.5 CPU-ms.
Results: bench/results/per_call.json (newest first, with the commit). Exits 1 if a call failed or a recording was
not delivered.

    .venv/bin/python bench/recording/per_call.py [--calls 600] [--hold 1.0] [--format wav|mp3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import free_port  # noqa: E402
from tests.server import TOKEN  # noqa: E402

from bench.load import sipp_callers, start_server, write_sweep  # noqa: E402
from bench.procstat import process_tree  # noqa: E402
from bench.recording.run import setup  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU-seconds of each part: ``loop`` (the main thread), ``threads`` (the others), ``children``."""
    parts = {"loop": 0.0, "threads": 0.0, "children": 0.0}
    for process in process_tree(pid):
        for task in Path(f"/proc/{process}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / TICK
            if process != pid:
                parts["children"] += seconds
            elif int(task.name) == pid:
                parts["loop"] += seconds
            else:
                parts["threads"] += seconds
    return parts


def undelivered(api: httpx.Client, account: str) -> bool:
    states = ("recording", "pending")
    return any(
        api.get(f"/v2/accounts/{account}/recordings", params={"state": s, "page_size": 1}).json()["data"]
        for s in states
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="CPU per recorded call")
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--hold", type=float, default=1.0, help="seconds each call lasts")
    parser.add_argument("--format", choices=["mp3", "wav"], default="wav")
    parser.add_argument("--rate", type=int, default=100, help="new calls per second")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-per-call-"))
    write_sweep(tmp / "audio.ulaw", 10)
    receiver_port = free_port(socket.SOCK_STREAM)
    command = ["receiver", "--listen", f"127.0.0.1:{receiver_port}", "--dir", str(tmp / "receiver")]
    receiver = subprocess.Popen([sys.executable, "-m", "calltape", *command], stderr=subprocess.DEVNULL)
    server, pid = start_server(tmp)
    try:
        with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=60) as api:
            account = setup(api, "echo", args.format, f"http://127.0.0.1:{receiver_port}/rec", 0)
            before = thread_cpu(pid)
            sipp = sipp_callers(
                server,
                tmp,
                calls=args.calls,
                rate=args.rate,
                hold_ms=int(args.hold * 1000),
                number="7000",
                media_port=61000,
            )
            deadline = time.monotonic() + 120
            while undelivered(api, account) and time.monotonic() < deadline:
                time.sleep(0.25)
            after = thread_cpu(pid)
            left = undelivered(api, account)
    finally:
        server.stop()
        receiver.terminate()
        receiver.wait()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    per_call = {part: round((after[part] - before[part]) * 1000 / args.calls, 2) for part in before}
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit.stdout.strip(),
        "calls": args.calls,
        "hold_s": args.hold,
        "rate": args.rate,
        "format": args.format,
        "completed": sipp.successful,
        "failed": sipp.failed,
        "all_delivered": not left,
        "cpu_ms_per_call": round(sum(per_call.values()), 2),
        "cpu_ms_per_call_by_part": per_call,
    }
    print(json.dumps(result))
    out = ROOT / "bench" / "results" / "per_call.json"
    history = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps([result, *history][:20], indent=2) + "\n")
    print(f"written {out}")
    return 1 if sipp.failed or left else 0


if __name__ == "__main__":
    sys.exit(main())
