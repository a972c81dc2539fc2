"""A running ``calltape receiver`` process for the receiver tests."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.sipp_runner import free_port

TOKEN = "receiver-token"


@dataclass
class ReceiverProcess:
    """A started receiver: its URL, storage directory and process."""

    root: Path
    extra_args: list[str] = field(default_factory=list)
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def dir(self) -> Path:
        return self.root / "store"

    def start(self) -> ReceiverProcess:
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "calltape",
            "receiver",
            "--listen",
            f"127.0.0.1:{port}",
            "--dir",
            str(self.dir),
            *self.extra_args,
        ]
        log = (self.root / "receiver.log").open("a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, bufsize=0)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = os.read(self.proc.stdout.fileno(), 4096).decode() if ready else ""
        if not re.search(r"receiver listening on http://", line):
            self.stop()
            raise RuntimeError(f"receiver did not start: {line!r} {(self.root / 'receiver.log').read_text()}")
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        import httpx

        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("receiver never answered /healthz")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def stored_files(self) -> list[str]:
        """Every file under the storage dir (relative), spool included."""
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    proc = ReceiverProcess(tmp_path_factory.mktemp("receiver"), ["--token", TOKEN, "--max-size", "2000000"]).start()
    yield proc
    proc.stop()
