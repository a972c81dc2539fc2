"""kill -9, again and again (issue 23's soak): each round places recorded calls, kills the node with SIGKILL at a
random moment while they talk, and starts it again on the same data dir, which finishes and delivers what the
killed run left. At the end the receiver must hold exactly one recording per call (none missing, none twice),
each decodable, each as long as the audio that flowed before its kill, within a second (the capture reaches the
disk once a second; the last second may be lost, never more).

    .venv/bin/python bench/durability/kill9.py [--rounds 100] [--calls 1] [--min 1] [--max 20]

``--calls 50 --rounds 1`` is the "50 calls killed at once" run. Results: bench/results/durability.json (newest
first; ``--out`` elsewhere). Exits 1 if any recording is missing, doubled, undecodable or of the wrong length.
``tests/e2e/test_kill9_soak.py`` runs a short version in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.audio import tone  # noqa: E402
from tests.e2e.upload_sink import UploadSink, decode  # noqa: E402
from tests.phone import Phone  # noqa: E402
from tests.server import TOKEN, ServerProcess  # noqa: E402

from bench.durability.soak import RESULTS, commit, record, recorded_echo  # noqa: E402

NUMBER = "9100"
TONE_HZ = 440.0
SLACK = 1.0  # seconds a killed recording may lack at its end


async def _round(port: int, calls: int, seconds: float) -> list[tuple[str, float]]:
    """*calls* recorded calls that talk for *seconds*: (Call-ID, seconds of audio sent after the answer) of each,
    read just before the kill."""
    phones = [await Phone(port).start() for _ in range(calls)]
    answered: list[float] = []
    for phone in phones:
        phone.say_pcm(tone(TONE_HZ, seconds + 30))
        response = await phone.call(NUMBER)
        if response.status != 200:
            raise RuntimeError(f"a call was refused: {response.status}")
        answered.append(time.monotonic())
    await asyncio.sleep(seconds)
    killed_at = time.monotonic()
    for phone in phones:
        phone.close()
    return [(phone.call_id, killed_at - at) for phone, at in zip(phones, answered, strict=True)]


def _delivered(api: httpx.Client, account: str, call_ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        docs = _all_recordings(api, account)
        done = [doc for doc in docs if doc["state"] == "delivered"]
        if len({doc["call_id"] for doc in done} & set(call_ids)) == len(call_ids) or time.monotonic() > deadline:
            return docs
        time.sleep(0.5)


def _all_recordings(api: httpx.Client, account: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    params = {"page_size": "500"}
    while True:
        page = api.get(f"/v2/accounts/{account}/recordings", params=params).json()
        docs += page["data"]
        if not page.get("next_start_key"):
            return docs
        params["start_key"] = page["next_start_key"]


def main() -> int:
    parser = argparse.ArgumentParser(description="kill -9 mid-call, over and over: no recording lost or doubled")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--calls", type=int, default=1, help="calls killed together in each round")
    parser.add_argument("--min", type=float, default=1.0, help="shortest time before the kill, seconds")
    parser.add_argument("--max", type=float, default=20.0, help="longest time before the kill, seconds")
    parser.add_argument(
        "--slack", type=float, default=SLACK, help="seconds a killed recording may lack at its end (the bar: 1)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-kill9-"))
    sink = UploadSink().start()
    rtp = ["--rtp-ports", "40000-44999", "--trusted-networks", "127.0.0.1/32", "--log-level", "warning"]
    server = ServerProcess(tmp / "data", rtp).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    account = recorded_echo(api, server.api_url, "kill9", NUMBER, f"{sink.url}/kill9")
    flowed: dict[str, float] = {}
    started = time.monotonic()
    try:
        for number in range(args.rounds):
            seconds = random.uniform(args.min, args.max)
            flowed.update(asyncio.run(_round(server.sip_port, args.calls, seconds)))
            assert server.proc is not None
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            print(f"round {number + 1}: {args.calls} call(s) killed after {seconds:.1f} s", flush=True)
            server = ServerProcess(tmp / "data", rtp).start()  # the same data dir: it recovers what was left
            api.base_url = httpx.URL(server.api_url)
        docs = _delivered(api, account, list(flowed), timeout=120)
    finally:
        api.close()
        server.stop()
        sink.stop()
    result = _judge(flowed, docs, sink, args, time.monotonic() - started)
    return record(result, args.out)


def _judge(
    flowed: dict[str, float], docs: list[dict[str, Any]], sink: UploadSink, args: argparse.Namespace, took: float
) -> dict[str, Any]:
    uploads = Counter(dict(upload.query).get("call_id", "") for upload in sink.uploads)
    missing = [call_id for call_id in flowed if uploads[call_id] == 0]
    twice = [call_id for call_id in flowed if uploads[call_id] > 1]
    wrong: list[str] = []
    shortfalls: list[float] = []
    for upload in sink.uploads:
        call_id = dict(upload.query).get("call_id", "")
        try:
            pcm, rate, _ = decode(upload.body, "mp3")
        except (subprocess.CalledProcessError, ValueError) as exc:
            wrong.append(f"{call_id}: does not decode ({exc})")
            continue
        seconds = len(pcm) / rate
        shortfall = flowed.get(call_id, 0.0) - seconds
        shortfalls.append(shortfall)
        if not -0.3 <= shortfall <= args.slack:
            wrong.append(f"{call_id}: {seconds:.2f} s of {flowed.get(call_id, 0.0):.2f} s that flowed")
    recovered = sum(1 for doc in docs if doc.get("recovered"))
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit(),
        "rounds": args.rounds,
        "calls_per_round": args.calls,
        "kill_after_s": [args.min, args.max],
        "calls": len(flowed),
        "received": sum(uploads.values()),
        "missing": missing,
        "twice": twice,
        "wrong": wrong,
        "recovered": recovered,
        "shortfall_s": {
            "min": round(min(shortfalls, default=0.0), 3),
            "max": round(max(shortfalls, default=0.0), 3),
            "mean": round(sum(shortfalls) / max(len(shortfalls), 1), 3),
        },
        "took_s": round(took, 1),
        "all_right": not (missing or twice or wrong) and len(flowed) == args.rounds * args.calls,
    }


if __name__ == "__main__":
    sys.exit(main())
