"""A small pool of encoder processes, at a lower priority than the calls.

Encoding runs apart from the event loop and below it (``nice``), so under overload the calls and their
capture keep all their audio and encoding catches up afterwards. The processes start with the server (so
their memory is not counted per call), die with it (``PR_SET_PDEATHSIG``), and are replaced if one dies.

Each process has a pipe of its own that the event loop reads itself: a job costs one pickle each way and no
thread hand-over (``concurrent.futures.ProcessPoolExecutor`` spent ~0.2 CPU-ms per job in its two threads, and
an MP3 recording of 30 s is ~7 jobs). A process holds one job at a time; the others wait in the pool's queue,
so a long encode holds up no job while another process is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from calltape.recording import ahead, encoder  # noqa: F401 - loaded in each encoder process as it starts
from calltape.recording.lame import library

log = logging.getLogger(__name__)

T = TypeVar("T")
NICENESS = 10
_PR_SET_PDEATHSIG = 1
_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of the server's loop or sockets


class EncoderDiedError(Exception):
    """An encoder process ended while it held a job."""


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


def _serve(conn: Connection) -> None:
    """An encoder process: run each job the pipe brings, send back (True, result) or (False, exception)."""
    _start_encoder()
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the server closed its end
            return
        if message is None:
            return
        work, args = message
        try:
            answer: tuple[bool, Any] = (True, work(*args))
        except BaseException as exc:
            exc.add_note(traceback.format_exc())  # notes are pickled with it: the server's log shows where
            _drop_tracebacks(exc)
            answer = (False, exc)
        try:
            conn.send(answer)
        except OSError:  # the server closed its end meanwhile
            return
        except Exception as exc:  # the answer does not pickle: say so instead (the pipe is untouched)
            unsent = RuntimeError(f"{getattr(work, '__name__', work)}: its answer cannot be sent: {exc!r}")
            with contextlib.suppress(OSError):
                conn.send((False, unsent))
        del message, work, args, answer  # nothing of this job outlives it


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Free the frames a failed job's exceptions hold, now: a file a frame still holds open (a half-made WAV) would
    otherwise be closed by the garbage collector during a later job, writing to a path the retry has made anew."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__


@dataclass
class _Job:
    work: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class _EncoderProcess:
    """One encoder process, the pipe to it, and the job it holds."""

    def __init__(self) -> None:
        self.conn, child = _SPAWN.Pipe()
        self.child = _SPAWN.Process(target=_serve, args=(child,), name="calltape-encoder", daemon=True)
        self.child.start()
        child.close()
        self.job: _Job | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop that reads its pipe, once it had a job


class EncoderPool:
    """``await pool.run(encode, job)``: the work runs in one of *size* encoder processes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0  # jobs given to the pool and not done yet
        self.closed = False
        self._encoders: list[_EncoderProcess] = []
        self._queue: deque[_Job] = deque()

    @property
    def idle(self) -> bool:
        """A job given now would start at once (work that can wait is given only then)."""
        return self.busy < self.size and not self.closed

    @property
    def pids(self) -> list[int]:
        """The encoder processes' ids."""
        return [p.child.pid for p in self._encoders if p.child.pid is not None]

    def start(self) -> None:
        """Start the processes now (they load in the background), before any call."""
        while len(self._encoders) < self.size:
            self._encoders.append(_EncoderProcess())

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in an encoder process; if the process died meanwhile (killed), again in a new one."""
        self.busy += 1
        try:
            try:
                return await self._submit(work, args)
            except EncoderDiedError:
                log.error("an encoder process died: %s runs again in a new one", getattr(work, "__name__", work))
                return await self._submit(work, args)
        finally:
            self.busy -= 1

    def _submit(self, work: Callable[..., T], args: tuple[Any, ...]) -> asyncio.Future[T]:
        if self.closed:
            raise RuntimeError("the encoder pool is closed")
        self.start()
        job = _Job(work, args, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._dispatch()
        return job.future

    def _dispatch(self) -> None:
        """Give each free process the next job waiting (one given up on is dropped)."""
        for process in self._encoders:
            while process.job is None and self._queue:  # a job that cannot be sent leaves the process free
                job = self._queue.popleft()
                if not job.future.done():
                    self._give(process, job)

    def _give(self, process: _EncoderProcess, job: _Job) -> None:
        try:
            message = pickle.dumps((job.work, job.args), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the job's own fault: nothing was sent
            job.future.set_exception(exc)
            return
        if process.loop is None:
            process.loop = asyncio.get_running_loop()
            process.loop.add_reader(process.conn.fileno(), self._answered, process)
        elif process.loop is not asyncio.get_running_loop():  # its answers would never be read
            job.future.set_exception(RuntimeError("an encoder pool serves the event loop it was first used on"))
            return
        process.job = job
        try:
            process.conn.send_bytes(message)  # small, and the pipe is empty: it does not block
        except OSError:
            self._died(process)

    def _answered(self, process: _EncoderProcess) -> None:
        try:
            message = process.conn.recv_bytes()
        except (EOFError, OSError):
            self._died(process)
            return
        job, process.job = process.job, None
        try:
            ok, value = pickle.loads(message)
        except Exception as exc:
            ok, value = False, RuntimeError(f"an encoder's answer cannot be read: {exc!r}")
        if job is not None and not job.future.done():
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        self._dispatch()

    def _died(self, process: _EncoderProcess) -> None:
        """*process* is gone: its job fails (and is run again by ``run``), a new process takes its place."""
        self._forget(process)
        job, process.job = process.job, None
        if job is not None and not job.future.done():
            job.future.set_exception(EncoderDiedError(f"encoder process {process.child.pid} died"))
        if not self.closed:
            self.start()
            self._dispatch()
        elif not self._encoders:  # closing, and no process is left for what waits
            for waiting in self._queue:
                if not waiting.future.done():
                    waiting.future.set_exception(EncoderDiedError("the encoder processes ended"))
            self._queue.clear()

    def _forget(self, process: _EncoderProcess) -> None:
        if process in self._encoders:
            self._encoders.remove(process)
        if process.loop is not None and not process.conn.closed:
            process.loop.remove_reader(process.conn.fileno())
        process.conn.close()
        process.child.join(0)  # reaped now if it has ended (else by the next process started)

    async def close(self) -> None:
        """Stop the processes (jobs under way finish first); work that can wait is given no more."""
        self.closed = True
        held = [p.job.future for p in self._encoders if p.job is not None] + [j.future for j in self._queue]
        if held:
            await asyncio.wait(held)  # not gather: a stop that is cancelled must not cancel the recordings' jobs
        encoders, self._encoders = self._encoders, []
        for process in encoders:
            with contextlib.suppress(OSError):
                process.conn.send(None)
            self._forget(process)
        await asyncio.to_thread(_join, encoders)


def _join(processes: list[_EncoderProcess]) -> None:
    for process in processes:
        process.child.join()
    _SPAWN.active_children()  # reaps any that died earlier and were not reaped yet
