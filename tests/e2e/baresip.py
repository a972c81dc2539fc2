"""Debian's baresip as a real softphone for tests, driven headless over its ctrl_tcp module (netstring JSON)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.sipp_runner import free_port

CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{sip_port}
audio_source ausine,{hz}
ausrc_srate 48000
ausrc_channels 2
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module account.so
module menu.so
module ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl_port}
"""


class Baresip:
    """One baresip process with one account; ``command`` sends a ctrl_tcp command, ``wait_event`` waits for one."""

    def __init__(
        self, workdir: Path, aor: str, password: str, server_port: int, hz: int = 440, *, tls_ca: Path | None = None
    ) -> None:
        """With *tls_ca*, it registers and calls over TLS to *server_port*, checking calltape's certificate
        against that CA."""
        assert shutil.which("baresip"), "baresip is missing: `make install` installs Debian's baresip"
        workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._start(workdir, aor, password, server_port, hz, tls_ca):
                return
        raise RuntimeError(f"baresip did not start: {(workdir / 'baresip.log').read_text()[-1500:]}")

    def _start(self, workdir: Path, aor: str, password: str, server_port: int, hz: int, tls_ca: Path | None) -> bool:
        """One start on free ports; False when a port it binds (its TLS listener takes the SIP port + 1) was taken
        by another test in between."""
        self.sip_port = free_port()
        ctrl_port = free_port()
        config = CONFIG.format(sip_port=self.sip_port, ctrl_port=ctrl_port, hz=hz)
        (workdir / "config").write_text(config + (f"sip_cafile {tls_ca}\n" if tls_ca else ""))
        tls = ";transport=tls" if tls_ca else ""
        account = f'<{aor}{tls}>;auth_pass={password};outbound="sip:127.0.0.1:{server_port}{tls}";regint=300'
        (workdir / "accounts").write_text(account + ";answermode=auto;audio_codecs=PCMU,PCMA\n")
        self.log = (workdir / "baresip.log").open("w")
        self.proc = subprocess.Popen(["baresip", "-f", str(workdir)], stdout=self.log, stderr=subprocess.STDOUT)
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", ctrl_port), timeout=1)
                return True
            except OSError:
                exited = self.proc.poll() is not None
                if exited and "Address already in use" in (workdir / "baresip.log").read_text():
                    self.log.close()
                    return False
                if time.monotonic() > deadline or exited:
                    log = (workdir / "baresip.log").read_text()[-1500:]
                    raise RuntimeError(f"baresip did not start: {log}") from None
                time.sleep(0.1)

    def command(self, command: str, params: str = "") -> dict[str, Any]:
        """Run a command (``dial``, ``hangup``, …) and return its response."""
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(f"{len(body)}:".encode() + body + b",")
        return self._next(lambda message: bool(message.get("response")))

    def wait_registered(self, timeout: float = 10.0) -> None:
        """Until its account shows OK in ``reginfo`` (it registers at start, before we can listen for events)."""
        deadline = time.monotonic() + timeout
        while "OK" not in str(self.command("reginfo").get("data")):
            if time.monotonic() > deadline:
                raise TimeoutError("baresip did not register")
            time.sleep(0.1)

    def wait_event(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        """The first event of type *kind* (REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED, …), seen or still to come."""
        for event in self.events:
            if event.get("type") == kind:
                self.events.remove(event)
                return event
        return self._next(lambda message: message.get("type") == kind, timeout)

    def _next(self, wanted: Any, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b":" in self._buffer:
                length, _, rest = self._buffer.partition(b":")
                if len(rest) < int(length) + 1:
                    break
                message = json.loads(rest[: int(length)])
                message["received_at"] = time.monotonic()
                self._buffer = rest[int(length) + 1 :]
                if wanted(message):
                    return dict(message)
                if message.get("event"):
                    self.events.append(message)
            if time.monotonic() > deadline:
                raise TimeoutError(f"baresip: nothing wanted came; events {self.events}")
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise RuntimeError("baresip closed its control connection")
            self._buffer += data

    def close(self) -> None:
        self.sock.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
