"""The placement of a batch of received frames: drift is judged however the batch was handed on."""

from __future__ import annotations

import numpy as np

from calltape.media.arrivals import MAX_DRIFT, ArrivalPlacer
from calltape.media.clock import MediaTimeline

FRAME = 160


def test_a_slow_far_end_is_caught_up_even_when_every_batch_is_handed_on_early() -> None:
    """Batches of 49 frames, never the 50 that hand on by count (a recording's flush each second wins the race):
    a far end whose clock is 10 % slow is still moved on, by whole frames, and never overlaps."""
    now = [0.0]
    placer = ArrivalPlacer(MediaTimeline(0.0), lambda: now[0], {"reanchored": 0})
    placed: list[int] = []
    frame = 0
    for _ in range(40):
        first_arrival = now[0]
        timestamps = np.arange(frame, frame + 49, dtype=np.int64) * FRAME
        now[0] += 49 * 0.022  # each 20 ms frame comes 22 ms after the one before
        placed.extend(placer.positions(timestamps, 0x55, first_arrival).tolist())
        frame += 49
    steps = np.diff(placed)
    assert placer.stats["reanchored"] >= 2
    assert steps.min() == FRAME and (steps % FRAME == 0).all()  # whole frames, nothing written over
    behind = MediaTimeline(0.0).position(now[0]) - placed[-1]
    uncorrected = 40 * 49 * 2 * 8  # 2 ms late per frame, in samples (3.9 s)
    assert MAX_DRIFT < behind < 0.6 * uncorrected  # moved on, over DRIFT_WINDOW looks, as the far end drifts
