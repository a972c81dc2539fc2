"""Recorded calls under load: SIPp streams a real sweep into N concurrent calls that calltape records (stereo MP3,
or WAV with ``--format wav``) while it echoes them (``--flow echo``) or bridges them to a SIPp callee that echoes
(``--flow bridged``); ``--flow echo-norec`` is the same echo without recording, so each part's cost shows.

Recordings go by HTTP PUT to calltape's own receiver, run as a separate process. For each N it reports,
with all N calls up: the server's CPU-seconds per call-minute and its RSS per call (its RSS then, above its
RSS before the step, ÷ N); then SIPp's completed/failed calls, and after the calls: every recording fetched,
decoded and checked strictly (checks.py: its duration against the metadata and the call; every 250 ms window
tracking the sweep with one offset for the whole file; for WAV, every 20 ms frame byte-exact and in order), and
hangup→delivered latency p50/p99 (from each row's end of recording to its ``delivered_at``; also the p99 of the
first half of the hang-ups, while at least half the calls were still up). With ``--hold-spread S`` each call lasts
between hold − S and hold seconds (SIPp reads each call's hold from an injection file, and each recording is
checked against its own call's length), so hang-ups come spread over S seconds as in real traffic instead of all
within N/rate seconds. Results:
bench/results/recording.json, one entry per flow, with the commit. Exits 1 if a SIPp call failed or a recording
is wrong.

    .venv/bin/python bench/recording/run.py [--flow echo|bridged|echo-norec] [--format mp3|wav] [--calls 200,500]
        [--hold 30] [--hold-spread 0] [--workers 1] [--receiver-dir /dev/shm] [--receiver-workers 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import free_port  # noqa: E402
from tests.server import TOKEN  # noqa: E402

from bench.load import metric_values, rtp_counters, sipp_callee, sipp_callers, start_server, write_sweep  # noqa: E402
from bench.procstat import cpu_seconds, process_tree, rss_mb  # noqa: E402
from bench.recording.checks import exact_frames, reference_frames, sweep_windows  # noqa: E402

CALLER_MEDIA_PORT = 61000
CALLEE_MEDIA_PORT = 63000
SWEEP_SECONDS = 10  # the sweep rises 300 Hz per second from 300 Hz, then starts again


def verify(
    body: bytes, fmt: str, duration_ms: int, hold: float, both: bool, reference: dict[bytes, int]
) -> dict[str, Any]:
    """The strict checks (bench/recording/checks.py) on what the caller said (and, when *both*, on what the
    callee said: in a bridged call calltape received that too)."""
    if fmt == "mp3":
        decoded = subprocess.run(["mpg123", "-q", "-s", "-"], input=body, capture_output=True, check=True).stdout
        pcm = np.frombuffer(decoded, dtype="<i2").reshape(-1, 2)
    else:
        with wave.open(io.BytesIO(body)) as wav:
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())
    seconds = len(pcm) / 8000
    channels = [0, 1] if both else [0]
    tracking = [sweep_windows(pcm[:, c], SWEEP_SECONDS) for c in channels]
    result: dict[str, Any] = {
        "seconds": seconds,
        "vs_metadata": abs(seconds - duration_ms / 1000),
        "vs_call": abs(seconds - hold),
        "tracking": min(t["tracking"] for t in tracking),
    }
    ok = result["vs_metadata"] <= 0.1 and result["vs_call"] <= 0.25 and result["tracking"] >= 0.95
    if fmt == "wav":
        frames = [exact_frames(pcm[:, c], reference) for c in channels]
        expected = int(hold * 50) - 10  # every frame of the call, but for the first and last few
        result["exact_frames"] = min(f["exact"] for f in frames)
        result["other_frames"] = max(f["other"] for f in frames)
        result["out_of_order"] = max(f["out_of_order"] for f in frames)
        ok = ok and result["exact_frames"] >= expected and result["other_frames"] == 0 and result["out_of_order"] == 0
    result["ok"] = ok
    return result


def rows_since(api: httpx.Client, account: str, since: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"page_size": 500, "created_from": since}
    while True:
        page = api.get(f"/v2/accounts/{account}/recordings", params=params).json()
        rows += page["data"]
        if "next_start_key" not in page:
            return rows
        params["start_key"] = page["next_start_key"]


def setup(api: httpx.Client, flow_kind: str, fmt: str, receiver_url: str, callee_port: int) -> str:
    account = api.put("/v2/accounts", json={"data": {"name": "bench", "realm": "rec.example.com"}}).json()["data"]["id"]
    if flow_kind == "bridged":
        sip = {"username": "callee", "password": "callee-pw-1", "invite_format": "route"}
        sip["route"] = f"sip:callee@127.0.0.1:{callee_port}"
        device = api.put(f"/v2/accounts/{account}/devices", json={"data": {"name": "callee", "sip": sip}}).json()
        then: dict[str, Any] = {"module": "device", "data": {"id": device["data"]["id"]}}
    else:
        then = {"module": "echo", "data": {}}
    record = {"module": "record_call", "data": {"format": fmt, "url": receiver_url}, "children": {"_": then}}
    flow = {"numbers": ["7000"], "flow": then if flow_kind == "echo-norec" else record}
    api.put(f"/v2/accounts/{account}/callflows", json={"data": flow}).raise_for_status()
    return str(account)


def run_step(
    n: int,
    args: argparse.Namespace,
    server: Any,
    pid: int,
    tmp: Path,
    callee_port: int,
    api: httpx.Client,
    account: str,
) -> dict[str, Any]:
    ramp = n / args.rate
    holds = call_holds(n, args)
    hold_ms: int | list[int] = [round(h * 1000) for h in holds] if args.hold_spread else round(args.hold * 1000)
    window = max(3.0, min(holds) - ramp - 4)
    pids = process_tree(pid)  # with --workers: the supervisor and its workers
    idle_rss = rss_mb(*pids)
    result: dict[str, Any] = {}
    started = time.time()
    cpu_start = cpu_seconds(*pids)
    received0, dropped0 = rtp_counters(api)
    threads = []
    if args.flow == "bridged":

        def callee() -> None:
            result["callee"] = sipp_callee(
                server, tmp, calls=n, port=callee_port, hold_s=args.hold, media_port=CALLEE_MEDIA_PORT
            )

        threads.append(threading.Thread(target=callee))

    def caller() -> None:
        result["caller"] = sipp_callers(
            server, tmp, calls=n, rate=args.rate, hold_ms=hold_ms, number="7000", media_port=CALLER_MEDIA_PORT
        )

    threads.append(threading.Thread(target=caller))
    for thread in threads:
        thread.start()
        time.sleep(0.5)
    time.sleep(ramp + 2)  # every call up
    cpu0, t0 = cpu_seconds(*pids), time.monotonic()
    time.sleep(window)
    cpu1, t1 = cpu_seconds(*pids), time.monotonic()
    peak = rss_mb(*pids)  # with all N up (VmHWM would carry the peak of an earlier, larger step)
    for thread in threads:
        thread.join()
    cpu_end = cpu_seconds(*pids)  # every call has ended (encoding of their last second included)
    received1, dropped1 = rtp_counters(api)
    sipp = result["caller"]
    step: dict[str, Any] = {
        "flow": args.flow,
        "calls": n,
        "completed": sipp.successful,
        "failed": sipp.failed,
        "window_s": round(t1 - t0, 1),
        "server_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 3),
        "cpu_s_per_call_minute": round((cpu1 - cpu0) / (n * (t1 - t0) / 60), 4),
        "cpu_s_per_call_minute_whole_run": round((cpu_end - cpu_start) / (sum(holds) / 60), 4),
        "rss_mb_per_call": round((peak - idle_rss) / n, 3),
        "rtp_received": received1 - received0,
        "relayed_share": round(1 - (dropped1 - dropped0) / max(1, received1 - received0), 4),  # echoed / received
    }
    if args.flow != "echo-norec":
        step.update(check_recordings(api, account, started, args, holds, tmp))
        ahead = metric_values(api, "calltape_recording_mp3_frames_encoded_ahead_total")
        step["mp3_frames_encoded_ahead"] = {key.split('"')[1]: int(value) for key, value in ahead.items()}
    return step


def call_holds(n: int, args: argparse.Namespace) -> list[float]:
    """How long each of *n* calls lasts, in the order placed: ``--hold``, or with ``--hold-spread`` S drawn evenly
    from [hold - S, hold] (the same draw for the same N)."""
    if not args.hold_spread:
        return [args.hold] * n
    spread = np.random.default_rng(n).random(n) * args.hold_spread
    return [round(args.hold - s, 3) for s in spread]


def check_recordings(
    api: httpx.Client, account: str, since: float, args: argparse.Namespace, holds: list[float], tmp: Path
) -> dict[str, Any]:
    n = len(holds)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # a cheap question (one row at most) until nothing is left to deliver
        left = [
            api.get(f"/v2/accounts/{account}/recordings", params={"state": state, "page_size": 1}).json()["data"]
            for state in ("recording", "pending")
        ]
        if not any(left):
            break
        time.sleep(1)
    rows = rows_since(api, account, since)
    delivered = [r for r in rows if r["state"] == "delivered"]
    by_hangup = sorted(delivered, key=lambda r: r["created"] + r["duration_ms"] / 1000)
    waits = [r["delivered_at"] - (r["created"] + r["duration_ms"] / 1000) for r in by_hangup]
    latencies = sorted(waits)
    # the hang-ups while at least half the calls were still up (with --hold-spread the rest come as calls thin out)
    first_half = sorted(waits[: n // 2])
    files = {p.name: p for p in args.receiver_dir.rglob(f"call_recording_*.{args.format}")}
    reference = reference_frames(tmp / "audio.ulaw")

    def check(row: dict[str, Any]) -> dict[str, Any]:
        path = files.get(row["name"])
        if path is None:
            return {"ok": False, "missing": row["name"]}
        both = args.flow == "bridged"
        hold = holds[int(row["call_id"].split("-")[0]) - 1]  # SIPp's Call-ID: <call number>-<pid>@<address>
        return {
            "call_id": row["call_id"],
            **verify(path.read_bytes(), args.format, row["duration_ms"], hold, both, reference),
        }

    with ThreadPoolExecutor(2) as pool:
        checks = list(pool.map(check, delivered))
    bad = [c for c in checks if not c["ok"]]
    deviations = [c["vs_call"] for c in checks if "vs_call" in c]
    return {
        "recordings": len(rows),
        "delivered": len(delivered),
        "verified": len(checks) - len(bad),
        "bad_examples": bad[:3],
        "max_duration_error_vs_call_s": round(max(deviations, default=0.0), 3),
        "min_sweep_tracking": round(min((c["tracking"] for c in checks if "tracking" in c), default=0.0), 3),
        "min_exact_frames": min((c["exact_frames"] for c in checks if "exact_frames" in c), default=None),
        "right": len(checks) - len(bad) == n == len(rows),
        "delivery_p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
        "delivery_p99_s": _p99(latencies),
        "delivery_p99_first_half_s": _p99(first_half),
    }


def _p99(latencies: list[float]) -> float | None:
    return round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3) if latencies else None


def main() -> int:
    parser = argparse.ArgumentParser(description="recorded-call load benchmark")
    parser.add_argument("--flow", choices=["echo", "bridged", "echo-norec"], default="echo")
    parser.add_argument("--calls", default="200,500,1000")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds each call lasts")
    parser.add_argument(
        "--hold-spread",
        type=float,
        default=0.0,
        help="S: each call lasts between hold - S and hold seconds (evenly drawn), so hang-ups spread over S seconds",
    )
    parser.add_argument("--rate", type=int, default=100, help="new calls per second")
    parser.add_argument("--workers", type=int, default=1, help="calltape serve --workers")
    parser.add_argument("--format", choices=["mp3", "wav"], default="mp3")
    parser.add_argument(
        "--receiver-dir",
        type=Path,
        help="where the receiver stores uploads (default: beside the run; a tmpfs such as /dev/shm stands for a "
        "receiver on another machine, whose disk is not this one's)",
    )
    parser.add_argument("--receiver-workers", type=int, default=1, help="calltape receiver --workers")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-recording-bench-"))
    receiver_root = args.receiver_dir
    args.receiver_dir = Path(tempfile.mkdtemp(dir=receiver_root)) if receiver_root else tmp / "receiver"
    write_sweep(tmp / "audio.ulaw", SWEEP_SECONDS)
    receiver_port = free_port(socket.SOCK_STREAM)
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "calltape",
            "receiver",
            "--listen",
            f"127.0.0.1:{receiver_port}",
            "--dir",
            str(args.receiver_dir),
            "--workers",
            str(args.receiver_workers),
        ],
        stderr=subprocess.DEVNULL,
    )
    server, pid = start_server(tmp, args.workers)
    callee_port = free_port()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit.strip(),
        "cores": os.cpu_count(),
        "hold_s": args.hold,
        "hold_spread_s": args.hold_spread,
        "workers": args.workers,
        "receiver_dir": str(receiver_root or "beside the run"),
        "receiver_workers": args.receiver_workers,
        "steps": [],
    }
    try:
        with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=60) as api:
            account = setup(api, args.flow, args.format, f"http://127.0.0.1:{receiver_port}/rec", callee_port)
            for n in [int(x) for x in args.calls.split(",")]:
                step = run_step(n, args, server, pid, tmp, callee_port, api, account)
                report["steps"].append(step)
                print(json.dumps(step), flush=True)
                time.sleep(3)
    finally:
        server.stop()
        receiver.terminate()
        receiver.wait()
        if receiver_root:  # a tmpfs holds them in memory
            shutil.rmtree(args.receiver_dir, ignore_errors=True)
    out = ROOT / "bench" / "results" / "recording.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    key = args.flow if args.format == "mp3" else f"{args.flow}-{args.format}"
    key = key if args.workers == 1 else f"{key}-workers{args.workers}"
    if key in results:  # keep the history: earlier runs of the same flow, newest first
        earlier = results[key]
        report["earlier_runs"] = [{k: v for k, v in earlier.items() if k != "earlier_runs"}]
        report["earlier_runs"] += earlier.get("earlier_runs", [])[:5]
    results[key] = report  # one entry per flow (and worker count), each with its own date and commit
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {out}")
    wrong = [s for s in report["steps"] if s["failed"] or not s.get("right", args.flow == "echo-norec")]
    for step in wrong:
        print(
            f"FAILED at {step['calls']} calls: {step['failed']} SIPp calls failed, "
            f"{step.get('verified')} of {step['calls']} recordings right",
            file=sys.stderr,
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
