"""Running a real ``calltape serve`` process for tests, on free ports in a temporary data dir."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = "test-admin-token"


@dataclass
class ServerProcess:
    """A started server: its SIP and API addresses, its token and logs."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    sip_port: int = 0
    api_url: str = ""
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable,
            "-m",
            "calltape",
            "serve",
            "--sip",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
            str(self.data_dir),
            "--api-token",
            TOKEN,
            *self.extra_args,
        ]
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, bufsize=0, env={**os.environ})
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        while not self.api_url:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"calltape did not start: {self.stdout_lines} {self.log_path.read_text()[-2000:]}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            pending += os.read(fd, 65536)
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode()
                self.stdout_lines.append(line)
                if m := re.search(r"SIP listening on udp\+tcp [\d.]+:(\d+)", line):
                    self.sip_port = int(m.group(1))
                if m := re.search(r"API listening on (http://\S+)", line):
                    self.api_url = m.group(1)
        return self

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 10.0) -> int | None:
        """Stop the server: at once by default (SIGINT: calls are hung up, recordings finished); SIGTERM drains
        it first (new calls refused, calls under way may end). Its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
