"""With ``--workers``, worker 0's ``/metrics`` counts every worker, through prometheus_client's multiprocess mode.

The supervisor empties ``DATA_DIR/run/metrics`` and names it in ``PROMETHEUS_MULTIPROC_DIR`` before it starts the
workers. Once a second each worker writes its figures there (:class:`SharedFigures`: gauges of what it has now,
counters moved on by what it counted since); its delivery-latency histogram lands there as it observes. At each
scrape worker 0 reads them all, summed by the library (:func:`read_shared`). (A worker that dies takes the others
down with it: the supervisor stops them all.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, multiprocess
from prometheus_client.core import Metric

from calltape.media.rtp_totals import RtpCounts

log = logging.getLogger(__name__)

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
_GAUGES = ("calls", "legs", "sessions", "recordings_active")
_COUNTERS = ("packets_in", "packets_out", "lost", "relay_dropped", "delivered", "failed_attempts")


@dataclass(frozen=True)
class Snapshot:
    """One worker's figures (or every worker's, summed)."""

    calls: int
    legs: int
    rtp: RtpCounts
    recordings_active: int
    delivered: int
    failed_attempts: int
    loop_lag_max: float
    frames: dict[str, int] = field(default_factory=dict)  # finished recordings' frames: FrameCounts.flat()
    sip_dropped: dict[str, int] = field(default_factory=dict)  # SIP messages the flood gate dropped, by reason

    def figures(self) -> dict[str, float]:
        """Every figure by its name in the shared files."""
        rtp = self.rtp
        return {
            "calls": self.calls,
            "legs": self.legs,
            "sessions": rtp.sessions,
            "recordings_active": self.recordings_active,
            "packets_in": rtp.packets_in,
            "packets_out": rtp.packets_out,
            "lost": rtp.lost,
            "relay_dropped": rtp.relay_dropped,
            "delivered": self.delivered,
            "failed_attempts": self.failed_attempts,
        }


def shared_directory(data_dir: Path) -> Path:
    """Where the workers' figures are shared."""
    return data_dir / "run" / "metrics"


def prepare(data_dir: Path) -> None:
    """The supervisor, before it starts the workers: an empty directory (what an earlier run left is not this
    run's), named in the environment they inherit."""
    directory = shared_directory(data_dir)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENVIRONMENT] = str(directory)


class SharedFigures:
    """This worker's side: its figures into the shared directory, once a second."""

    def __init__(self) -> None:
        self._gauges = {name: Gauge(f"worker_{name}", name, multiprocess_mode="livesum") for name in _GAUGES}
        self._lag = Gauge("worker_loop_lag_max", "loop lag", multiprocess_mode="livemax")
        self._counters = {name: Counter(f"worker_{name}", name) for name in _COUNTERS}
        self._frames = Counter("worker_frames", "frames", ["key"])
        self._sip_dropped = Counter("worker_sip_dropped", "SIP dropped", ["reason"])
        self._written: dict[str, float] = {}  # what each counter holds (a failed write leaves the rest as they were)

    def write(self, now: Snapshot) -> None:
        """Gauges set to *now*; counters moved on by what was counted since the last write."""
        figures = now.figures()
        for name, metric in self._gauges.items():
            metric.set(figures[name])
        self._lag.set(now.loop_lag_max)
        counted = [(name, figures[name], self._counters[name]) for name in _COUNTERS]
        counted += [(f"frames.{key}", value, self._frames.labels(key)) for key, value in now.frames.items()]
        counted += [(f"sip.{key}", value, self._sip_dropped.labels(key)) for key, value in now.sip_dropped.items()]
        for name, value, counter in counted:
            if value > self._written.get(name, 0):
                counter.inc(value - self._written.get(name, 0))
                self._written[name] = value

    async def publish(self, take: Callable[[], Snapshot], interval: float = 1.0) -> None:
        """:meth:`write` every *interval* seconds until cancelled."""
        while True:
            try:
                self.write(take())
            except OSError as exc:
                log.warning("cannot write the worker's metrics: %s", exc)
            await asyncio.sleep(interval)


def read_shared(directory: Path, keep: Collection[str] = ()) -> tuple[Snapshot, list[Metric]]:
    """Every worker's figures, summed; and the families named in *keep* found there (histograms: the library sums
    them as the workers observe)."""
    registry = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
    values: dict[str, float] = {}
    frames: dict[str, int] = {}
    sip_dropped: dict[str, int] = {}
    others: list[Metric] = []
    for family in registry.collect():
        if not family.name.startswith("worker_"):
            if family.name in keep:
                others.append(family)
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if family.name == "worker_frames":
                frames[sample.labels["key"]] = int(sample.value)
            elif family.name == "worker_sip_dropped":
                sip_dropped[sample.labels["reason"]] = int(sample.value)
            else:
                values[family.name.removeprefix("worker_")] = sample.value
    count = {name: int(values.get(name, 0)) for name in (*_GAUGES, *_COUNTERS)}
    snapshot = Snapshot(
        calls=count["calls"],
        legs=count["legs"],
        rtp=RtpCounts(
            count["packets_in"], count["packets_out"], count["lost"], count["sessions"], count["relay_dropped"]
        ),
        recordings_active=count["recordings_active"],
        delivered=count["delivered"],
        failed_attempts=count["failed_attempts"],
        loop_lag_max=values.get("loop_lag_max", 0.0),
        frames=frames,
        sip_dropped=sip_dropped,
    )
    return snapshot, others
