"""A SIP flood while legitimate recorded calls run (issue 24): nothing changes for the legitimate calls.

SIPp (trusted, 127.0.0.1) places ``--calls`` recorded calls streaming the sweep; once they are all up, ``--sources``
stranger addresses (127.0.0.2…) send ``--rate`` unauthenticated requests a second between them for ``--flood``
seconds, sipvicious-style: OPTIONS scans (svmap), REGISTERs without credentials (svwar), REGISTERs with wrong
passwords in the account's realm (svcrack), INVITEs to guessed extensions. Every legitimate call must complete and
its recording arrive whole (the strict checks of bench/recording: 250 ms windows and frame-exact); the server's
memory must stay bounded; the log must hold about one line per source per 10 s.

    .venv/bin/python bench/flood/run.py [--calls 200] [--hold 40] [--rate 2000] [--sources 8] [--flood 20]
                                        [--no-guessing]

Results: bench/results/flood.json (newest first). Exits 1 if a call failed or a recording is missing or wrong.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.sipp_runner import SippResult  # noqa: E402
from tests.e2e.upload_sink import UploadSink  # noqa: E402
from tests.server import TOKEN, ServerProcess  # noqa: E402

from bench.durability.soak import commit, record, recorded_echo  # noqa: E402
from bench.load import sipp_callers, write_sweep  # noqa: E402
from bench.procstat import cpu_seconds, process_tree, rss_mb  # noqa: E402
from bench.recording.checks import reference_frames  # noqa: E402
from bench.recording.run import verify  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "flood.json"
NUMBER = "9400"
REALM = "flood.test"


def guess(kind: int, n: int, host: str) -> bytes:
    """The *kind*th of a scanner's four requests (OPTIONS, REGISTER, REGISTER with a wrong password, INVITE)."""
    ext = 100 + n % 900
    method = ("OPTIONS", "REGISTER", "REGISTER", "INVITE")[kind]
    realm = REALM if kind != 3 else f"guess{n % 7}.example"
    uri = f"sip:{ext}@{realm}" if method != "REGISTER" else f"sip:{realm}"
    auth = ""
    if kind == 2:
        auth = (
            f'Authorization: Digest username="{ext}", realm="{REALM}", nonce="{uuid.uuid4().hex}", '
            f'uri="sip:{REALM}", response="{"0" * 32}", algorithm=MD5\r\n'
        )
    return (
        f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:5060;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"From: <sip:{ext}@{realm}>;tag={uuid.uuid4().hex[:8]}\r\nTo: <sip:{ext}@{realm}>\r\n"
        f"Call-ID: {uuid.uuid4().hex}@{host}\r\nCSeq: 1 {method}\r\nContact: <sip:{ext}@{host}:5060>\r\n"
        f"Max-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n{auth}Content-Length: 0\r\n\r\n"
    ).encode()


