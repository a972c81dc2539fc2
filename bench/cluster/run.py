"""A cluster under load (issue 23): SIPp places recorded calls through Debian's Kamailio (``calltape edge-config``)
to two calltape nodes sharing one PostgreSQL. Every call must complete and every recording arrive exactly once,
naming the node that made it; the run reports how the calls spread over the nodes and what each part cost in CPU
per call-minute — the edge (all of Kamailio's processes) next to the nodes. On this 2-core machine the nodes share
the cores, so no capacity gain is expected: the figures are that nothing is lost, and the edge's cost.

    .venv/bin/python bench/cluster/run.py [--calls 500] [--rate 25] [--hold 20] [--nodes 2]

Needs Debian's kamailio and the PostgreSQL on 127.0.0.1. Results: bench/results/cluster.json (newest first).
Exits 1 on a failed call or a missing, doubled or unnamed recording.
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

from bench.durability.soak import commit, record, recorded_echo  # noqa: E402
from bench.procstat import cpu_seconds, process_tree, rss_mb  # noqa: E402
from bench.rig import Cluster, database  # noqa: E402

NUMBER = "9600"
RESULTS = ROOT / "bench" / "results" / "cluster.json"


def main() -> int:
    parser = argparse.ArgumentParser(description="recorded calls through Kamailio to several nodes")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rate", type=int, default=25, help="calls per second")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds each call lasts")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with database("calltape_cluster") as db:
        return _run(args, db)


def _run(args: argparse.Namespace, db: str) -> int:
    cluster = Cluster.start("calltape-cluster-", args.nodes, db)
    started = time.monotonic()
    try:
        api, sink = cluster.api, cluster.sink
        account = recorded_echo(api, cluster.nodes[0].api_url, "cluster", NUMBER, f"{sink.url}/cluster", "wav")
        time.sleep(3)  # the edge probes every node once
        node_pids = [process_tree(n.proc.pid) for n in cluster.nodes if n.proc is not None]
        edge_pids = process_tree(cluster.edge.pid)
        cpu_before = [cpu_seconds(*pids) for pids in node_pids], cpu_seconds(*edge_pids)
        timeout = int(args.calls / args.rate + args.hold + 180)
        cluster.call_through_edge(NUMBER, args.calls, args.rate, args.hold, timeout).join()
        cpu_after = [cpu_seconds(*pids) for pids in node_pids], cpu_seconds(*edge_pids)
        rss = [rss_mb(*pids) for pids in node_pids]
        deadline = time.monotonic() + 180
        while cluster.sipp and len(sink.uploads) < cluster.sipp[0].successful and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2.0)  # nothing more may come
        docs = api.get(f"{cluster.nodes[0].api_url}/v2/accounts/{account}/recordings", params={"page_size": "500"})
    finally:
        cluster.stop()
    sipp = cluster.sipp
    result_sipp = sipp[0] if sipp else SippResult(1, 0, args.calls, "", "no SIPp result")
    arrived = Counter(dict(upload.query).get("call_id", "") for upload in sink.uploads)
    by_node = Counter(str(doc.get("node") or "") for doc in docs.json()["data"])
    call_minutes = result_sipp.successful * args.hold / 60
    node_cpu = [after - before for before, after in zip(cpu_before[0], cpu_after[0], strict=True)]
    edge_cpu = cpu_after[1] - cpu_before[1]
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit(),
        "nodes": args.nodes,
        "calls": args.calls,
        "rate_cps": args.rate,
        "hold_s": args.hold,
        "sipp_ok": result_sipp.successful,
        "sipp_failed": result_sipp.failed,
        "recordings_received": len(arrived),
        "twice": sorted(call_id for call_id, count in arrived.items() if count > 1),
        "recordings_by_node": dict(sorted(by_node.items())),
        "cpu_s_per_call_minute": {
            "edge": round(edge_cpu / call_minutes, 4) if call_minutes else None,
            **{f"node-{i}": round(cpu / call_minutes, 4) if call_minutes else None for i, cpu in enumerate(node_cpu)},
        },
        "node_rss_mb": rss,
        "took_s": round(time.monotonic() - started, 1),
    }
    result["all_right"] = (
        result_sipp.failed == 0
        and result_sipp.successful == args.calls == len(arrived)
        and not result["twice"]
        and "" not in by_node
        and sum(by_node.values()) == args.calls
    )
    return record(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
