"""The pieces of one recording (``recording/ahead_runs.py``): the first after a period or more, then one every
period; one skipped because every encoder was busy changes nothing; a spoiled piece ends the run; stop hands back
the last piece."""

from __future__ import annotations

import asyncio

from calltape.recording.ahead_runs import AheadRun
from calltape.recording.encode_job import Ahead, EncodeJob

JOB = EncodeJob("r.capture", "r.mp3", "mp3", 8000, 2)


def test_a_piece_skipped_for_a_busy_pool_keeps_the_last_piece_and_stop_returns_it() -> None:
    async def scenario() -> None:
        asked: list[Ahead | None] = []
        pieces = iter([None, Ahead(0, 1, "PCMU", frames=1), None, None])

        async def run(job: EncodeJob, ahead: Ahead | None) -> Ahead | None:
            asked.append(ahead)
            return next(pieces, None)

        pieces_run = AheadRun(JOB, run, "call-1", period=0.02)
        while len(asked) < 4:
            await asyncio.sleep(0.01)
        last = await pieces_run.stop()
        assert asked[:2] == [None, None]  # nothing yet, and a skip changed nothing
        assert all(ahead is not None and ahead.frames == 1 for ahead in asked[2:])  # each went on from the piece
        assert last is not None and last.frames == 1

    asyncio.run(scenario())


def test_a_spoiled_piece_ends_the_run_with_it() -> None:
    async def scenario() -> None:
        spoiled = Ahead(0, 1, "PCMU", spoiled="a frame came 8 s late")

        async def run(job: EncodeJob, ahead: Ahead | None) -> Ahead | None:
            return spoiled

        pieces_run = AheadRun(JOB, run, "call-1", period=0.05)
        assert await asyncio.wait_for(pieces_run._task, 2) is spoiled
        assert await pieces_run.stop() is spoiled

    asyncio.run(scenario())


def test_the_first_piece_is_tried_no_sooner_than_one_period() -> None:
    """One to two periods (staggered): a try at half a period found little settled and cost a piece more per call."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        tried = asyncio.Event()
        started = loop.time()
        first: list[float] = []

        async def run(job: EncodeJob, ahead: Ahead | None) -> Ahead | None:
            first.append(loop.time() - started)
            tried.set()
            return None

        pieces_run = AheadRun(JOB, run, "call-1", period=0.2)
        await asyncio.wait_for(tried.wait(), 5)
        await pieces_run.stop()
        assert first[0] >= 0.2, first

    asyncio.run(scenario())
