"""A rolling restart under load (issue 23's soak): SIPp places recorded calls through the Kamailio edge at a steady
rate while every node in turn is drained (``POST /v2/nodes/{id}/drain``), exits, and is started again on its data
dir. No SIPp call may fail, and every recording must arrive exactly once.

    .venv/bin/python bench/durability/rolling_restart.py [--nodes 2] [--minutes 3] [--rate 5] [--hold 8]

Needs Debian's kamailio and the PostgreSQL on 127.0.0.1 (a database of its own is made and dropped).
Results: bench/results/durability.json (``"soak": "rolling_restart"``). Exits 1 on a failed call, a missing or a
doubled recording.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import SippResult  # noqa: E402

from bench.durability.soak import RESULTS, commit, record, recorded_echo  # noqa: E402
from bench.rig import Cluster, database  # noqa: E402

NUMBER = "9300"


def main() -> int:
    parser = argparse.ArgumentParser(description="drain and restart every node while calls go through the edge")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=5, help="calls per second")
    parser.add_argument("--hold", type=float, default=8.0, help="seconds each call lasts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with database("calltape_rolling") as db:
        return _run(args, db)


def _run(args: argparse.Namespace, db: str) -> int:
    cluster = Cluster.start("calltape-rolling-", args.nodes, db)
    calls = int(args.rate * args.minutes * 60)
    restarts: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        recorded_echo(cluster.api, cluster.nodes[0].api_url, "roll", NUMBER, f"{cluster.sink.url}/roll", "wav")
        time.sleep(3)  # the edge probes every node once
        timeout = int(args.minutes * 60 + args.hold + 180)
        load = cluster.call_through_edge(NUMBER, calls, args.rate, args.hold, timeout)
        for index in range(args.nodes):  # one at a time, spread over the run
            time.sleep(args.minutes * 60 / (args.nodes + 1))
            draining = cluster.nodes[index]
            asked = time.monotonic()
            answer = cluster.api.post(f"{draining.api_url}/v2/nodes/node-{index}/drain")
            assert draining.proc is not None
            code = draining.proc.wait(args.hold + 120)
            drained = time.monotonic() - asked
            cluster.restart(index)
            restarts.append(
                {
                    "node": f"node-{index}",
                    "drain_answer": answer.status_code,
                    "exit": code,
                    "drained_s": round(drained, 1),
                    "back_after_s": round(time.monotonic() - asked, 1),
                }
            )
            print(f"node-{index} drained in {drained:.1f} s (exit {code}) and is back", flush=True)
        load.join()
        deadline = time.monotonic() + 120
        while cluster.sipp and len(cluster.sink.uploads) < cluster.sipp[0].successful and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2.0)
    finally:
        cluster.stop()
    sipp, sink = cluster.sipp, cluster.sink
    result_sipp = sipp[0] if sipp else SippResult(1, 0, calls, "", "no SIPp result")
    arrived = Counter(dict(upload.query).get("call_id", "") for upload in sink.uploads)
    result: dict[str, Any] = {
        "soak": "rolling_restart",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit(),
        "nodes": args.nodes,
        "minutes": args.minutes,
        "rate_cps": args.rate,
        "calls": calls,
        "sipp_ok": result_sipp.successful,
        "sipp_failed": result_sipp.failed,
        "restarts": restarts,
        "recordings_received": len(arrived),
        "twice": sorted(call_id for call_id, count in arrived.items() if count > 1),
        "took_s": round(time.monotonic() - started, 1),
    }
    result["all_right"] = (
        result_sipp.failed == 0 and result_sipp.successful == calls == len(arrived) and not result["twice"]
    )
    return record(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
