"""Running ``calltape serve`` as a child process on loopback, for the demo and the local cluster."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 30.0


@dataclass
class Server:
    """A started ``calltape serve``: where its SIP and API listen."""

    process: asyncio.subprocess.Process
    sip_host: str
    sip_port: int
    api_url: str
    log: Path
    output: asyncio.Task[None] | None = None  # reads its stdout so that it never blocks on a full pipe

    async def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (a drain), and wait for a clean shutdown (it finishes recordings in progress); killed after
        *timeout* seconds."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


async def start(
    data_dir: Path, token: str, sip: str, http: str, extra: tuple[str, ...] = (), *, own_session: bool = False
) -> Server:
    """Start ``calltape serve`` with the built-in receiver in *data_dir* (SQLite there unless *extra* flags say
    otherwise); its log goes to server.log. *own_session*: a terminal's Ctrl-C does not reach it (its starter
    stops it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    args = ["serve", "--sip", sip, "--http", http, "--data-dir", str(data_dir), "--api-token", token, *extra]
    with log.open("ab") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "calltape",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            start_new_session=own_session,
        )
    assert process.stdout is not None
    sip_address: tuple[str, int] | None = None
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while line := (await process.stdout.readline()).decode():
                if m := re.search(r"SIP listening on udp\+tcp ([\d.]+):(\d+)", line):
                    sip_address = (m.group(1), int(m.group(2)))
                if (m := re.search(r"API listening on (http://\S+)", line)) and sip_address:
                    drain = asyncio.ensure_future(_drain(process.stdout))
                    return Server(process, *sip_address, m.group(1), log, drain)
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
    last = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise RuntimeError(f"calltape serve did not start: {last[0]} (log: {log})")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
