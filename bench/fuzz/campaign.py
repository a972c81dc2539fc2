"""A fuzzing campaign against a live ``calltape serve``: hostile traffic, with real calls and probes alongside.

While mutated and generated messages arrive over UDP and TCP (random splits and coalescing), the
campaign checks what a user would notice: the server stays up, OPTIONS keeps being answered fast,
every INVITE it took on (100 Trying) gets a final response, real calls are answered and carry audio
both ways, memory stays flat, and the log stays readable (no tracebacks, few lines a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tests.audio import dominant_frequency
from tests.phone import Phone
from tests.server import TOKEN, ServerProcess

from bench.fuzz.corpus import (
    Mutator,
    fix_length,
    fresh_ids,
    grammar_pool,
    ordinary_templates,
    rtp_garbage,
    torture_messages,
)
from bench.procstat import rss_mb

ROOT = Path(__file__).resolve().parents[2]
REALM = "fuzz.example.com"
PASSWORD = "fuzz-password-1"
#: Mostly numbers without a callflow (the refusal path); one INVITE in ten reaches a callflow that answers.
FUZZ_NUMBERS = ("100", "200", "300", *["404"] * 27)
REAL_CALL_NUMBER = "500"
REAL_CALL_TONE = 440.0
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "was never awaited", "Fatal error", "Task exception")

_CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S*)", re.I | re.M)
_CSEQ = re.compile(rb"^CSeq[ \t]*:[ \t]*(\d{1,10})[ \t]+(\S+)", re.I | re.M)
_MEDIA_PORT = re.compile(rb"^m=audio (\d{1,5}) ", re.M)
_COPIED = re.compile(rb"^(?:Via|v|From|f|To|t|Call-ID|i|CSeq)[ \t]*:.*$", re.I | re.M)


@dataclass
class Settings:
    """How much to send, how fast, and where."""

    datagrams: int = 10_000
    rate: float = 3000.0
    tcp_share: float = 0.05
    real_call_interval: float = 2.0
    probe_interval: float = 0.1
    grace: float = 20.0  # after the last message: time for every INVITE to get its final response
    seed: int = 1
    rtp_ports: str = "30000-30999"
    server_args: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What the campaign saw (the bench writes it; the test asserts on it)."""

    datagrams: int = 0
    tcp_messages: int = 0
    tcp_reconnects: int = 0
    rtp_packets: int = 0
    seconds: float = 0.0
    responses: int = 0
    invites_trying: int = 0
    invites_final: int = 0
    invites_without_final: int = 0
    finals: dict[str, int] = field(default_factory=dict)
    probes_sent: int = 0
    probes_late: int = 0
    probes_lost: int = 0
    probe_p50_ms: float = 0.0
    probe_max_ms: float = 0.0
    real_calls: int = 0
    real_calls_ok: int = 0
    real_call_failures: list[str] = field(default_factory=list)
    rss_mb_after_warmup: float = 0.0
    rss_mb_end: float = 0.0
    rss_mb_max: float = 0.0
    log_lines: int = 0
    log_lines_per_s: float = 0.0
    tracebacks: int = 0
    traceback_kinds: list[str] = field(default_factory=list)
    crashed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def failures(
        self, *, rss_growth_mb: float = 20.0, log_lines_per_s: float = 5.0, probe_latency: bool = True
    ) -> list[str]:
        """The bars this run misses (empty: all met); *probe_latency* False leaves out the 100 ms bar on OPTIONS
        answers (a timing bar, which a test on a busy machine must not hold; a lost probe always counts)."""
        out = []
        if self.crashed:
            out.append("the server died")
        if self.tracebacks:
            out.append(f"{self.tracebacks} tracebacks: {self.traceback_kinds}")
        if self.invites_without_final:
            out.append(f"{self.invites_without_final} INVITEs without a final response")
        if self.real_calls_ok != self.real_calls or not self.real_calls:
            out.append(f"real calls: {self.real_calls_ok}/{self.real_calls} ok: {self.real_call_failures[:5]}")
        if self.probes_lost or (self.probes_late and probe_latency):
            out.append(f"OPTIONS probes: {self.probes_lost} lost, {self.probes_late} later than 100 ms")
        if self.rss_mb_end - self.rss_mb_after_warmup > rss_growth_mb:
            out.append(f"RSS grew from {self.rss_mb_after_warmup} to {self.rss_mb_end} MiB after warm-up")
        if self.log_lines_per_s >= log_lines_per_s:
            out.append(f"{self.log_lines_per_s} log lines per second")
        return out


