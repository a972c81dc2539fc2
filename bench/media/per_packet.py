"""CPU per RTP packet of calltape's media path against a bare Python echo, in one minute instead of a side by side.

A forked sender streams 50 packets/s into each of N sockets of this process, which echoes every packet back:

- ``floor``: what ``../shared/floor/pyrec.py`` does per packet (recv, send, append the bytes);
- ``relay``: calltape's ``RtpSession`` relaying to itself (an echo: header rewritten, sent on);
- ``capture``: the same with a recording's ``CallCapture`` tap, flushed to its capture file once a second.

Each mode runs in a fresh process, the modes alternate for ``--reps`` rounds, and the figure is the CPU
(user + system) this process spent per received packet over a window of ``--window`` seconds with all
streams running. Results: bench/results/per_packet.json.

    .venv/bin/python bench/media/per_packet.py [--sessions 500] [--window 10] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODES = ("floor", "relay", "capture")
PAYLOAD = bytes(range(160))
RATE = 50  # packets per second per stream


def _sender(ports: list[int], until: float) -> None:
    """Stream RTP into every port; read and drop what comes back."""
    socks = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        socks.append(sock)
    header = struct.Struct("!BBHII")
    n, due = 0, time.monotonic()
    while time.monotonic() < until:
        for index, sock in enumerate(socks):
            try:
                sock.send(header.pack(0x80, 0, n & 0xFFFF, (n * 160) & 0xFFFFFFFF, 0x1000 + index) + PAYLOAD)
                while True:
                    sock.recv(2048)
            except OSError:
                pass
        n, due = n + 1, due + 1 / RATE
        time.sleep(max(0.0, due - time.monotonic()))
    os._exit(0)


def _floor(loop: asyncio.AbstractEventLoop, socks: list[socket.socket], spool: Path) -> list[object]:
    return [
        _floor_session(loop, sock, spool / f"floor-{index}", 1.0 + index / len(socks))
        for index, sock in enumerate(socks)
    ]


def _floor_session(loop: asyncio.AbstractEventLoop, sock: socket.socket, path: Path, first_flush: float) -> object:
    """One stream as pyrec does it: echo each packet, keep its bytes, write them once a second."""
    buffer, lengths = bytearray(), []
    out = path.open("wb")

    def connected() -> None:
        try:
            data = sock.recv(2048)
        except OSError:
            return
        sock.send(data)
        buffer.extend(data)
        lengths.append(len(data))

    def first() -> None:
        data, address = sock.recvfrom(2048)
        sock.sendto(data, address)
        buffer.extend(data)
        lengths.append(len(data))
        sock.connect(address)
        loop.remove_reader(sock.fileno())
        loop.add_reader(sock.fileno(), connected)

    def flush() -> None:
        out.write(buffer)
        buffer.clear()
        lengths.clear()
        loop.call_later(1.0, flush)

    loop.add_reader(sock.fileno(), first)
    loop.call_later(first_flush, flush)
    return out


async def _calltape(mode: str, socks: list[socket.socket], spool: Path) -> list[object]:
    from calltape.media.clock import MediaClock
    from calltape.media.g711 import G711
    from calltape.media.session import RtpSession
    from calltape.recording.capture import CallCapture
    from calltape.recording.capture_file import CaptureWriter

    loop = asyncio.get_running_loop()
    clock = MediaClock()
    sessions: list[object] = []
    for index, sock in enumerate(socks):
        session = RtpSession(sock, G711("PCMU", 0), 101, ("127.0.0.1", 9), clock)
        if mode == "capture":
            capture = CallCapture(
                CaptureWriter(spool / f"{index}.capture"), limit_samples=10**9, on_stop=print, start=0
            )
            session.taps.append(capture)
            loop.call_later(1.0 + index / len(socks), _flush_every_second, loop, capture, session)
        await session.start()
        session.relay_to(session)
        sessions.append(session)
    return sessions


def _flush_every_second(loop: asyncio.AbstractEventLoop, capture: Any, session: Any) -> None:
    """What a call's recordings do once a second: the leg hands on what came, the capture goes to its file."""
    session.taps.settle()
    capture.flush(session.timeline.position(loop.time()))
    loop.call_later(1.0, _flush_every_second, loop, capture, session)


async def _measure(mode: str, count: int, window: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        socks.append(sock)
    ports = [sock.getsockname()[1] for sock in socks]
    with tempfile.TemporaryDirectory() as spool_dir:
        spool = Path(spool_dir)
        keep = _floor(loop, socks, spool) if mode == "floor" else await _calltape(mode, socks, spool)
        pid = os.fork()
        if pid == 0:
            _sender(ports, time.monotonic() + window + 6)
        await asyncio.sleep(3)  # every stream latched and flowing
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        await asyncio.sleep(window)
        after, ended = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        os.waitpid(pid, 0)
        del keep
    packets = count * RATE * (ended - started)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {
        "us_per_packet": 1e6 * (user + system) / packets,
        "user_us": 1e6 * user / packets,
        "sys_us": 1e6 * system / packets,
    }


def _one(mode: str, count: int, window: float) -> dict[str, float]:
    """Run one mode in a fresh interpreter (no state carried between modes)."""
    args = [sys.executable, __file__, "--one", mode, "--sessions", str(count), "--window", str(window)]
    out = subprocess.run(
        args, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.sessions * 4 + 200,) * 2)  # sockets, capture files, the loop
    if args.one:
        import uvloop

        uvloop.install()
        print(json.dumps(asyncio.run(_measure(args.one, args.sessions, args.window))))
        return 0
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for rep in range(args.reps):
        for mode in MODES:
            runs[mode].append(_one(mode, args.sessions, args.window))
            print(f"round {rep + 1} {mode:8} {runs[mode][-1]['us_per_packet']:.2f} µs/packet", flush=True)
    result: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "sessions": args.sessions,
        "window_s": args.window,
    }
    floor = statistics.median(r["us_per_packet"] for r in runs["floor"])
    for mode in MODES:
        median = statistics.median(r["us_per_packet"] for r in runs[mode])
        user = statistics.median(r["user_us"] for r in runs[mode])
        result[mode] = {
            "us_per_packet": round(median, 2),
            "user_us": round(user, 2),
            "ratio_to_floor": round(median / floor, 2),
        }
        print(f"{mode:8} median {median:.2f} µs/packet (user {user:.2f}), {median / floor:.2f}× the floor")
    (ROOT / "bench" / "results" / "per_packet.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
