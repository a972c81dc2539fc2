"""SIP load benchmark: SIPp OPTIONS and authenticated REGISTER at rising rates against ``calltape serve``.

For each kind it prints and records the highest rate that completed with zero failed calls (and
kept its pace), and the server's CPU-seconds per 1,000 transactions. Results: bench/results/sip.json.
Goals: >= 2,000 OPTIONS/s and >= 1,000 authenticated REGISTER/s.

    .venv/bin/python bench/sip/run.py [--seconds 5] [--db postgresql://…]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import run_sipp  # noqa: E402
from tests.server import TOKEN, ServerProcess  # noqa: E402

from bench.procstat import cpu_seconds  # noqa: E402

RATES = {
    "options": [1000, 2000, 3000, 4000, 5000, 6000, 8000],
    "register_auth": [250, 500, 1000, 1250, 1500, 1750, 2000],
}
TRANSACTIONS_PER_CALL = {"options": 1, "register_auth": 2}
GOALS = {"options": 2000, "register_auth": 1000}
USER, PASSWORD = "bench", "bench-pw"


def provision(server: ServerProcess, tmp: Path) -> list[str]:
    """An account and device to register as; returns SIPp's auth arguments."""
    realm = f"bench{uuid.uuid4().hex[:6]}.example.com"
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
        account = api.post("/v2/accounts", json={"data": {"name": "bench", "realm": realm}}).json()["data"]["id"]
        device = {"name": "bench", "sip": {"username": USER, "password": PASSWORD}}
        api.post(f"/v2/accounts/{account}/devices", json={"data": device}).raise_for_status()
    (tmp / "users.csv").write_text(f"SEQUENTIAL\n{USER};{realm}\n")
    return ["-inf", str(tmp / "users.csv"), "-au", USER, "-ap", PASSWORD]


def step(server: ServerProcess, tmp: Path, scenario: str, rate: int, seconds: float, auth: list[str]) -> dict[str, Any]:
    """One rate step: SIPp at *rate* for *seconds*, with the server's CPU time."""
    assert server.proc is not None
    calls = int(rate * seconds)
    extra = [*(auth if scenario == "register_auth" else []), "-l", str(rate * 2)]
    before, start = cpu_seconds(server.proc.pid), time.monotonic()
    result = run_sipp(scenario, server.sip_port, tmp, calls=calls, rate=rate, timeout=120, extra=extra)
    wall = time.monotonic() - start
    cpu = cpu_seconds(server.proc.pid) - before
    transactions = result.successful * TRANSACTIONS_PER_CALL[scenario]
    achieved = result.successful / wall if wall else 0.0
    return {
        "rate": rate,
        "calls": calls,
        "successful": result.successful,
        "failed": result.failed,
        "achieved_per_s": round(achieved, 1),
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu, 2),
        "cpu_s_per_1000_transactions": round(cpu / transactions * 1000, 3) if transactions else None,
        "ok": result.returncode == 0 and result.failed == 0 and achieved >= 0.9 * rate,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="SIP load benchmark")
    parser.add_argument("--seconds", type=float, default=5.0, help="traffic per rate step")
    parser.add_argument("--db", help="database URL for the server (default: SQLite in a temp dir)")
    parser.add_argument("--only", choices=sorted(RATES), help="run one kind only")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-bench-"))
    extra = ["--digest-algorithms", "MD5", "--log-level", "warning", *(["--db", args.db] if args.db else [])]
    server = ServerProcess(tmp / "data", extra_args=extra).start()
    results: dict[str, Any] = {}
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "seconds_per_step": args.seconds,
        "db": "postgresql" if args.db else "sqlite",
        "results": results,
    }
    try:
        auth = provision(server, tmp)
        for scenario, rates in RATES.items():
            if args.only and scenario != args.only:
                continue
            steps, best = [], 0
            for rate in rates:
                s = step(server, tmp, scenario, rate, args.seconds, auth)
                steps.append(s)
                print(
                    f"{scenario:14} {rate:5}/s ok={s['ok']!s:5} achieved={s['achieved_per_s']:7.1f}/s "
                    f"failed={s['failed']} cpu-s/1000tx={s['cpu_s_per_1000_transactions']}",
                    flush=True,
                )
                if not s["ok"]:
                    break
                best = rate
            results[scenario] = {
                "best_rate_zero_failures": best,
                "goal": GOALS[scenario],
                "meets_goal": best >= GOALS[scenario],
                "steps": steps,
            }
            print(f"{scenario}: highest clean rate {best}/s (goal {GOALS[scenario]}/s)", flush=True)
    finally:
        server.stop()
    out = ROOT / "bench" / "results" / "sip.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
