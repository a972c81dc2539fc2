"""The media clock after the event loop stalls: it catches up tick by tick, and skips ahead after long stalls."""

from __future__ import annotations

import asyncio
import time

from calltape.media.clock import TICK, MediaClock


class Counting:
    def __init__(self) -> None:
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1

    def failed(self, error: Exception) -> None:
        raise AssertionError(error)


async def stall_and_recover(seconds: float) -> tuple[MediaClock, int, float]:
    """Stall the loop for *seconds* while the clock runs; (clock, ticks run after the stall, schedule lag)."""
    clock, stream = MediaClock(), Counting()
    clock.add(stream)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.1)
    before, stalled_at = stream.ticks, loop.time()
    time.sleep(seconds)  # the loop is blocked: no tick can run
    while clock.tick_time < stalled_at + seconds:  # until the schedule is past the stall
        await asyncio.sleep(0.005)
    clock.remove(stream)
    return clock, stream.ticks - before, loop.time() - clock.tick_time


async def test_every_tick_missed_in_a_short_stall_is_still_run() -> None:
    clock, ticks, lag = await stall_and_recover(0.15)
    assert clock.late_skips == 0
    assert ticks >= round(0.15 / TICK)  # the missed ticks, all run after the stall
    assert lag < 0.1  # and the schedule is back in the present


async def test_a_stall_longer_than_the_catch_up_limit_skips_ahead_once() -> None:
    clock, ticks, _ = await stall_and_recover(0.6)
    assert clock.late_skips == 1
    assert ticks < round(0.6 / TICK)  # not a 30-frame burst
