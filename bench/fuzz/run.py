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

from bench.fuzz.campaign import Settings, run_campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="fuzz a live calltape")
    parser.add_argument("--datagrams", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="calltape-fuzz-"))
    settings = Settings(datagrams=args.datagrams, rate=args.rate, seed=args.seed, real_call_interval=5.0)
    report = run_campaign(settings, workdir)
    missed = report.failures()
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), **report.as_dict()}
    result["verdict"] = missed if missed else "pass"
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "fuzz.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}; server log in {workdir / 'data' / 'server.log'}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
