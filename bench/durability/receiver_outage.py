"""The receiver down while calls are recorded (issue 23's soak): SIPp places recorded calls while the HTTP
receiver their ``url`` names is down; it stays down ``--down`` seconds after the last call ended, then comes
back on the same port. Every recording must then arrive exactly once, and the outbox's depth and the failed
attempts must have been visible in /metrics meanwhile.

    .venv/bin/python bench/durability/receiver_outage.py [--calls 200] [--down 600] [--retry-base 5]

Results: bench/results/durability.json (newest first, ``"soak": "receiver_outage"``). Exits 1 if a recording
is missing or arrived twice.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import free_port  # noqa: E402
from tests.e2e.upload_sink import UploadSink  # noqa: E402
from tests.server import TOKEN, ServerProcess  # noqa: E402

from bench.durability.soak import RESULTS, commit, record, recorded_echo  # noqa: E402
from bench.load import sipp_callers, write_sweep  # noqa: E402

NUMBER = "9200"


def _metric(server: ServerProcess, name: str) -> float:
    text = httpx.get(f"{server.api_url}/metrics", timeout=10).text
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description="recordings kept through a receiver outage, none lost or doubled")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds each call lasts")
    parser.add_argument("--down", type=float, default=600.0, help="seconds the receiver stays down after the calls")
    parser.add_argument("--retry-base", type=float, default=5.0, help="the node's --delivery-retry-base")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-outage-"))
    write_sweep(tmp / "audio.ulaw", 10)
    port = free_port(socket.SOCK_STREAM)
    sink = UploadSink(port=port)  # not started: the receiver is down
    flags = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", "40000-44999", "--log-level", "warning"]
    server = ServerProcess(tmp / "data", [*flags, "--delivery-retry-base", str(args.retry_base)]).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    started = time.monotonic()
    try:
        recorded_echo(api, server.api_url, "outage", NUMBER, f"{sink.url}/outage", "wav")
        hold_ms = int(args.hold * 1000)
        sipp = sipp_callers(server, tmp, calls=args.calls, rate=50, hold_ms=hold_ms, number=NUMBER, media_port=62000)
        done = f"{sipp.successful} calls done, {sipp.failed} failed"
        print(f"{done}; the receiver stays down {args.down:g} s", flush=True)
        deepest = failures = 0.0
        until = time.monotonic() + args.down
        while time.monotonic() < until:
            deepest = max(deepest, _metric(server, "calltape_recording_outbox_depth"))
            failures = _metric(server, "calltape_recording_delivery_failures_total")
            time.sleep(min(5.0, max(0.1, until - time.monotonic())))
        sink.start()
        print(f"the receiver is back (outbox {deepest:g} deep, {failures:g} failed attempts)", flush=True)
        deadline = time.monotonic() + max(120.0, 20 * args.retry_base)
        while len(sink.uploads) < sipp.successful and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2.0)  # nothing more may come
        waited = time.monotonic() - until
        depth_after = _metric(server, "calltape_recording_outbox_depth")
    finally:
        api.close()
        server.stop()
        sink.stop()
    arrived = Counter(dict(upload.query).get("call_id", "") for upload in sink.uploads)
    result: dict[str, Any] = {
        "soak": "receiver_outage",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit(),
        "calls": args.calls,
        "calls_completed": sipp.successful,
        "calls_failed": sipp.failed,
        "down_s": args.down,
        "retry_base_s": args.retry_base,
        "outbox_depth_max": deepest,
        "failed_attempts_seen": failures,
        "received": len(arrived),
        "twice": sorted(call_id for call_id, count in arrived.items() if count > 1),
        "outbox_depth_after": depth_after,
        "delivered_within_s_of_return": round(waited, 1),
        "took_s": round(time.monotonic() - started, 1),
    }
    result["all_right"] = (
        sipp.failed == 0 and len(arrived) == sipp.successful == args.calls and not result["twice"] and depth_after == 0
    )
    return record(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
