"""PostgreSQL stopped mid-call (issue 23's store-outage soak): SIPp places recorded calls on a node whose store is
PostgreSQL; while they talk the database is stopped (``pg_ctlcluster``), and it stays down past the calls' end, so
every recording finishes while the store is away. The calls must go on to their end, and once the database is back
every recording must be in it and arrive at the receiver exactly once, each as long as its call.

    .venv/bin/python bench/durability/store_outage.py [--calls 50] [--hold 20] [--down-at 5] [--down 40]

Needs root and this machine's PostgreSQL cluster (``--cluster 15/main``); a database of its own is made and
dropped. Results: bench/results/durability.json (newest first, ``"soak": "store_outage"``). Exits 1 if a call
failed or a recording is missing, doubled or of the wrong length.
"""

from __future__ import annotations

import argparse
import subprocess
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

from tests.e2e.sipp_runner import SippResult  # noqa: E402
from tests.e2e.upload_sink import UploadSink, decode  # noqa: E402
from tests.server import TOKEN, ServerProcess  # noqa: E402

from bench.durability.soak import RESULTS, commit, record, recorded_echo  # noqa: E402
from bench.load import sipp_callers, write_sweep  # noqa: E402
from bench.rig import database  # noqa: E402

NUMBER = "9300"


def _cluster(action: str, cluster: str) -> float:
    """``pg_ctlcluster VERSION NAME action``; how long it took."""
    began = time.monotonic()
    version, name = cluster.split("/")
    subprocess.run(["pg_ctlcluster", version, name, action, *(["-m", "fast"] if action == "stop" else [])], check=True)
    return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description="recordings kept through a PostgreSQL outage, none lost or doubled")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--hold", type=float, default=20.0, help="seconds each call lasts")
    parser.add_argument("--down-at", type=float, default=5.0, help="seconds after the first call the store stops")
    parser.add_argument("--down", type=float, default=40.0, help="seconds the store stays down")
    parser.add_argument("--cluster", default="15/main")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-store-outage-"))
    write_sweep(tmp / "audio.ulaw", 10)
    with database("calltape_outage") as db:
        return _run(args, tmp, db)


def _run(args: argparse.Namespace, tmp: Path, db: str) -> int:
    sink = UploadSink().start()
    flags = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", "40000-44999", "--log-level", "warning"]
    server = ServerProcess(tmp / "data", [*flags, "--db", db, "--delivery-retry-base", "2"]).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    started = time.monotonic()
    results: list[SippResult] = []
    try:
        account = recorded_echo(api, server.api_url, "store-outage", NUMBER, f"{sink.url}/outage", "wav")
        hold_ms = int(args.hold * 1000)
        rate = max(1, int(args.calls / 2))  # every call is up before the store goes

        def place() -> None:
            results.append(
                sipp_callers(server, tmp, calls=args.calls, rate=rate, hold_ms=hold_ms, number=NUMBER, media_port=62100)
            )

        callers = threading.Thread(target=place)
        callers.start()
        time.sleep(args.down_at)
        stopping = _cluster("stop", args.cluster)
        print(f"the store is down ({stopping:.1f} s to stop)", flush=True)
        time.sleep(args.down)
        starting = _cluster("start", args.cluster)
        back = time.monotonic()
        print(f"the store is back after {args.down:g} s ({starting:.1f} s to start)", flush=True)
        callers.join()
        [sipp] = results
        deadline = time.monotonic() + 120
        while len(sink.uploads) < sipp.successful and time.monotonic() < deadline:
            time.sleep(0.1)
        waited = round(time.monotonic() - back, 1)
        time.sleep(2.0)  # nothing more may come
        listed = api.get(f"/v2/accounts/{account}/recordings", params={"page_size": "500"}).json()["data"]
    finally:
        api.close()
        server.stop()
        sink.stop()
        if subprocess.run(["pg_isready", "-q"]).returncode:
            _cluster("start", args.cluster)
    arrived = Counter(dict(upload.query).get("call_id", "") for upload in sink.uploads)
    short = []
    for upload in sink.uploads:
        pcm, rate_hz, _ = decode(upload.body, "wav")
        if abs(len(pcm) / rate_hz - args.hold) > 1.0:
            short.append(f"{dict(upload.query).get('call_id', '')}: {len(pcm) / rate_hz:.2f} s")
    result: dict[str, Any] = {
        "soak": "store_outage",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit(),
        "calls": args.calls,
        "calls_completed": sipp.successful,
        "calls_failed": sipp.failed,
        "hold_s": args.hold,
        "down_at_s": args.down_at,
        "down_s": args.down,
        "received": len(arrived),
        "listed": len(listed),
        "twice": sorted(call_id for call_id, count in arrived.items() if count > 1),
        "wrong_length": short,
        "delivered_within_s_of_return": waited,
        "took_s": round(time.monotonic() - started, 1),
    }
    result["all_right"] = (
        sipp.failed == 0
        and len(arrived) == len(listed) == sipp.successful == args.calls
        and not result["twice"]
        and not short
    )
    return record(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