class _Inbox:
    """Responses and requests coming back to the fuzzer's sockets."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.trying: set[bytes] = set()
        self.final: dict[bytes, int] = {}
        self.answered_media: list[int] = []

    def handle(self, data: bytes, sock: socket.socket, server: tuple[str, int]) -> None:
        call_id = (m.group(1) if (m := _CALL_ID.search(data)) else b"") or b""
        cseq = _CSEQ.search(data)
        if not data.startswith(b"SIP/2.0 "):
            if data.split(b" ", 1)[0] in (b"BYE", b"OPTIONS", b"INFO"):  # answer what the server asks of us
                lines = b"\r\n".join(m.group(0).rstrip(b"\r") for m in _COPIED.finditer(data))
                _send(sock, b"SIP/2.0 200 OK\r\n" + lines + b"\r\nContent-Length: 0\r\n\r\n", server)
            return
        self.report.responses += 1
        status = int(data[8:11]) if data[8:11].isdigit() else 0
        if cseq is None or cseq.group(2) != b"INVITE":
            return
        if status == 100:
            self.trying.add(call_id)
            return
        if status < 200:
            return
        first = call_id not in self.final
        self.final[call_id] = status
        if first:
            key = str(status)
            self.report.finals[key] = self.report.finals.get(key, 0) + 1
        _send(sock, _ack_for(data, cseq.group(1)), server)
        if 200 <= status < 300 and first and (m := _MEDIA_PORT.search(data)):
            self.answered_media.append(int(m.group(1)))


def _ack_for(response: bytes, number: bytes) -> bytes:
    """The ACK for a final response (RFC 3261 §17.1.1.3 for non-2xx; good enough for a 2xx here)."""
    lines = [m.group(0).rstrip(b"\r") for m in _COPIED.finditer(response)]
    via = next((line for line in lines if line.lower().startswith((b"via", b"v:"))), b"Via: SIP/2.0/UDP 127.0.0.1")
    rest = [line for line in lines if not line.lower().startswith((b"via", b"v:", b"cseq"))]
    head = [b"ACK sip:fuzz@127.0.0.1 SIP/2.0", via, b"Max-Forwards: 70", *rest, b"CSeq: " + number + b" ACK"]
    return b"\r\n".join(head) + b"\r\nContent-Length: 0\r\n\r\n"


def _send(sock: socket.socket, data: bytes, addr: tuple[str, int]) -> None:
    with contextlib.suppress(BlockingIOError, OSError):
        sock.sendto(data, addr)


class Campaign:
    """One run: start a server, provision it, fuzz it, and report."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.report = Report()
        self.rnd = random.Random(settings.seed)
        self.mutator = Mutator(self.rnd)
        self.inbox = _Inbox(self.report)
        self.server: ServerProcess | None = None
        self._stop = asyncio.Event()
        self._rss: list[tuple[float, float]] = []

    # ---- set-up ----------------------------------------------------------------------------

    def start_server(self) -> ServerProcess:
        """A server with a fuzz account, a device and callflows for the numbers the fuzzer dials."""
        args = ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", self.settings.rtp_ports, "--log-level", "info"]
        server = ServerProcess(self.workdir / "data", [*args, *self.settings.server_args]).start()
        with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30) as api:
            account = api.put("/v2/accounts", json={"data": {"name": "fuzz", "realm": REALM}}).json()["data"]["id"]
            device = {"name": "fuzz", "sip": {"username": "fuzz", "password": PASSWORD}}
            api.put(f"/v2/accounts/{account}/devices", json={"data": device}).raise_for_status()
            flows = {
                "100": {"module": "tone", "data": {"frequencies": [600], "duration_ms": 500}},
                "200": {"module": "echo", "data": {"duration": 2}},
                "300": {"module": "echo", "data": {}},  # until the caller leaves: or its RTP stops
                REAL_CALL_NUMBER: {"module": "echo", "data": {"duration": 1.5}},
            }
            for number, flow in flows.items():
                body = {"data": {"numbers": [number], "flow": flow}}
                api.put(f"/v2/accounts/{account}/callflows", json=body).raise_for_status()
        self.server = server
        return server

    # ---- the run ---------------------------------------------------------------------------

    async def run(self) -> Report:
        """Fuzz until the datagram budget is spent, then wait for the last INVITEs to be answered."""
        server = self.server or self.start_server()
        assert server.proc is not None
        log_offset = server.log_path.stat().st_size
        seeds = self._seeds()
        started = time.monotonic()
        tasks = [
            asyncio.create_task(self._probe(server.sip_port)),
            asyncio.create_task(self._real_calls(server.sip_port)),
            asyncio.create_task(self._sample_rss(server.proc.pid)),
        ]
        await self._fuzz(server.sip_port, seeds)
        self.report.seconds = round(time.monotonic() - started, 1)
        await self._await_finals()
        self._stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._finish(server, log_offset, time.monotonic() - started)
        return self.report

    def _seeds(self) -> list[bytes | str]:
        grammar = grammar_pool(max(200, min(3000, self.settings.datagrams // 50)), self.settings.seed)
        return [*ordinary_templates() * 6, *torture_messages(), *grammar]

    async def _fuzz(self, port: int, seeds: list[bytes | str]) -> None:
        loop = asyncio.get_running_loop()
        server = ("127.0.0.1", port)
        sockets = []
        for _ in range(4):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._drain, sock, server)
            sockets.append(sock)
        tcp = _TcpLinks(server, self.report, self.rnd)
        batch = max(1, int(self.settings.rate / 100))
        t0 = time.monotonic()
        sent = 0
        try:
            while sent < self.settings.datagrams:
                for _ in range(min(batch, self.settings.datagrams - sent)):
                    sock = self.rnd.choice(sockets)
                    data = self._message(self.rnd.choice(seeds), sock.getsockname()[1])
                    if self.rnd.random() < self.settings.tcp_share:
                        tcp.queue(data)
                    else:
                        _send(sock, data, server)
                        self.report.datagrams += 1
                    sent += 1
                self._media_fuzz(sockets[0])
                await tcp.flush()
                await asyncio.sleep(max(0.0, t0 + sent / self.settings.rate - time.monotonic()))
            self._grace_sockets = sockets
        finally:
            await tcp.close()

    def _message(self, seed: bytes | str, port: int) -> bytes:
        number = self.rnd.choice(FUZZ_NUMBERS)
        data, _ident = fresh_ids(seed, port, number, REALM)
        if self.rnd.random() < 0.1:
            return fix_length(data)  # some go through untouched (the server must still answer them right)
        return self.mutator.mutate(data)

    def _media_fuzz(self, sock: socket.socket) -> None:
        media = self.inbox.answered_media
        if not media:
            return
        for _ in range(3):
            _send(sock, rtp_garbage(self.rnd), ("127.0.0.1", self.rnd.choice(media[-50:])))
            self.report.rtp_packets += 1

    def _drain(self, sock: socket.socket, server: tuple[str, int]) -> None:
        for _ in range(64):
            try:
                data = sock.recv(65535)
            except (BlockingIOError, OSError):
                return
            self.inbox.handle(data, sock, server)

    async def _await_finals(self) -> None:
        deadline = time.monotonic() + self.settings.grace
        while time.monotonic() < deadline and self.inbox.trying - self.inbox.final.keys():
            await asyncio.sleep(0.2)
        grace_sockets = getattr(self, "_grace_sockets", [])
        if not self.report.rtp_packets and grace_sockets:  # a busy machine answered only after the last datagram
            self._media_fuzz(grace_sockets[0])
        loop = asyncio.get_running_loop()
        for sock in grace_sockets:
            loop.remove_reader(sock.fileno())
            sock.close()
        self.report.invites_trying = len(self.inbox.trying)
        self.report.invites_final = len(self.inbox.final)
        self.report.invites_without_final = len(self.inbox.trying - self.inbox.final.keys())

    # ---- what runs alongside ----------------------------------------------------------------

    async def _probe(self, port: int) -> None:
        """OPTIONS at a steady pace from a process of its own (bench/fuzz/probe.py)."""
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fuzz.probe",
            str(port),
            str(self.settings.probe_interval),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await self._stop.wait()
        out, _ = await probe.communicate(b"")
        result = json.loads(out)
        self.report.probes_sent, self.report.probes_lost = result["sent"], result["lost"]
        self.report.probes_late = result["late"]
        self.report.probe_p50_ms, self.report.probe_max_ms = result["p50_ms"], result["max_ms"]

    async def _real_calls(self, port: int) -> None:
        """A real phone calls the echo line over and over: answered, and it hears its own tone."""
        t = np.arange(8000 * 3) / 8000
        tone = (np.sin(2 * np.pi * REAL_CALL_TONE * t) * 8000).astype("<i2").tobytes()
        while not self._stop.is_set():
            self.report.real_calls += 1
            phone = await Phone(port, realm=REALM).start()
            try:
                phone.say_pcm(tone)
                response = await phone.call(REAL_CALL_NUMBER, timeout=5.0)
                if response.status != 200:
                    raise AssertionError(f"answered {response.status}")
                await phone.wait_bye(timeout=10.0)
                pcm = phone.received.pcm(0)
                loud = int(np.count_nonzero(np.abs(pcm.astype(np.int32)) > 500))
                if loud < 4000:  # 1.5 s of echo is 12,000 samples
                    raise AssertionError(f"heard {loud} loud samples")
                heard = dominant_frequency(pcm)
                if abs(heard - REAL_CALL_TONE) > 20:
                    raise AssertionError(f"heard {heard:.0f} Hz")
                self.report.real_calls_ok += 1
            except (AssertionError, TimeoutError) as exc:
                self.report.real_call_failures.append(f"{phone.call_id}: {exc!r}")
            finally:
                phone.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.real_call_interval)

    async def _sample_rss(self, pid: int) -> None:
        while not self._stop.is_set():
            try:
                self._rss.append((time.monotonic(), rss_mb(pid)))
            except OSError:
                return
            await asyncio.sleep(1.0)

    # ---- the verdict ------------------------------------------------------------------------

    def _finish(self, server: ServerProcess, log_offset: int, seconds: float) -> None:
        report = self.report
        report.crashed = not server.alive()
        with server.log_path.open("rb") as fh:
            fh.seek(log_offset)
            text = fh.read().decode("utf-8", "replace")
        lines = text.splitlines()
        report.log_lines = len(lines)
        report.log_lines_per_s = round(len(lines) / max(seconds, 1e-9), 2)
        kinds: dict[str, None] = {}
        for i, line in enumerate(lines):
            if any(marker in line for marker in TRACEBACK_MARKERS):
                report.tracebacks += 1
                tail = next((x for x in lines[i + 1 : i + 60] if x and not x.startswith((" ", "Traceback"))), line)
                kinds[tail[:160]] = None
        report.traceback_kinds = list(kinds)[:30]
        if self._rss:
            report.rss_mb_max = max(r for _, r in self._rss)
            report.rss_mb_end = self._rss[-1][1]
            warm = self._rss[len(self._rss) // 4]
            report.rss_mb_after_warmup = warm[1]


class _TcpLinks:
    """A few TCP connections; messages queued on one go out in random pieces (split and coalesced)."""

    def __init__(self, server: tuple[str, int], report: Report, rnd: random.Random) -> None:
        self.server = server
        self.report = report
        self.rnd = rnd
        self.pending = bytearray()
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None

    def queue(self, data: bytes) -> None:
        self.pending += data
        self.report.tcp_messages += 1

    async def flush(self) -> None:
        if not self.pending or self.rnd.random() < 0.5:  # let some messages coalesce
            return
        if self.writer is None or self.writer.is_closing() or self.reader_task is None or self.reader_task.done():
            await self._connect()  # the server closed the last one (a message it could not frame)
        assert self.writer is not None
        data, self.pending = bytes(self.pending), bytearray()
        at = 0
        while at < len(data):  # random split points: a message may arrive in many reads
            piece = self.rnd.randint(1, max(1, len(data) - at))
            if self.writer.is_closing():
                return
            self.writer.write(data[at : at + piece])
            at += piece
            if self.rnd.random() < 0.3:
                try:
                    await asyncio.wait_for(self.writer.drain(), 1.0)
                except (ConnectionError, TimeoutError):
                    return

    async def _connect(self) -> None:
        if self.reader_task is not None:
            self.reader_task.cancel()
        reader, self.writer = await asyncio.open_connection(*self.server)
        self.report.tcp_reconnects += 1
        self.reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.reader_task is not None:
            self.reader_task.cancel()


def run_campaign(settings: Settings, workdir: Path) -> Report:
    """Start a server, fuzz it, stop it; the report says what happened."""
    campaign = Campaign(settings, workdir)
    server = campaign.start_server()
    try:
        return asyncio.run(campaign.run())
    finally:
        server.stop()
