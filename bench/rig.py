"""What the benches on PostgreSQL share: a database of their own, calltape nodes on it, and
Debian's Kamailio in front of them as ``calltape edge-config`` renders it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.sipp_runner import free_port
from tests.server import ServerProcess

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
