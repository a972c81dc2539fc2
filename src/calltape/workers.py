"""``calltape serve --workers N``: N processes on one machine share the SIP port, each owning whole dialogs.

Every worker binds the SIP port with SO_REUSEPORT, so the kernel hands each datagram to one of them
(by the sender's address). A dialog belongs to the worker that ``crc32(Call-ID) % N`` names: a datagram
that lands elsewhere is passed on once, over a Unix datagram socket, to its owner. Call-IDs that a worker
makes (for the legs it places) are drawn until they hash to itself, so the answers to its own requests
come home whichever address they arrive from. TCP connections stay with the worker that accepted them.

Each worker has its own slice of the RTP ports, its own media clock, encoder processes and spool
(worker 0 keeps ``DATA_DIR/spool``, so its node is the single-process node), and its own delivery
worker; the store is shared (PostgreSQL is the better store for several workers). Worker 0 also serves
the API, the web page and the built-in receiver; its ``/metrics`` sums every worker's counters and gauges
(``worker_metrics``, prometheus_client's multiprocess mode), while ``/channels`` lists every worker's calls.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import socket
import sys
from dataclasses import replace
from multiprocessing.process import BaseProcess
from typing import Any

from calltape.config import HostPort, Settings
from calltape.node import api_token, prepare_store
from calltape.receiver.settings import ReceiverSettings
from calltape.runtime import configure_logging, install_event_loop_policy
from calltape.service import HELD_AT_BIRTH, remember_signals, serve
from calltape.worker import Worker
from calltape.worker_metrics import prepare as prepare_shared_figures


def run_workers(settings: Settings, receiver: ReceiverSettings | None) -> int:
    """Start ``settings.workers`` serving processes and supervise them until SIGTERM/SIGINT."""
    count = settings.workers
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(prepare_store(settings))  # the schema is migrated once, before any worker opens it
    settings = replace(
        settings,
        api_token=api_token(settings, lambda line: print(line, flush=True)),
        sip=_fixed_port(settings.sip, both=True),
        http=_fixed_port(settings.http, both=False),
    )
    prepare_shared_figures(settings.data_dir)  # worker 0's /metrics sums every worker's (worker_metrics.py)
    group = f"{os.getpid()}-{secrets.token_hex(4)}"
    low, high = settings.rtp_ports
    share = (high - low + 1) // count
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = []
    stopping = draining = False

    def stop(signum: int, _frame: object) -> None:
        """Tell every worker: the first SIGTERM drains them (SIGUSR1), a second one or SIGINT stops them (SIGINT)."""
        nonlocal stopping, draining
        stopping = True
        told = signal.SIGUSR1 if signum == signal.SIGTERM and not draining else signal.SIGINT
        draining = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, told)

    def reload(_signum: int, _frame: object) -> None:
        """SIGHUP (``systemctl reload``): every worker reads its TLS certificate again."""
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    # Worker 0 starts last: when it prints where it listens, every worker takes calls.
    for index in [*range(1, count), 0]:
        ports = (low + index * share, low + (index + 1) * share - 1 if index < count - 1 else high)
        mine = replace(settings, rtp_ports=ports)
        listening = context.Event()
        args = (mine, receiver if index == 0 else None, Worker(index, count, group), listening)
        process = context.Process(target=_worker_main, args=args, name=f"worker {index}")
        held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_AT_BIRTH)  # the worker is born with them held back:
        try:  # one that comes before it listens (a drain, at once) waits for it instead of killing it
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        processes.append(process)
        while index and not listening.wait(0.2) and not stopping:
            if not process.is_alive():
                print(f"calltape: error: worker {index} did not start (exit {process.exitcode})", file=sys.stderr)
                stop(signal.SIGINT, None)
                break
        if stopping:
            break
    failed = False
    while alive := [p for p in processes if p.is_alive()]:
        # one list: asking is_alive() twice could see the last one exit in between and then wait on nothing, forever
        multiprocessing.connection.wait([p.sentinel for p in alive], timeout=1.0)
        if not stopping and any(p.exitcode not in (None, 0) for p in processes):
            gone = next(p for p in processes if p.exitcode not in (None, 0))
            print(f"calltape: error: {gone.name} stopped (exit {gone.exitcode})", file=sys.stderr)
            failed = True
            stop(signal.SIGINT, None)
    return 1 if failed or any(p.exitcode != 0 for p in processes) else 0


def _fixed_port(address: HostPort, *, both: bool) -> HostPort:
    """Port 0 means "any free one": pick it here, once, so that every worker binds the same."""
    if address.port:
        return address
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    while True:
        with socket.socket(family, socket.SOCK_DGRAM if both else socket.SOCK_STREAM) as probe:
            probe.bind((address.host, 0))
            port = int(probe.getsockname()[1])
        if not both:
            return HostPort(address.host, port)
        try:
            with socket.socket(family, socket.SOCK_STREAM) as tcp:
                tcp.bind((address.host, port))
            return HostPort(address.host, port)
        except OSError:
            continue


def _worker_main(settings: Settings, receiver: ReceiverSettings | None, worker: Worker, listening: Any) -> None:
    configure_logging(settings.log_level, prefix=f"w{worker.index} ")
    install_event_loop_policy()
    early = remember_signals()  # the supervisor's word may come before serve() listens for it
    asyncio.run(serve(settings, receiver, worker=worker, on_listening=listening.set, early=early))
