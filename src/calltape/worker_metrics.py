"""With ``--workers``, worker 0's ``/metrics`` counts every worker.

Each other worker writes a snapshot of its counters once a second (``DATA_DIR/run/worker-N.json``, replaced
atomically); worker 0 adds the fresh ones (at most a few seconds old) to its own. A worker that stopped
writing drops out of the sums, so a dead worker shows as calls and counters that went missing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from calltape.media.rtp_totals import RtpCounts

log = logging.getLogger(__name__)

MAX_AGE = 5.0  # seconds: an older snapshot belongs to a worker that is gone


@dataclass(frozen=True)
class Snapshot:
    """One worker's counters."""

    calls: int
    legs: int
    rtp: RtpCounts
    recordings_active: int
    delivered: int
    failed_attempts: int
    loop_lag_max: float
    frames: dict[str, int] = field(default_factory=dict)  # finished recordings' frames: FrameCounts.flat()


def snapshot_path(data_dir: Path, index: int) -> Path:
    """Where worker *index* keeps its snapshot."""
    return data_dir / "run" / f"worker-{index}.json"


def write(path: Path, snapshot: Snapshot) -> None:
    """Replace *path* with *snapshot* (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"at": time.time(), **asdict(snapshot)}))
    os.replace(partial, path)


def read_fresh(paths: Iterable[Path], now: float) -> list[Snapshot]:
    """The snapshots at *paths* written less than MAX_AGE ago."""
    found = []
    for path in paths:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if now - raw.pop("at", 0) <= MAX_AGE:
            found.append(Snapshot(**{**raw, "rtp": RtpCounts(**raw["rtp"])}))
    return found


def combine(snapshots: list[Snapshot]) -> Snapshot:
    """The sums (and the worst loop lag) of *snapshots*."""
    return Snapshot(
        calls=sum(s.calls for s in snapshots),
        legs=sum(s.legs for s in snapshots),
        rtp=RtpCounts(
            sum(s.rtp.packets_in for s in snapshots),
            sum(s.rtp.packets_out for s in snapshots),
            sum(s.rtp.lost for s in snapshots),
            sum(s.rtp.sessions for s in snapshots),
            sum(s.rtp.relay_dropped for s in snapshots),
        ),
        recordings_active=sum(s.recordings_active for s in snapshots),
        delivered=sum(s.delivered for s in snapshots),
        failed_attempts=sum(s.failed_attempts for s in snapshots),
        loop_lag_max=max((s.loop_lag_max for s in snapshots), default=0.0),
        frames=dict(sum((Counter(s.frames) for s in snapshots), Counter())),
    )


async def publish(path: Path, take: Callable[[], Snapshot], interval: float = 1.0) -> None:
    """Write this worker's snapshot every *interval* seconds until cancelled."""
    while True:
        try:
            write(path, take())
        except OSError as exc:
            log.warning("cannot write the worker's metrics to %s: %s", path, exc)
        await asyncio.sleep(interval)
