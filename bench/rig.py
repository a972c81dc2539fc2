"""What the benches on PostgreSQL share: a database of their own, calltape nodes on it, Debian's Kamailio in front
of them as ``calltape edge-config`` renders it, and SIPp calling through it (``Cluster``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.e2e.sipp_runner import SippResult, free_port, run_sipp
from tests.e2e.upload_sink import UploadSink
from tests.server import TOKEN, ServerProcess

from bench.load import write_sweep
from calltape.edge import node_list, render

PG = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def database(prefix: str) -> Iterator[str]:
    """A database made for the run and dropped after it; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"{PG}/{name}"
    finally:
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


def node(tmp: Path, index: int, db: str, sip_port: int) -> ServerProcess:
    """Node *index* (``node-<index>``, its own RTP ports and data dir), trusting the edge on 127.0.0.1."""
    low = 40000 + index * 2000
    args = ["--db", db, "--sip", f"127.0.0.1:{sip_port}", "--node-id", f"node-{index}", "--edges", "127.0.0.1"]
    args += ["--trusted-networks", "127.0.0.1/32", "--rtp-ports", f"{low}-{low + 1999}", "--log-level", "warning"]
    return ServerProcess(tmp / f"node-{index}", args)


def start_edge(tmp: Path, node_ports: list[int]) -> tuple[subprocess.Popen[bytes], int]:
    """Kamailio in the foreground, dispatching to the nodes on *node_ports*; the process and its SIP port."""
    edge_port = free_port()
    (tmp / "nodes.list").write_text(node_list([f"sip:127.0.0.1:{port}" for port in node_ports]))
    (tmp / "kamailio.cfg").write_text(render("127.0.0.1", edge_port, str(tmp / "nodes.list"), 1))
    (tmp / "run").mkdir(exist_ok=True)
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    edge = subprocess.Popen(
        [kamailio, "-DD", "-E", "-f", str(tmp / "kamailio.cfg"), "-Y", str(tmp / "run"), "-w", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "kamailio.log").open("w"),
    )
    return edge, edge_port


@dataclass
class Cluster:
    """Nodes on one database behind the edge, a receiver for their recordings, SIPp's audio, an API client."""

    tmp: Path
    db: str
    ports: list[int]
    nodes: list[ServerProcess]
    edge: subprocess.Popen[bytes]
    edge_port: int
    sink: UploadSink = field(default_factory=lambda: UploadSink().start())
    api: httpx.Client = field(default_factory=lambda: httpx.Client(headers={"X-Auth-Token": TOKEN}, timeout=30))
    sipp: list[SippResult] = field(default_factory=list)  # what call_through_edge's SIPp ended with

    @classmethod
    def start(cls, prefix: str, count: int, db: str) -> Cluster:
        """*count* nodes on *db* and Kamailio before them."""
        tmp = Path(tempfile.mkdtemp(prefix=prefix))
        write_sweep(tmp / "audio.ulaw", 10)
        ports = [free_port() for _ in range(count)]
        nodes = [node(tmp, index, db, port).start() for index, port in enumerate(ports)]
        edge, edge_port = start_edge(tmp, ports)
        return cls(tmp, db, ports, nodes, edge, edge_port)

    def restart(self, index: int) -> None:
        """Node *index* again, on its data dir and port (after it exited)."""
        self.nodes[index] = node(self.tmp, index, self.db, self.ports[index]).start()

    def call_through_edge(self, number: str, calls: int, rate: int, hold: float, timeout: int) -> threading.Thread:
        """SIPp placing recorded echo calls to *number* through the edge, in the background; its result is
        appended to ``self.sipp`` when it ends."""
        hold_ms = str(int(hold * 1000))

        def place() -> None:
            self.sipp.append(
                run_sipp(
                    "call_echo_routed",
                    self.edge_port,
                    self.tmp,
                    calls=calls,
                    rate=rate,
                    timeout=timeout,
                    extra=["-s", number, "-l", str(calls), "-mi", "127.0.0.1", "-mp", "62000"],
                    substitutions={"RTP_STREAM": f"{self.tmp / 'audio.ulaw'},-1,0", "HOLD_MS": hold_ms},
                )
            )

        load = threading.Thread(target=place)
        load.start()
        return load

    def stop(self) -> None:
        """Everything down."""
        self.api.close()
        for running in self.nodes:
            running.stop()
        self.edge.terminate()
        self.edge.wait(10)
        self.sink.stop()
