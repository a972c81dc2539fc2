"""Waiting on something while a call may end meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable
from typing import TypeVar

from calltape.switch.call_types import CallEndedError
from calltape.tasks import abandon

T = TypeVar("T")


async def unless_ended(ended: asyncio.Event, awaitable: Awaitable[T]) -> T:
    """Await *awaitable* unless *ended* is set first (then CallEndedError, and *awaitable* is cancelled)."""
    if ended.is_set():
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # never started: closed, so it is not reported as never awaited
        raise CallEndedError()
    task = asyncio.ensure_future(awaitable)
    waiting = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # the callflow itself was cancelled (at shutdown): what it awaited goes too
        abandon(task)
        raise
    finally:
        waiting.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise CallEndedError()
    return task.result()
