"""Receiver throughput: 1,000 PUTs of a 500 KB MP3 at concurrency 16, with ApacheBench and a Python client.

ApacheBench (``ab -u``) PUTs one URL again and again (the first is stored, the rest are idempotent
repeats); the Python client PUTs 1,000 distinct names (1,000 new files, each fsynced). Prints and
writes bench/results/receiver.json: req/s, MB/s, p50/p99, server CPU ms per request, RSS over the run.
Goal: >= 1,100 req/s with flat RSS (nginx DAV: 1,095 req/s here; the seed's PHP script: 613).

    .venv/bin/python bench/receiver/run.py [--requests 1000] [--concurrency 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.receiver.conftest import ReceiverProcess  # noqa: E402

from bench.procstat import cpu_seconds, process_tree, rss_mb  # noqa: E402

SIZE = 500 * 1024
TOKEN = "bench-token"


def make_mp3(path: Path) -> bytes:
    data = b"ID3\x03\x00\x00\x00\x00\x00\x00" + os.urandom(SIZE - 10)
    path.write_bytes(data)
    return data


def run_ab(url: str, body: Path, requests: int, concurrency: int) -> dict[str, Any]:
    ab = shutil.which("ab")
    assert ab, "ab is missing: `make install` installs Debian's apache2-utils"
    out = subprocess.run(
        [
            ab,
            "-q",
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "-u",
            str(body),
            "-T",
            "audio/mpeg",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout

    def grab(pattern: str) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else float("nan")

    rps = grab(r"Requests per second:\s+([\d.]+)")
    return {
        "requests": requests,
        "req_per_s": rps,
        "mb_per_s": round(rps * SIZE / 1e6, 1),
        "p50_ms": grab(r"\n\s+50%\s+(\d+)"),
        "p99_ms": grab(r"\n\s+99%\s+(\d+)"),
        "non_2xx": int(grab(r"Non-2xx responses:\s+(\d+)")) if "Non-2xx" in out else 0,
    }


async def run_python(base: str, body: bytes, requests: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    run = os.urandom(4).hex()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            start = time.perf_counter()
            r = await client.put(f"{base}/kzr/call_recording_{run}-{i}.mp3?account_id=bench", content=body)
            latencies.append(time.perf_counter() - start)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": requests,
        "req_per_s": round(requests / wall, 1),
        "mb_per_s": round(requests * SIZE / wall / 1e6, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="receiver throughput benchmark")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-receiver-bench-"))
    body_path = tmp / "body.mp3"
    body = make_mp3(body_path)
    server = ReceiverProcess(tmp, ["--token", TOKEN, "--workers", str(args.workers), "--log-level", "warning"])
    server.start()
    assert server.proc is not None
    base = server.url
    try:
        time.sleep(0.5)  # let every worker come up
        pids = process_tree(server.proc.pid)
        report: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "cores": os.cpu_count(),
            "body_bytes": SIZE,
            "concurrency": args.concurrency,
            "workers": args.workers,
        }
        for name in ("ab", "python"):
            rss_before, cpu_before = rss_mb(*pids), cpu_seconds(*pids)
            if name == "ab":
                result = run_ab(
                    f"{base}/kzr/call_recording_ab.mp3?account_id=bench", body_path, args.requests, args.concurrency
                )
            else:
                result = asyncio.run(run_python(base, body, args.requests, args.concurrency))
            result["server_cpu_ms_per_request"] = round((cpu_seconds(*pids) - cpu_before) / args.requests * 1000, 3)
            result["rss_mb_before"], result["rss_mb_after"] = rss_before, rss_mb(*pids)
            report[name] = result
            print(
                f"{name:6} {result['req_per_s']:8.1f} req/s {result['mb_per_s']:7.1f} MB/s "
                f"p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms cpu {result['server_cpu_ms_per_request']} ms/req "
                f"rss {result['rss_mb_before']} -> {result['rss_mb_after']} MB",
                flush=True,
            )
        report["meets_goal"] = report["ab"]["req_per_s"] >= 1100
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = ROOT / "bench" / "results" / "receiver.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
