"""Asking another worker of this ``serve`` about its calls: the API runs on worker 0, a call lives on the worker
that owns its Call-ID. One JSON request and one JSON answer per connection, over the worker's abstract Unix
stream socket (nothing on disk; only this ``serve``'s group can name it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from calltape.worker import Worker

log = logging.getLogger(__name__)

TIMEOUT = 5.0
Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def control_address(worker: Worker, index: int) -> str:
    """Worker *index*'s control socket (abstract: starts with a NUL)."""
    return f"\0calltape-control-{worker.group}-{index}"


class ControlServer:
    """This worker's answers to the others' questions."""

    def __init__(self, worker: Worker, handler: Handler) -> None:
        self.address = control_address(worker, worker.index)
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.address)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock)

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await asyncio.wait_for(reader.readline(), TIMEOUT))
            answer = await self.handler(request)
            writer.write(json.dumps({"answer": answer}).encode() + b"\n")
            await writer.drain()
        except Exception as exc:  # a bad or slow question: the asker is told
            log.error("worker control: %r", exc)
            writer.write(json.dumps({"error": repr(exc)}).encode() + b"\n")
        finally:
            writer.close()


async def ask(worker: Worker, index: int, request: dict[str, Any]) -> Any:
    """Worker *index*'s answer to *request* (RuntimeError if it has none in time)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, control_address(worker, index)), TIMEOUT)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise RuntimeError(f"worker {index} does not answer: {exc!r}") from exc
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        reply = json.loads(await asyncio.wait_for(reader.readline(), TIMEOUT))
    finally:
        writer.close()
    if "error" in reply:
        raise RuntimeError(f"worker {index}: {reply['error']}")
    return reply["answer"]
