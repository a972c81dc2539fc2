"""Media load: SIPp streams real audio (rtp_stream) into N concurrent calls that calltape echoes back.

For each N it measures, while all N calls are up: the server's CPU-seconds per call-minute, its RSS
per call, and the packets per second it handles (received + sent), and checks every call completed.
Results: bench/results/media.json. The issue's budget: >= 800 concurrent calls on this 2-core machine.

    .venv/bin/python bench/media/run.py [--calls 100,200,400,800] [--window 10]
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

from tests.server import TOKEN  # noqa: E402

from bench.load import sipp_callers, start_server, write_sweep  # noqa: E402
from bench.procstat import cpu_seconds, rss_mb  # noqa: E402

RATE = 100  # new calls per second while ramping up
SIPP_MEDIA_PORT = 61000  # SIPp's own RTP ports start here, clear of calltape's range and the ephemeral ports


def udp_counters() -> tuple[int, int]:
    """Kernel-wide UDP datagrams in/out (the server is the only big UDP user besides SIPp)."""
    lines = Path("/proc/net/snmp").read_text().splitlines()
    names, values = [line.split() for line in lines if line.startswith("Udp:")][:2]
    row = dict(zip(names, values, strict=True))
    return int(row["InDatagrams"]), int(row["OutDatagrams"])


def main() -> int:
    parser = argparse.ArgumentParser(description="media load benchmark")
    parser.add_argument("--calls", default="100,200,400,800")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured with all calls up")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-media-bench-"))
    write_sweep(tmp / "audio.ulaw")
    server, pid = start_server(tmp)
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.put("/v2/accounts", json={"data": {"name": "bench", "realm": "bench.example.com"}}).json()
        flow = {"numbers": ["8000"], "flow": {"module": "echo", "data": {}}}
        api.put(f"/v2/accounts/{account['data']['id']}/callflows", json={"data": flow}).raise_for_status()
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), "steps": []}
    try:
        for n in [int(x) for x in args.calls.split(",")]:
            ramp = n / RATE
            hold_ms = int((ramp + args.window + 4) * 1000)
            baseline_rss = rss_mb(pid)
            result: dict[str, Any] = {}

            def load(n: int = n, hold_ms: int = hold_ms, result: dict[str, Any] = result) -> None:
                result["sipp"] = sipp_callers(
                    server, tmp, calls=n, rate=RATE, hold_ms=hold_ms, number="8000", media_port=SIPP_MEDIA_PORT
                )

            thread = threading.Thread(target=load)
            thread.start()
            time.sleep(ramp + 2)  # every call up
            cpu0, (in0, out0), t0 = cpu_seconds(pid), udp_counters(), time.monotonic()
            time.sleep(args.window)
            cpu1, (in1, out1), t1 = cpu_seconds(pid), udp_counters(), time.monotonic()
            peak_rss = rss_mb(pid)
            thread.join()
            sipp = result["sipp"]
            minutes = n * (t1 - t0) / 60
            step = {
                "calls": n,
                "completed": sipp.successful,
                "failed": sipp.failed,
                "server_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 3),
                "cpu_s_per_call_minute": round((cpu1 - cpu0) / minutes, 4),
                "rss_mb": round(peak_rss, 1),
                "rss_kb_per_call": round((peak_rss - baseline_rss) * 1024 / n, 1),
                # the server receives 50 and sends 50 packets a second per call; the kernel counters see the
                # whole machine (SIPp does not read the echo, so its side shows up as sent only)
                "machine_udp_in_plus_out_per_s": round(((in1 - in0) + (out1 - out0)) / (t1 - t0)),
                "server_rtp_packets_per_s": n * 100,
            }
            report["steps"].append(step)
            print(json.dumps(step), flush=True)
            time.sleep(3)
    finally:
        server.stop()
    out = ROOT / "bench" / "results" / "media.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