def flood(port: int, sources: int, rate: int, seconds: float, kinds: tuple[int, ...], counts: Any) -> None:
    """Send *rate* requests a second spread over *sources* addresses for *seconds*; count sent and answered."""
    socks = []
    for index in range(sources):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.0.{2 + index}", 0))
        sock.setblocking(False)
        socks.append(sock)
    sent = answered = 0
    began = time.monotonic()
    while (elapsed := time.monotonic() - began) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            sock = socks[sent % sources]
            kind = kinds[sent // sources % len(kinds)]
            sock.sendto(guess(kind, sent, sock.getsockname()[0]), ("127.0.0.1", port))
            sent += 1
        for sock in socks:
            try:
                while sock.recv(65536):
                    answered += 1
            except BlockingIOError:
                pass
        time.sleep(0.002)
    counts[0], counts[1] = sent, answered


def main() -> int:
    parser = argparse.ArgumentParser(description="a SIP flood while legitimate recorded calls run")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--hold", type=float, default=40.0, help="seconds each legitimate call lasts")
    parser.add_argument("--rate", type=int, default=2000, help="flood requests a second, all sources together")
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--flood", type=float, default=20.0, help="seconds the flood lasts")
    parser.add_argument(
        "--no-guessing", action="store_true", help="scanning only: no wrong passwords (nothing gets blocked)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calltape-flood-"))
    write_sweep(tmp / "audio.ulaw", 10)
    sink = UploadSink().start()
    flags = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", "40000-44999", "--log-level", "warning"]
    server = ServerProcess(tmp / "data", flags).start()
    assert server.proc is not None
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    results: list[SippResult] = []
    try:
        account = recorded_echo(api, server.api_url, "flood", NUMBER, f"{sink.url}/flood", "wav")
        api.patch(f"/v2/accounts/{account}", json={"data": {"realm": REALM}})
        api.put(
            f"/v2/accounts/{account}/devices",
            json={"data": {"name": "desk", "sip": {"username": "desk", "password": "right-password-1"}}},
        )
        rate = max(1, args.calls // 10)

        def place() -> None:
            hold_ms = int(args.hold * 1000)
            results.append(
                sipp_callers(server, tmp, calls=args.calls, rate=rate, hold_ms=hold_ms, number=NUMBER, media_port=62100)
            )

        callers = threading.Thread(target=place)
        callers.start()
        time.sleep(args.calls / rate + 2)  # every call is up
        pids = process_tree(server.proc.pid)
        rss_before = rss_mb(*pids)
        cpu_before = cpu_seconds(*pids)
        log_before = server.log_path.read_text(errors="replace").count("\n")
        counts = multiprocessing.Array("q", 2)
        kinds = (0, 1, 3) if args.no_guessing else (0, 1, 2, 3)
        flooder = multiprocessing.Process(
            target=flood, args=(server.sip_port, args.sources, args.rate, args.flood, kinds, counts)
        )
        flooder.start()
        peak = rss_before
        while flooder.is_alive():
            peak = max(peak, rss_mb(*process_tree(server.proc.pid)))
            time.sleep(0.5)
        pids = process_tree(server.proc.pid)
        rss_after = rss_mb(*pids)
        cpu_flood = cpu_seconds(*pids) - cpu_before
        log_lines = server.log_path.read_text(errors="replace").splitlines()[log_before:]
        metrics = api.get("/metrics").text
        callers.join()
        [sipp] = results
        deadline = time.monotonic() + 120
        while len(sink.uploads) < sipp.successful and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        api.close()
        server.stop()
        sink.stop()
    reference = reference_frames(tmp / "audio.ulaw")
    checks = [verify(upload.body, "wav", _duration_ms(upload), args.hold, False, reference) for upload in sink.uploads]
    bad = [c for c in checks if not c["ok"]]
    dropped = {
        m[1]: int(float(m[2])) for m in re.finditer(r'calltape_sip_dropped_total\{reason="(\w+)"\} (\S+)', metrics)
    }
    flood_lines = [line for line in log_lines if "dropped unanswered" in line]
    result: dict[str, Any] = {
        "bench": "flood",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit(),
        "calls": args.calls,
        "calls_completed": sipp.successful,
        "calls_failed": sipp.failed,
        "hold_s": args.hold,
        "flood_rate": args.rate,
        "flood_sources": args.sources,
        "flood_s": args.flood,
        "flood_guessing": not args.no_guessing,
        "flood_sent": counts[0],
        "flood_answered": counts[1],
        "flood_dropped": dropped,
        "recordings_delivered": len(sink.uploads),
        "recordings_right": len(checks) - len(bad),
        "bad_examples": bad[:3],
        "server_cores_during_flood": round(cpu_flood / args.flood, 3),
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak,
        "rss_after_mb": rss_after,
        "log_lines_during_flood": len(log_lines),
        "flood_log_lines": len(flood_lines),
        "log_lines_per_s": round(len(log_lines) / args.flood, 2),
        "other_log_examples": [line for line in log_lines if "dropped unanswered" not in line][:3],
    }
    result["all_right"] = sipp.failed == 0 and sipp.successful == args.calls == len(checks) and not bad
    return record(result, args.out)


def _duration_ms(upload: Any) -> int:
    return int(dict(upload.query).get("duration_ms", "0"))


if __name__ == "__main__":
    sys.exit(main())
