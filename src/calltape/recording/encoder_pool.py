"""A small pool of encoder processes, at a lower priority than the calls.

Encoding runs apart from the event loop and below it (``nice``), so under overload the calls and their
capture keep all their audio and encoding catches up afterwards. The processes start with the server (so
their memory is not counted per call), die with it (``PR_SET_PDEATHSIG``), and are replaced if one dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from calltape.recording import ahead, encoder  # noqa: F401 - loaded in each encoder process as it starts
from calltape.recording.lame import library

log = logging.getLogger(__name__)

T = TypeVar("T")
NICENESS = 10
_PR_SET_PDEATHSIG = 1


def default_size(workers: int = 1) -> int:
    """One encoder per core this process may use (at least one)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _start_encoder() -> None:
    """In each encoder process: below the calls in priority, and gone when the server is."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which ends the pool
    library()  # what encoding needs is loaded now: its memory is the process's from the start, not the first call's


def _ready() -> int:
    return os.getpid()


class EncoderPool:
    """``await pool.run(encode, job)``: the work runs in one of *size* encoder processes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0  # jobs given to the pool and not done yet
        self.closed = False
        self._executor: ProcessPoolExecutor | None = None

    @property
    def idle(self) -> bool:
        """A job given now would start at once (work that can wait is given only then)."""
        return self.busy < self.size and not self.closed

    def start(self) -> None:
        """Start the processes now (in the background), before any call."""
        executor = self._pool()
        for _ in range(self.size):
            executor.submit(_ready)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.size, mp_context=multiprocessing.get_context("spawn"), initializer=_start_encoder
            )
        return self._executor

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the pool; if the pool broke (a process was killed), in a new one."""
        self.busy += 1
        try:
            return await self._run(work, *args)
        finally:
            self.busy -= 1

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        executor = self._pool()
        try:
            return await loop.run_in_executor(executor, work, *args)
        except BrokenProcessPool:
            log.error("an encoder process died: %s runs again in new ones", work.__name__)
            if self._executor is executor:  # the first job to hear of it replaces the pool, once
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self._pool(), work, *args)

    def close(self) -> None:
        """Stop the processes (jobs under way finish first); work that can wait is given no more."""
        self.closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
            self._executor = None
