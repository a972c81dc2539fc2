"""Each MP3 recording encoded ahead while its call goes on (``ahead.py``): a task per recording runs a piece in
an encoder every ``PERIOD`` seconds, the first after one to two periods (staggered across recordings), and, when the
call ends, hands the final encode what the file holds so far."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable

from calltape.recording.encode_job import Ahead, EncodeJob

log = logging.getLogger(__name__)

#: seconds between pieces of one recording: a piece costs ~1 CPU-ms besides its audio (5 s: half again as many
#: pieces; 10 s: the tail left at a hang-up made a burst of 500 late on a slower machine). The first comes after
#: 1-2 periods, not 0.5-1: one piece fewer per call (30-s MP3 calls: 43.6 -> 41.8 CPU-ms, five alternated pairs),
#: the same tail for calls past 2 periods, and 500 calls of 12 s still delivered at p99 0.034 s.
PERIOD = 7.5
Runner = Callable[[EncodeJob, Ahead | None], Awaitable[Ahead | None]]  # a piece, in an encoder (None: not now)


class AheadRun:
    """The pieces of one recording (started at once, in the background)."""

    def __init__(self, job: EncodeJob, run: Runner, call_id: str, period: float = PERIOD) -> None:
        self.job = job
        self.call_id = call_id
        self._run = run
        self._period = period
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._pieces())

    async def stop(self) -> Ahead | None:
        """The call ended: the piece under way finishes, no other starts; what the file holds (None: nothing
        usable, the final encode makes the whole file)."""
        self._stop.set()
        return await self._task

    async def _pieces(self) -> Ahead | None:
        ahead: Ahead | None = None
        wait = self._period * (1 + (zlib.crc32(self.job.output.encode()) % 1000) / 1000)  # staggered
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            if self._stop.is_set():
                return ahead
            try:
                ahead = await self._run(self.job, ahead) or ahead
            except Exception as exc:  # a full disk, a pool that broke: the final encode does it all
                log.warning("call-id %s: %s is no longer encoded ahead (%r)", self.call_id, self.job.output, exc)
                return None
            if ahead is not None and ahead.spoiled:
                return ahead
            wait = self._period
