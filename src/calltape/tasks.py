"""Background tasks that are kept until they finish and whose failures are never lost.

asyncio holds only weak references to tasks, and a task that fails with nobody awaiting it is reported
as "Task exception was never retrieved" at some later moment. :class:`TaskSet` keeps the tasks a part
starts and logs a failure when it happens; :func:`abandon` lets go of a task that is no longer wanted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

log = logging.getLogger(__name__)


class TaskSet:
    """The background tasks of one part (its name is in the log line of a failure)."""

    def __init__(self, name: str, on_done: Callable[[], None] | None = None) -> None:
        self.name = name
        self._on_done = on_done  # called after each task finishes (a worker wakes to start the next)
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run *coro* as a task kept until it finishes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("%s: a background task failed: %r", self.name, error, exc_info=error)
        if self._on_done is not None:
            self._on_done()

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    def cancel(self) -> None:
        """Cancel every task still running."""
        for task in list(self._tasks):
            task.cancel()

    async def wait(self) -> None:
        """Wait until every task has finished (their failures are logged, not raised)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def abandon(task: asyncio.Future[Any]) -> None:
    """Cancel *task* and take its outcome when it comes, whatever it is: nobody will await it."""
    task.cancel()
    task.add_done_callback(_take_outcome)


def _take_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a failure after the cancel is expected and not worth a report
