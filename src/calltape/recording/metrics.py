"""Recording metrics (``GET /metrics`` on the API port)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client.core import Metric, SummaryMetricFamily

from calltape.prometheus import counter, gauge, labelled_counter, labelled_gauge
from calltape.recording.placement import LEFT_OUT_REASONS
from calltape.store.recordings import STATES


def recording_families(
    states: Mapping[str, int],
    outbox: int,
    active: int,
    delivered: int,
    failed_attempts: int,
    latencies: Iterable[float],
    *,
    spool_bytes: int | None = None,
    frames: Mapping[str, int] | None = None,
) -> list[Metric]:
    """The recordings by state, what waits for delivery, how deliveries go, and the spool's size (the latency
    histogram is the delivery worker's)."""
    families: list[Metric] = [
        labelled_gauge(
            "calltape_recordings", "Recordings in the store, by state.", "state", {s: states.get(s, 0) for s in STATES}
        ),
        gauge("calltape_recordings_active", "Recordings being made now on this node.", active),
        gauge("calltape_recording_outbox_depth", "Deliveries waiting in the outbox.", outbox),
        counter("calltape_recording_deliveries_total", "Recordings delivered by this node.", delivered),
        counter(
            "calltape_recording_delivery_failures_total", "Delivery attempts that failed on this node.", failed_attempts
        ),
        labelled_counter(
            "calltape_recording_delivery_attempts_total",
            "Delivery attempts made by this node, by outcome.",
            "outcome",
            {"delivered": delivered, "failed": failed_attempts},
        ),
    ]
    if frames is not None:
        families.append(
            labelled_counter(
                "calltape_recording_frames_total",
                "20 ms frames of finished recordings: received by the recorder, and written to the file.",
                "outcome",
                {outcome: frames.get(outcome, 0) for outcome in ("received", "written")},
            )
        )
        families.append(
            labelled_counter(
                "calltape_recording_frames_left_out_total",
                "Frames received but left out of the file, by reason (received = written + left out).",
                "reason",
                {reason: frames.get(f"left_out.{reason}", 0) for reason in LEFT_OUT_REASONS},
            )
        )
        families.append(
            labelled_counter(
                "calltape_recording_mp3_frames_encoded_ahead_total",
                "MP3 frames encoded while their calls went on: kept in the file, or discarded because the file was "
                "made afresh (audio came late into them, or a pause the file leaves out).",
                "outcome",
                {outcome: frames.get(f"encoded_ahead.{outcome}", 0) for outcome in ("kept", "discarded")},
            )
        )
    if spool_bytes is not None:
        families.append(
            gauge("calltape_recording_spool_bytes", "Bytes of recordings on disk in the spool.", spool_bytes)
        )
    ordered = sorted(latencies)
    if ordered:
        summary = SummaryMetricFamily(
            "calltape_recording_delivery_seconds",
            "Hangup to delivery, over the last 1,000 deliveries.",
            count_value=len(ordered),
            sum_value=sum(ordered),
        )
        for q in (0.5, 0.9, 0.99):
            summary.add_sample(summary.name, {"quantile": str(q)}, round(_quantile(ordered, q), 3))
        families.append(summary)
    return families


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spool_bytes(spool_dir: Path) -> int:
    """Bytes of every file under *spool_dir* (run it in a thread: it walks the directory)."""
    total = 0
    for root, _dirs, files in os.walk(spool_dir):
        for name in files:
            with contextlib.suppress(OSError):  # delivered and deleted meanwhile
                total += os.stat(os.path.join(root, name)).st_size
    return total
