"""``calltape serve``: one process's :class:`~calltape.node.Node`, from SIGTERM-safe start to clean stop.

SIGTERM drains the node (``Node.drain``: new calls are refused with 503, those under way may end by themselves
within ``--drain-timeout``), then stops it; a second SIGTERM, or SIGINT, stops it at once: calls are hung up and
their recordings finished. Either way no recording is lost: what was not delivered stays in the outbox. A worker
of ``--workers`` also drains on SIGUSR1, the supervisor's word for it (which a worker may hear beside a SIGTERM
of its own, from systemd stopping the whole group: that makes one drain, not a stop).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Sequence
from functools import partial

from calltape.config import Settings
from calltape.node import Node
from calltape.receiver.settings import ReceiverSettings
from calltape.worker import Worker


def _say(line: str) -> None:
    print(line, flush=True)


def _quiet(_line: str) -> None:
    """Workers other than the first: the first one speaks for all."""


async def serve(
    settings: Settings,
    receiver: ReceiverSettings | None = None,
    say: Callable[[str], None] = _say,
    worker: Worker | None = None,
    on_listening: Callable[[], None] = lambda: None,
    early: Sequence[int] = (),
) -> None:
    """Run until SIGTERM (drain, then stop) or SIGINT (stop), then shut down cleanly. With *worker*, as one of
    several processes (*on_listening* tells the supervisor this one takes calls; *early*: the signals that came
    before this ran, acted on now)."""
    stop = asyncio.Event()  # set first: a signal that comes while starting up is acted on once started
    drain = asyncio.Event()
    loop = asyncio.get_running_loop()
    terms = 0

    def on_sigterm() -> None:  # the first drains, a second stops (the supervisor's SIGUSR1 is not counted)
        nonlocal terms
        terms += 1
        (stop if terms > 1 else drain).set()

    handlers: dict[int, Callable[[], None]] = {
        signal.SIGINT: stop.set,
        signal.SIGTERM: on_sigterm,
        signal.SIGUSR1: drain.set,
    }
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # a reload while starting: what loads is current anyway
    for signum in early:
        handlers[signum]()
    worker = worker or Worker()
    node = await Node.build(
        settings, receiver if worker.index == 0 else None, worker, say if worker.index == 0 else _quiet
    )
    node.on_drain = partial(_drain_all, worker) if worker.count > 1 else drain.set  # POST /v2/nodes/{id}/drain
    loop.add_signal_handler(signal.SIGHUP, node.reload)  # a renewed TLS certificate, a new recording key
    await node.start(on_listening)
    try:
        asked = [loop.create_task(event.wait()) for event in (stop, drain)]
        await asyncio.wait(asked, return_when=asyncio.FIRST_COMPLETED)
        for task in asked:
            task.cancel()
        if drain.is_set() and not stop.is_set():
            await node.drain(settings.drain_timeout, stop)
    finally:
        await node.stop()


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGUSR1})  # stop, drain, the supervisor's drain
HELD_AT_BIRTH = STOP_SIGNALS | {signal.SIGHUP}  # a worker is born with these blocked (SIGHUP: a reload, ignored)


def remember_signals() -> list[int]:
    """Until :func:`serve` handles them (a worker starting up): the signals that come, for it to act on — also
    those that came before, held back by the supervisor's mask (see ``workers.py``), released now."""
    seen: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, _frame: seen.append(number))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload before there is anything to reload
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_AT_BIRTH)
    return seen


def _drain_all(worker: Worker) -> None:
    """A worker was asked to drain: its supervisor tells every worker of this ``serve`` (SIGTERM to it)."""
    supervisor = worker.supervisor
    if supervisor and os.getppid() == supervisor:  # not whoever adopted us if the supervisor is gone
        os.kill(supervisor, signal.SIGTERM)
