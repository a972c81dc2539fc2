"""Fuzz a live calltape: 10^6 hostile datagrams with real calls, probes, RSS and log checks alongside.

    .venv/bin/python bench/fuzz/run.py [--datagrams 1000000] [--rate 3000]

Writes bench/results/fuzz.json and exits non-zero if any figure misses its bar: zero tracebacks, no
crash, no INVITE left without a final response, every real call answered with audio, probes answered
within 100 ms, RSS flat after warm-up, fewer than 5 log lines a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.fuzz.campaign import Report, Settings, run_campaign  # noqa: E402

RSS_GROWTH_LIMIT_MB = 20.0
LOG_LINES_PER_S_LIMIT = 5.0


def failures(report: Report) -> list[str]:
    """The bars the report misses (empty: all met)."""
    out = []
    if report.crashed:
        out.append("the server died")
    if report.tracebacks:
        out.append(f"{report.tracebacks} tracebacks: {report.traceback_kinds}")
    if report.invites_without_final:
        out.append(f"{report.invites_without_final} INVITEs without a final response")
    if report.real_calls_ok != report.real_calls or not report.real_calls:
        out.append(f"real calls: {report.real_calls_ok}/{report.real_calls} ok: {report.real_call_failures[:5]}")
    if report.probes_lost or report.probes_late:
        out.append(f"OPTIONS probes: {report.probes_lost} lost, {report.probes_late} later than 100 ms")
    if report.rss_mb_end - report.rss_mb_after_warmup > RSS_GROWTH_LIMIT_MB:
        out.append(f"RSS grew from {report.rss_mb_after_warmup} to {report.rss_mb_end} MiB after warm-up")
    if report.log_lines_per_s >= LOG_LINES_PER_S_LIMIT:
        out.append(f"{report.log_lines_per_s} log lines per second")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="fuzz a live calltape")
    parser.add_argument("--datagrams", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="calltape-fuzz-"))
    settings = Settings(datagrams=args.datagrams, rate=args.rate, seed=args.seed, real_call_interval=5.0)
    report = run_campaign(settings, workdir)
    missed = failures(report)
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), **report.as_dict()}
    result["verdict"] = missed if missed else "pass"
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "fuzz.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}; server log in {workdir / 'data' / 'server.log'}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
