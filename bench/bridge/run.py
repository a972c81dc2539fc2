"""Bridged calls under load: a SIPp caller streams real audio into N calls that calltape bridges, by route,
to a SIPp callee that echoes it back — every bridged call carries audio both ways (200 packets/s).

For each N it measures, while all N calls are up: the server's CPU-seconds per bridged call-minute,
its RSS per call, and checks every call completed. Results: bench/results/bridge.json. The issue's
figure: 500 concurrent bridged calls (1,000 legs), all completed, <= 0.05 CPU-s per bridged call-minute.
Packets lost: what the kernel dropped on calltape's RTP sockets (full receive buffers) in the window.
The machine's CPU by kind (user, system, softirq, steal, idle) in the window shows where the rest went:
on loopback, a send also delivers into the SIPp peer's socket and wakes it, and that is charged to calltape.

    .venv/bin/python bench/bridge/run.py [--calls 100,250,500] [--window 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import free_port  # noqa: E402
from tests.server import TOKEN  # noqa: E402

from bench.load import SERVER_RTP_PORTS, sipp_callee, sipp_callers, start_server, write_sweep  # noqa: E402
from bench.procstat import cpu_seconds, machine_cpu, rss_mb, udp_drops  # noqa: E402

RATE = 50  # new calls per second while ramping up
CALLER_MEDIA_PORT = 61000
CALLEE_MEDIA_PORT = 62000


def main() -> int:
    parser = argparse.ArgumentParser(description="bridged-call load benchmark")
    parser.add_argument("--calls", default="100,250,500")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured with all calls up")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-bridge-bench-"))
    write_sweep(tmp / "audio.ulaw")
    server, pid = start_server(tmp)
    callee_port = free_port()
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.put("/v2/accounts", json={"data": {"name": "bench", "realm": "bridge.example.com"}}).json()
        account_id = account["data"]["id"]
        sip = {"username": "callee", "password": "callee-pw-1", "invite_format": "route"}
        sip["route"] = f"sip:callee@127.0.0.1:{callee_port}"
        device = api.put(f"/v2/accounts/{account_id}/devices", json={"data": {"name": "callee", "sip": sip}}).json()
        flow = {"numbers": ["9000"], "flow": {"module": "device", "data": {"id": device["data"]["id"]}}}
        api.put(f"/v2/accounts/{account_id}/callflows", json={"data": flow}).raise_for_status()
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), "steps": []}
    try:
        for n in [int(x) for x in args.calls.split(",")]:
            ramp = n / RATE
            hold_ms = int((ramp + args.window + 4) * 1000)
            baseline_rss = rss_mb(pid)
            result: dict[str, Any] = {}

            def callee(n: int = n, hold_ms: int = hold_ms, result: dict[str, Any] = result) -> None:
                result["callee"] = sipp_callee(
                    server, tmp, calls=n, port=callee_port, hold_s=hold_ms / 1000, media_port=CALLEE_MEDIA_PORT
                )

            def caller(n: int = n, hold_ms: int = hold_ms, result: dict[str, Any] = result) -> None:
                result["caller"] = sipp_callers(
                    server, tmp, calls=n, rate=RATE, hold_ms=hold_ms, number="9000", media_port=CALLER_MEDIA_PORT
                )

            threads = [threading.Thread(target=callee), threading.Thread(target=caller)]
            threads[0].start()
            time.sleep(1.0)
            threads[1].start()
            time.sleep(ramp + 3)  # every call up
            drops0, cpu0, t0 = udp_drops(SERVER_RTP_PORTS), cpu_seconds(pid), time.monotonic()
            machine0 = machine_cpu()
            time.sleep(args.window)
            drops1, cpu1, t1 = udp_drops(SERVER_RTP_PORTS), cpu_seconds(pid), time.monotonic()
            machine1 = machine_cpu()
            peak_rss = rss_mb(pid)
            for thread in threads:
                thread.join()
            minutes = n * (t1 - t0) / 60
            step = {
                "bridged_calls": n,
                "caller_completed": result["caller"].successful,
                "caller_failed": result["caller"].failed,
                "callee_completed": result["callee"].successful,
                "server_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 3),
                "cpu_s_per_bridged_call_minute": round((cpu1 - cpu0) / minutes, 4),
                "rss_mb": round(peak_rss, 1),
                "rss_kb_per_call": round((peak_rss - baseline_rss) * 1024 / n, 1),
                "server_rtp_packets_per_s": n * 200,
                "server_rtp_dropped_by_kernel": drops1 - drops0,
                "machine_cpu_share": {k: round((machine1[k] - v) / (t1 - t0), 3) for k, v in machine0.items()},
            }
            report["steps"].append(step)
            print(json.dumps(step), flush=True)
            time.sleep(3)
    finally:
        server.stop()
    out = ROOT / "bench" / "results" / "bridge.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
