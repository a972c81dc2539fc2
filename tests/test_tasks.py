"""TaskSet keeps background tasks and logs their failures; abandon lets go of a task without a stray report."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from calltape.tasks import TaskSet, abandon


def _unretrieved_reports(loop: asyncio.AbstractEventLoop) -> list[str]:
    reports: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(str(context.get("message"))))
    return reports


def test_a_task_set_keeps_its_tasks_logs_a_failure_and_wakes_its_owner(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> tuple[int, int, list[str]]:
        reports = _unretrieved_reports(asyncio.get_running_loop())
        woken = []
        tasks = TaskSet("test part", on_done=lambda: woken.append(1))
        release = asyncio.Event()

        async def waits() -> None:
            await release.wait()

        async def fails() -> None:
            raise RuntimeError("boom")

        tasks.spawn(waits())
        await asyncio.wait({tasks.spawn(fails())})
        await asyncio.sleep(0)  # its done callbacks run
        running = len(tasks)
        release.set()
        await tasks.wait()
        gc.collect()
        return running, len(woken), reports

    with caplog.at_level(logging.ERROR, logger="calltape.tasks"):
        running, woken, reports = asyncio.run(scenario())
    assert running == 1 and woken == 2
    assert reports == []  # the failure was taken, not left for "never retrieved"
    assert [r.getMessage() for r in caplog.records] == ["test part: a background task failed: RuntimeError('boom')"]


def test_cancel_stops_every_task_and_wait_returns() -> None:
    async def scenario() -> tuple[bool, int]:
        tasks = TaskSet("test part")
        task = tasks.spawn(asyncio.sleep(3600))
        tasks.cancel()
        await tasks.wait()
        return task.cancelled(), len(tasks)

    assert asyncio.run(scenario()) == (True, 0)


def test_an_abandoned_task_that_fails_after_its_cancel_is_not_reported() -> None:
    async def scenario() -> list[str]:
        reports = _unretrieved_reports(asyncio.get_running_loop())

        async def refuses_to_stop() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                raise ValueError("failed while stopping") from None

        task = asyncio.ensure_future(refuses_to_stop())
        await asyncio.sleep(0)
        abandon(task)
        await asyncio.wait({task})
        del task
        gc.collect()
        await asyncio.sleep(0)
        return reports

    assert asyncio.run(scenario()) == []
