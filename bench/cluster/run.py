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
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import SippResult, free_port, run_sipp  # noqa: E402
from tests.e2e.upload_sink import UploadSink  # noqa: E402
from tests.server import TOKEN  # noqa: E402

from bench.durability.soak import commit, record, recorded_echo  # noqa: E402
from bench.load import write_sweep  # noqa: E402
from bench.procstat import cpu_seconds, process_tree, rss_mb  # noqa: E402
from bench.rig import database, node, start_edge  # noqa: E402

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
    tmp = Path(tempfile.mkdtemp(prefix="calltape-cluster-"))
    write_sweep(tmp / "audio.ulaw", 10)
    sink = UploadSink().start()
    ports = [free_port() for _ in range(args.nodes)]
    nodes = [node(tmp, index, db, port).start() for index, port in enumerate(ports)]
    edge, edge_port = start_edge(tmp, ports)
    api = httpx.Client(headers={"X-Auth-Token": TOKEN}, timeout=30)
    sipp: list[SippResult] = []
    started = time.monotonic()
    try:
        account = recorded_echo(api, nodes[0].api_url, "cluster", NUMBER, f"{sink.url}/cluster", "wav")
        time.sleep(3)  # the edge probes every node once
        node_pids = [process_tree(n.proc.pid) for n in nodes if n.proc is not None]
        edge_pids = process_tree(edge.pid)
        cpu_before = [cpu_seconds(*pids) for pids in node_pids], cpu_seconds(*edge_pids)
        load = threading.Thread(
            target=lambda: sipp.append(
                run_sipp(
                    "call_echo_routed",
                    edge_port,
                    tmp,
                    calls=args.calls,
                    rate=args.rate,
                    timeout=int(args.calls / args.rate + args.hold + 180),
                    extra=["-s", NUMBER, "-l", str(args.calls), "-mi", "127.0.0.1", "-mp", "62000"],
                    substitutions={"RTP_STREAM": f"{tmp / 'audio.ulaw'},-1,0", "HOLD_MS": str(int(args.hold * 1000))},
                )
            )
        )
        load.start()
        load.join()
        cpu_after = [cpu_seconds(*pids) for pids in node_pids], cpu_seconds(*edge_pids)
        rss = [rss_mb(*pids) for pids in node_pids]
        deadline = time.monotonic() + 180
        while len(sink.uploads) < sipp[0].successful and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2.0)  # nothing more may come
        docs = api.get(f"{nodes[0].api_url}/v2/accounts/{account}/recordings", params={"page_size": "500"}).json()
    finally:
        api.close()
        for running in nodes:
            running.stop()
        edge.terminate()
        edge.wait(10)
        sink.stop()
    result_sipp = sipp[0] if sipp else SippResult(1, 0, args.calls, "", "no SIPp result")
    arrived = Counter(dict(upload.query).get("call_id", "") for upload in sink.uploads)
    by_node = Counter(str(doc.get("node") or "") for doc in docs["data"])
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
