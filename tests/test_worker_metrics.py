"""Worker snapshots for worker 0's /metrics: written whole, read while fresh, summed."""

from __future__ import annotations

import time
from pathlib import Path

from calltape.media.rtp_totals import RtpCounts
from calltape.worker_metrics import MAX_AGE, Snapshot, combine, read_fresh, snapshot_path, write


def snap(calls: int, lag: float) -> Snapshot:
    return Snapshot(calls, 2 * calls, RtpCounts(100 * calls, 90 * calls, calls, calls, 3), calls, 7, 1, lag)


def test_fresh_snapshots_are_read_back_and_summed(tmp_path: Path) -> None:
    write(snapshot_path(tmp_path, 1), snap(3, 0.2))
    write(snapshot_path(tmp_path, 2), snap(5, 0.7))
    paths = [snapshot_path(tmp_path, i) for i in (1, 2, 3)]  # worker 3 never wrote one
    found = read_fresh(paths, time.time())
    assert found == [snap(3, 0.2), snap(5, 0.7)]
    total = combine([snap(1, 0.1), *found])
    assert (total.calls, total.legs, total.recordings_active, total.delivered) == (9, 18, 9, 21)
    assert total.rtp == RtpCounts(900, 810, 9, 9, 9)
    assert total.loop_lag_max == 0.7


def test_a_stale_or_torn_snapshot_is_left_out(tmp_path: Path) -> None:
    write(snapshot_path(tmp_path, 1), snap(3, 0.2))
    snapshot_path(tmp_path, 2).write_text('{"calls": 1')  # torn: not JSON
    assert read_fresh([snapshot_path(tmp_path, 1)], time.time() + MAX_AGE + 1) == []  # the worker is gone
    assert read_fresh([snapshot_path(tmp_path, 2)], time.time()) == []
