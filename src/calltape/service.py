"""``calltape serve``: one process's :class:`~calltape.node.Node`, from SIGTERM-safe start to clean stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

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
) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly. With *worker*, as one of several processes
    (*on_listening* tells the supervisor this one takes calls)."""
    stop = asyncio.Event()  # set first: a SIGTERM that comes while starting up stops us once started
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = worker or Worker()
    node = await Node.build(
        settings, receiver if worker.index == 0 else None, worker, say if worker.index == 0 else _quiet
    )
    await node.start(on_listening)
    try:
        await stop.wait()
    finally:
        await node.stop()
