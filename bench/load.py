"""What the SIPp load benchmarks share: a real audio file to stream, and a server on its embedded defaults."""

from __future__ import annotations

import audioop
from pathlib import Path

import httpx
import numpy as np
from tests.e2e.sipp_runner import SippResult, run_sipp
from tests.server import ServerProcess

SERVER_RTP_PORTS = range(20000, 30000)
#: A pause of the milliseconds in the injection file's first field (SIPp's pause takes a variable, not a field)
HOLD_FROM_FILE = (
    '<nop><action><assignstr assign_to="hold_text" value="[field0]"/>'
    '<todouble assign_to="hold" variable="hold_text"/></action></nop><pause variable="hold"/>'
)


def write_sweep(path: Path, seconds: int = 10) -> Path:
    """A rising tone (300 Hz upwards) as headerless µ-law for SIPp's rtp_stream: real, changing audio."""
    t = np.arange(8000 * seconds) / 8000
    sweep = np.sin(2 * np.pi * (300 + 150 * t) * t) * 8000
    path.write_bytes(audioop.lin2ulaw(sweep.astype("<i2").tobytes(), 2))
    return path


def start_server(tmp: Path, workers: int = 1) -> tuple[ServerProcess, int]:
    """calltape trusting loopback, with a wide RTP range and a quiet log; (server, its pid)."""
    ports = f"{SERVER_RTP_PORTS.start}-{SERVER_RTP_PORTS.stop - 1}"
    args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", ports, "--log-level", "warning"]
    args += ["--workers", str(workers)]
    server = ServerProcess(tmp / "data", args).start()
    assert server.proc is not None
    return server, server.proc.pid


def sipp_callers(
    server: ServerProcess,
    tmp: Path,
    *,
    calls: int,
    rate: int,
    hold_ms: int | list[int],
    number: str,
    media_port: int,
) -> SippResult:
    """SIPp placing *calls* to *number* at *rate*, each streaming the sweep, then BYE: after *hold_ms*, or, given
    one hold per call, after the call's own (the n-th call placed, SIPp's call number n, holds ``hold_ms[n - 1]``)."""
    extra = ["-s", number, "-l", str(calls), "-mi", "127.0.0.1", "-mp", str(media_port)]
    if isinstance(hold_ms, int):
        hold, longest = f'<pause milliseconds="{hold_ms}"/>', hold_ms
    else:  # SIPp reads the calls' holds from an injection file, a line per call in order
        holds = tmp / "holds.csv"
        holds.write_text("SEQUENTIAL\n" + "".join(f"{ms};\n" for ms in hold_ms))
        extra += ["-inf", str(holds)]
        hold, longest = HOLD_FROM_FILE, max(hold_ms)
    return run_sipp(
        "call_echo",
        server.sip_port,
        tmp,
        calls=calls,
        rate=rate,
        timeout=int(longest / 1000) + 120,
        extra=extra,
        substitutions={"RTP_STREAM": f"{tmp / 'audio.ulaw'},-1,0", "HOLD": hold},
    )


def sipp_callee(
    server: ServerProcess, tmp: Path, *, calls: int, port: int, hold_s: float, media_port: int
) -> SippResult:
    """SIPp answering *calls* on *port* and echoing their RTP (the callee of a bridged call)."""
    return run_sipp(
        "uas_echo",
        server.sip_port,
        tmp,
        calls=calls,
        local_port=port,
        timeout=int(hold_s) + 120,
        extra=["-mi", "127.0.0.1", "-mp", str(media_port), "-rtp_echo"],
    )


def metric_values(api: httpx.Client, prefix: str) -> dict[str, float]:
    """Every sample of /metrics whose name starts with *prefix* (worker 0's, with --workers)."""
    lines = api.get("/metrics").text.splitlines()
    return {key: float(value) for key, value in (line.rsplit(" ", 1) for line in lines if line.startswith(prefix))}


def rtp_counters(api: httpx.Client) -> tuple[int, int]:
    """(RTP packets received, payloads an echo or bridge dropped) from /metrics (worker 0's, with --workers)."""
    text = api.get("/metrics").text
    values = {
        key: int(float(value))
        for key, value in (line.split(" ", 1) for line in text.splitlines() if line.startswith("calltape_rtp_"))
    }
    return values["calltape_rtp_packets_received_total"], values["calltape_rtp_relay_dropped_total"]
