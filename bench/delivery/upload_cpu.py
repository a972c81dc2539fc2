"""CPU of the sender per recording upload: calltape's ``delivery.http.upload`` against a bare asyncio PUT.

N PUTs of one file (streamed from disk, 16 at a time, with Content-Length and Repr-Digest) to a
plain HTTP sink in its own process; the figure is this process's CPU (user + system) per upload. ``floor`` opens
a connection, writes the head and the file with asyncio streams and reads the status line: what a PUT costs
with nothing else. Each mode and size runs in a fresh process; modes alternate for ``--reps`` rounds.
Results: bench/results/upload_cpu.json.

    .venv/bin/python bench/delivery/upload_cpu.py [--uploads 500] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.server
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = ("floor", "calltape")
SIZES = (32_000, 960_000)  # a 1 s and a 30 s stereo WAV
CONCURRENCY = 16


class _Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _SinkServer(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 resets connections opened 16 at a time


def _sink(port: int) -> None:
    _SinkServer(("127.0.0.1", port), _Sink).serve_forever()


async def _floor_put(port: int, name: str, path: Path, size: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {size}\r\n\r\n"
    writer.write(head.encode())
    with path.open("rb") as fh:
        while chunk := fh.read(256 * 1024):
            writer.write(chunk)
            await writer.drain()
    status = await reader.readline()
    assert b" 201 " in status, status
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    writer.close()


async def _measure(mode: str, size: int, uploads: int, port: int) -> float:
    sys.path.insert(0, str(ROOT / "src"))
    from calltape.delivery.http import UploadFile, upload
    from calltape.http_client import HttpClient

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.wav"
        data = os.urandom(size)
        path.write_bytes(data)
        file = UploadFile(path, size, "audio/wav", hashlib.sha256(data).hexdigest())
        client = HttpClient(connections=CONCURRENCY)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int) -> None:
            async with gate:
                if mode == "floor":
                    await _floor_put(port, f"{index}.wav", path, size)
                else:
                    await upload(client, "put", f"http://127.0.0.1:{port}/{index}.wav", file)

        await one(-1)  # connections and imports warmed up
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(one(index) for index in range(uploads)))
        after = resource.getrusage(resource.RUSAGE_SELF)
        await client.close()
    return 1000 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / uploads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("MODE", "SIZE", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        _sink(args.sink)
        return 0
    if args.one:
        import uvloop

        mode, size, port = args.one[0], int(args.one[1]), int(args.one[2])
        print(json.dumps(uvloop.run(_measure(mode, size, args.uploads, port))))
        return 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        runs: dict[tuple[str, int], list[float]] = {(mode, size): [] for mode in MODES for size in SIZES}
        for rep in range(args.reps):
            for size in SIZES:
                for mode in MODES:
                    command = [sys.executable, __file__, "--uploads", str(args.uploads), "--one", mode, str(size)]
                    out = subprocess.run([*command, str(port)], capture_output=True, text=True)
                    if out.returncode:
                        raise SystemExit(f"{mode} {size}: {out.stderr.strip()[-2000:]}")
                    runs[mode, size].append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(f"round {rep + 1} {mode:8} {size:>7} B: {runs[mode, size][-1]:.2f} CPU-ms/upload", flush=True)
    finally:
        sink.terminate()
        sink.wait()
    result: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "uploads": args.uploads}
    for size in SIZES:
        floor = statistics.median(runs["floor", size])
        mine = statistics.median(runs["calltape", size])
        result[f"{size}_bytes"] = {
            "floor_cpu_ms": round(floor, 3),
            "calltape_cpu_ms": round(mine, 3),
            "ratio_to_floor": round(mine / floor, 2),
        }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "upload_cpu.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
