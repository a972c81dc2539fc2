"""The liveness probe, in a process of its own: OPTIONS at a steady pace, each timed to its answer.

Run by the campaign as ``python -m bench.fuzz.probe PORT INTERVAL``; it probes until its stdin closes,
then prints one JSON line: sent, lost, late (over 100 ms), median and maximum latency in ms. Being a
separate process, a busy fuzzer cannot make the server look slow.
"""

from __future__ import annotations

import json
import select
import socket
import statistics
import sys
import time
import uuid

DEADLINE = 0.100


def options(call_id: bytes, port: int) -> bytes:
    """A well-formed OPTIONS whose Call-ID identifies the probe."""
    return (
        b"OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:" + str(port).encode() + b";rport;branch=z9hG4bK" + call_id + b"\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:probe@127.0.0.1>\r\n"
        b"Call-ID: " + call_id + b"\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )


def main() -> int:
    server = ("127.0.0.1", int(sys.argv[1]))
    interval = float(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    local_port = sock.getsockname()[1]
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    next_at = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_at:
            call_id = uuid.uuid4().hex.encode()
            sent[call_id] = now
            sock.sendto(options(call_id, local_port), server)
            next_at += interval
        ready, _, _ = select.select([sock, sys.stdin], [], [], max(0.0, next_at - time.monotonic()))
        if sys.stdin in ready and not sys.stdin.buffer.read1(1):  # the campaign is done
            break
        if sock in ready:
            data = sock.recv(65535)
            call_id = data.split(b"Call-ID: ", 1)[-1].split(b"\r\n", 1)[0]
            if (at := sent.pop(call_id, None)) is not None:
                latencies.append(time.monotonic() - at)
    time.sleep(0.5)  # answers still on their way
    while select.select([sock], [], [], 0)[0]:
        data = sock.recv(65535)
        if (at := sent.pop(data.split(b"Call-ID: ", 1)[-1].split(b"\r\n", 1)[0], None)) is not None:
            latencies.append(time.monotonic() - at)
    result = {
        "sent": len(latencies) + len(sent),
        "lost": len(sent),
        "late": sum(1 for x in latencies if x > DEADLINE),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else 0.0,
        "max_ms": round(max(latencies) * 1000, 2) if latencies else 0.0,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
