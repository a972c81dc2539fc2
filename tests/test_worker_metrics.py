"""Worker 0's /metrics with --workers: each worker's figures through prometheus_client's multiprocess files, summed
(real processes, each writing as a worker does)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from calltape.media.rtp_totals import RtpCounts
from calltape.worker_metrics import ENVIRONMENT, Snapshot, prepare, read_shared, shared_directory

LATENCY = "calltape_recording_delivery_latency_seconds"


def snap(calls: int, lag: float, frames: int = 0) -> Snapshot:
    rtp = RtpCounts(100 * calls, 90 * calls, calls, calls, 3)
    return Snapshot(calls, 2 * calls, rtp, calls, 7, 1, lag, {"received": frames} if frames else {})


def _worker(snapshots: list[Snapshot], latencies: list[float]) -> None:
    """A worker: writes each snapshot in turn (its counters only ever grow) and observes its deliveries."""
    from calltape.prometheus import histogram
    from calltape.worker_metrics import SharedFigures

    figures = SharedFigures()
    for snapshot in snapshots:
        figures.write(snapshot)
    latency = histogram(LATENCY, "L.", [1.0, 10.0])
    for seconds in latencies:
        latency.observe(seconds)


def _run(*workers: tuple[list[Snapshot], list[float]]) -> None:
    context = multiprocessing.get_context("spawn")  # as the supervisor starts workers: the environment inherited
    for args in workers:
        process = context.Process(target=_worker, args=args)
        process.start()
        process.join(30)
        assert process.exitcode == 0


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENVIRONMENT, "")  # so that it is taken away again afterwards
    (shared_directory(tmp_path) / "stale.db").parent.mkdir(parents=True)
    (shared_directory(tmp_path) / "stale.db").write_bytes(b"from an earlier run")
    prepare(tmp_path)
    assert os.environ[ENVIRONMENT] == str(shared_directory(tmp_path))
    assert list(shared_directory(tmp_path).iterdir()) == []  # an earlier run's figures are not this run's
    return shared_directory(tmp_path)


def test_the_workers_figures_are_summed_and_their_histograms_merged(shared: Path) -> None:
    _run(([snap(1, 0.1), snap(3, 0.2, frames=50)], [0.4]), ([snap(5, 0.7, frames=20)], [0.5, 20.0]))
    total, kept = read_shared(shared, keep=[LATENCY])
    assert (total.calls, total.legs, total.recordings_active, total.delivered) == (8, 16, 8, 14)
    assert total.rtp == RtpCounts(800, 720, 8, 8, 6)  # counters: what each counted (300 + 500 received)
    assert total.loop_lag_max == 0.7 and total.frames == {"received": 70}
    [latency] = kept
    buckets = {sample.labels.get("le"): sample.value for sample in latency.samples if sample.name.endswith("_bucket")}
    assert buckets == {"1.0": 2, "10.0": 2, "+Inf": 3}
    assert read_shared(shared)[1] == []  # only the families asked for
