"""Running SIPp (Debian's sip-tester) as a real peer and reading its verdict."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).parent / "sipp"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free on 127.0.0.1 for both UDP and TCP at the time of asking."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    output: str
    errors: str


def run_sipp(
    scenario: str,
    target_port: int,
    tmp: Path,
    *,
    calls: int,
    rate: int = 50,
    transport: str = "u1",
    extra: list[str] | None = None,
    timeout: int = 60,
    substitutions: dict[str, str] | None = None,
    local_port: int | None = None,
) -> SippResult:
    """Run one scenario to completion against 127.0.0.1:*target_port*.

    *substitutions* replace ``@NAME@`` markers in the scenario (SIPp cannot take ``rtp_stream``'s
    file from an injection file).
    """
    sipp = shutil.which("sipp")
    assert sipp, "sipp is missing: `make install` installs Debian's sip-tester"
    error_file = tmp / f"{scenario}-{transport}-errors.log"
    scenario_file = SCENARIOS / f"{scenario}.xml"
    if substitutions:
        text = scenario_file.read_text()
        for name, value in substitutions.items():
            text = text.replace(f"@{name}@", value)
        scenario_file = tmp / f"{scenario}-{os.getpid()}-{time.monotonic_ns()}.xml"
        scenario_file.write_text(text)
    args = [
        sipp,
        f"127.0.0.1:{target_port}",
        "-sf",
        str(scenario_file),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-t",
        transport,
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port or free_port()),
        "-nostdin",
        "-timeout",
        f"{timeout}s",
        "-timeout_error",
        "-trace_err",
        "-error_file",
        str(error_file),
        *(extra or []),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30, cwd=tmp)
    out = proc.stdout + proc.stderr

    def count(label: str) -> int:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", out)
        return int(found[-1]) if found else -1

    errors = error_file.read_text(errors="replace") if error_file.exists() else ""
    return SippResult(proc.returncode, count("Successful call"), count("Failed call"), out, errors)


async def until_listening(port: int, timeout: float = 10.0) -> None:
    """Until something (SIPp) has bound UDP 127.0.0.1:*port* (a bind of our own then fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on udp 127.0.0.1:{port}")
