"""The encoder pool: jobs run in processes of their own at a lower priority, their failures come back as they
were raised, a process that dies is replaced and its job run again, and closing ends the processes."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from pathlib import Path

import pytest

from calltape.recording.encoder_pool import NICENESS, EncoderPool
from tests.recording import encoder_jobs


async def _appears(path: Path, timeout: float = 30.0) -> str:
    async with asyncio.timeout(timeout):
        while not path.exists() or not path.read_text():
            await asyncio.sleep(0.01)
    return path.read_text()


async def test_a_job_runs_in_an_encoder_process_below_the_server_in_priority() -> None:
    pool = EncoderPool(2)
    pool.start()
    try:
        pid, niceness = await pool.run(encoder_jobs.where)
        assert pid in pool.pids and pid != os.getpid()
        assert niceness == min(19, os.nice(0) + NICENESS)
    finally:
        await pool.close()


async def test_many_jobs_on_few_processes_all_come_back_each_with_its_own_answer() -> None:
    pool = EncoderPool(2)
    try:
        answers = await asyncio.gather(*(pool.run(encoder_jobs.square, n) for n in range(50)))
        assert answers == [n * n for n in range(50)]
        assert pool.busy == 0 and len(pool.pids) == 2
    finally:
        await pool.close()


async def test_a_job_s_failure_comes_back_as_it_was_raised_and_the_pool_goes_on() -> None:
    pool = EncoderPool(1)
    try:
        with pytest.raises(OSError) as raised:
            await pool.run(encoder_jobs.fail_with_full_disk, "/spool/x.mp3")
        assert raised.value.errno == errno.ENOSPC and raised.value.filename == "/spool/x.mp3"
        assert any("fail_with_full_disk" in note for note in raised.value.__notes__)  # where, from the encoder
        with pytest.raises(RuntimeError, match="unsendable: its answer cannot be sent"):
            await pool.run(encoder_jobs.unsendable)
        with pytest.raises(Exception, match="pickle"):
            await pool.run(lambda: None)  # a job that cannot be sent: nothing reaches the process
        assert await pool.run(encoder_jobs.square, 7) == 49
    finally:
        await pool.close()


async def test_a_killed_encoder_is_replaced_and_its_job_runs_again_in_the_new_one(tmp_path: Path) -> None:
    pool = EncoderPool(1)
    gate = tmp_path / "gate"
    try:
        job = asyncio.ensure_future(pool.run(encoder_jobs.wait_for, str(gate)))
        first = int(await _appears(Path(str(gate) + ".pid")))
        Path(str(gate) + ".pid").unlink()
        os.kill(first, signal.SIGKILL)
        second = int(await _appears(Path(str(gate) + ".pid")))  # the job started again, elsewhere
        gate.touch()
        assert await job == second != first
        assert pool.pids == [second]
    finally:
        await pool.close()


async def test_jobs_beyond_the_processes_wait_and_none_given_up_on_or_unsendable_holds_the_rest_up(
    tmp_path: Path,
) -> None:
    pool = EncoderPool(1)
    gate = tmp_path / "gate"
    try:
        holding = asyncio.ensure_future(pool.run(encoder_jobs.wait_for, str(gate)))
        await _appears(Path(str(gate) + ".pid"))
        assert not pool.idle
        given_up = asyncio.ensure_future(pool.run(encoder_jobs.wait_for, str(tmp_path / "never")))
        unsendable = asyncio.ensure_future(pool.run(lambda: None))
        waiting = asyncio.ensure_future(pool.run(encoder_jobs.square, 3))
        await asyncio.sleep(0)
        given_up.cancel()
        gate.touch()
        with pytest.raises(Exception, match="pickle"):
            await unsendable
        assert await asyncio.wait_for(waiting, 30) == 9
        assert await holding == pool.pids[0]
        assert not (tmp_path / "never.pid").exists()  # never given to the process
    finally:
        await pool.close()


async def test_closing_waits_for_the_job_under_way_then_ends_the_processes(tmp_path: Path) -> None:
    pool = EncoderPool(2)
    gate = tmp_path / "gate"
    job = asyncio.ensure_future(pool.run(encoder_jobs.wait_for, str(gate)))
    await _appears(Path(str(gate) + ".pid"))
    pids = pool.pids
    closing = asyncio.ensure_future(pool.close())
    await asyncio.sleep(0.05)
    assert not closing.done() and not pool.idle
    gate.touch()
    await closing
    assert await job in pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="closed"):
        await pool.run(encoder_jobs.square, 2)
