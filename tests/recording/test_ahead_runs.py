"""The pieces of one recording (``recording/ahead_runs.py``): a piece every period; one skipped because every
encoder was busy is tried again soon, not a period later; a spoiled piece ends the run; stop hands back the last."""

from __future__ import annotations

import asyncio

from calltape.recording.ahead_runs import AheadRun
from calltape.recording.encode_job import Ahead, EncodeJob

JOB = EncodeJob("r.capture", "r.mp3", "mp3", 8000, 2)


def test_a_piece_skipped_for_a_busy_pool_is_tried_again_soon_and_stop_returns_the_last_piece() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        asked: list[float] = []
        pieces = iter([None, None, Ahead(0, 1, "PCMU", frames=1), Ahead(0, 2, "PCMU", frames=2)])

        async def run(job: EncodeJob, ahead: Ahead | None) -> Ahead | None:
            asked.append(loop.time())
            return next(pieces, ahead)

        started = loop.time()
        pieces_run = AheadRun(JOB, run, "call-1", period=1.0, retry=0.02)
        while len(asked) < 4:
            await asyncio.sleep(0.01)
        last = await pieces_run.stop()
        assert asked[0] - started >= 0.45  # the first piece: half a period to a period after the start (staggered)
        assert asked[2] - asked[0] < 0.5  # two skips, each tried again after the retry (a period would take 2 s)
        assert asked[3] - asked[2] >= 0.9  # after a piece: a period
        assert last is not None and last.frames == 2

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
