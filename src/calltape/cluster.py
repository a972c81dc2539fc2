"""``calltape cluster``: a cluster to try on one machine — Debian's Kamailio in front, N calltape nodes behind it
sharing one PostgreSQL, the demo's account provisioned — until Ctrl-C, which drains every node.

The edge listens where ``--sip`` says (phones point there) and spreads calls over the nodes as
``calltape edge-config`` configures it; the nodes listen on loopback ports of their own, each with its own data
dir and RTP range, named ``node-1`` … and told that the edge's word on a request's source counts (``--edges``).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from calltape.config import ConfigError, HostPort, parse_host_port
from calltape.demo.provision import DemoApi, Site, provision
from calltape.demo.server import Server, start
from calltape.edge import node_list, render

HELP = "try a cluster on this machine: Kamailio in front of N calltape nodes sharing one PostgreSQL"
RTP_BASE = 20000  # node K takes RTP ports from RTP_BASE + (K - 1) * RTP_SPAN
RTP_SPAN = 2000
PROBE_INTERVAL = 2  # seconds between the edge's OPTIONS to each node
EDGE_START = 10.0  # seconds Kamailio has to come up
DRAIN_TIMEOUT = 30  # seconds the calls of a node being stopped may go on (a cluster to try: short)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``cluster``'s flags."""
    parser.add_argument("--nodes", type=int, default=3, help="calltape nodes behind the edge (default 3)")
    parser.add_argument("--db", metavar="URL", required=True, help="the PostgreSQL every node shares")
    parser.add_argument(
        "--sip", metavar="HOST:PORT", default="127.0.0.1:5060", help="the edge (default 127.0.0.1:5060)"
    )
    parser.add_argument("--dir", metavar="DIR", type=Path, help="data dirs and logs (default: a new temp dir)")


def run(args: argparse.Namespace) -> int:
    """Start the cluster, print where to point a phone, and run until Ctrl-C or SIGTERM."""
    try:
        edge = parse_host_port(args.sip, "--sip")
        if not 1 <= args.nodes <= 9:
            raise ConfigError("--nodes: 1 to 9")
        if not args.db.startswith(("postgresql://", "postgres://")):
            raise ConfigError("--db: the nodes share a PostgreSQL: postgresql://USER@HOST/DB")
    except ConfigError as exc:
        print(f"calltape cluster: error: {exc}", file=sys.stderr)
        return 2
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(kamailio).exists():
        print("calltape cluster: error: kamailio not found (apt-get install kamailio)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_cluster(args, edge, kamailio))
    except RuntimeError as exc:
        print(f"calltape cluster: error: {exc}", file=sys.stderr)
        return 1


def _say(line: str) -> None:
    print(f"calltape cluster: {line}", flush=True)


async def _cluster(args: argparse.Namespace, edge: HostPort, kamailio: str) -> int:
    work = (args.dir or Path(tempfile.mkdtemp(prefix="calltape-cluster-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    nodes: list[Server] = []
    proxy: subprocess.Popen[bytes] | None = None
    try:
        for number in range(1, args.nodes + 1):  # one by one: the first migrates the shared schema
            low = RTP_BASE + (number - 1) * RTP_SPAN
            rtp = f"{low}-{low + RTP_SPAN - 1}"
            extra: tuple[str, ...] = ("--db", args.db, "--node-id", f"node-{number}", "--edges", edge.host)
            extra += ("--rtp-ports", rtp, "--drain-timeout", str(DRAIN_TIMEOUT))
            node = await start(work / f"node-{number}", token, "127.0.0.1:0", "127.0.0.1:0", extra, own_session=True)
            nodes.append(node)
        proxy = await _start_edge(work, edge, kamailio, nodes)
        api = DemoApi(nodes[0].api_url, token)
        try:
            site = await provision(api, f"{nodes[0].api_url}/receiver", realm=f"cluster-{token[:6]}.calltape.test")
        finally:
            await api.close()
        _tell(edge, nodes, site, token, work)
        await stop.wait()
        _say("stopping: every node drains (its calls end, its recordings are delivered), then the edge")
    finally:  # every node drains at once (killed if it takes too long), then the edge goes
        await asyncio.gather(*(server.stop(DRAIN_TIMEOUT + 30) for server in nodes))
        if proxy is not None:
            proxy.terminate()
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
    return 0


async def _start_edge(work: Path, edge: HostPort, kamailio: str, nodes: list[Server]) -> subprocess.Popen[bytes]:
    """Kamailio with the configuration ``calltape edge-config`` renders, in the foreground; up once it listens."""
    listed = work / "nodes.list"
    listed.write_text(node_list([f"sip:{node.sip_host}:{node.sip_port}" for node in nodes]))
    config = work / "kamailio.cfg"
    config.write_text(render(edge.host, edge.port, str(listed), PROBE_INTERVAL))
    (work / "kamailio").mkdir(exist_ok=True)
    command = [kamailio, "-DD", "-E", "-f", str(config), "-Y", str(work / "kamailio"), "-w", str(work)]
    log = (work / "kamailio.log").open("wb")
    proxy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    deadline = asyncio.get_running_loop().time() + EDGE_START
    while not _listening(edge) and asyncio.get_running_loop().time() < deadline:
        if proxy.poll() is not None:
            raise RuntimeError(f"kamailio exited {proxy.returncode} (log: {work / 'kamailio.log'})")
        await asyncio.sleep(0.2)
    if not _listening(edge):
        proxy.terminate()
        raise RuntimeError(f"kamailio did not listen on {edge.host}:{edge.port} (log: {work / 'kamailio.log'})")
    return proxy


def _listening(edge: HostPort) -> bool:
    """True once something holds the edge's TCP port (Kamailio listens on UDP and TCP together)."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((edge.host, edge.port)) == 0


def _tell(edge: HostPort, nodes: list[Server], site: Site, token: str, work: Path) -> None:
    _say(f"edge (Kamailio) at sip:{edge.host}:{edge.port}; point phones there")
    for index, node in enumerate(nodes, start=1):
        _say(f"node-{index}: SIP {node.sip_host}:{node.sip_port}, API {node.api_url}")
    _say(f"API token {token} (any node's API); GET /v2/nodes lists the nodes")
    for phone in site.phones.values():
        _say(f"phone {phone.name}: user {phone.username}, password {phone.password}, domain {site.realm}")
    for name, number in site.numbers.items():
        _say(f"dial {number}: {name}")
    _say(f"recordings at {nodes[0].api_url}/ui; data dirs and logs in {work}")
    _say("cluster up; Ctrl-C stops it")
