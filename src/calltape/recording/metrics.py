"""Recording metrics in Prometheus' text format (``GET /metrics`` on the API port)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from calltape.prometheus import Histogram, family, single
from calltape.recording.placement import LEFT_OUT_REASONS
from calltape.store.recordings import STATES

#: Hangup → delivered, in seconds: a healthy node delivers in well under a second; retries take minutes.


def render(
    states: Mapping[str, int],
    outbox: int,
    active: int,
    delivered: int,
    failed_attempts: int,
    latencies: Iterable[float],
    *,
    latency: Histogram | None = None,
    spool_bytes: int | None = None,
    frames: Mapping[str, int] | None = None,
) -> str:
    """The recordings by state, what waits for delivery, how deliveries go, and the spool's size."""
    lines = [
        *family(
            "calltape_recordings",
            "gauge",
            "Recordings in the store, by state.",
            [({"state": state}, states.get(state, 0)) for state in STATES],
        ),
        *single("calltape_recordings_active", "gauge", "Recordings being made now on this node.", active),
        *single("calltape_recording_outbox_depth", "gauge", "Deliveries waiting in the outbox.", outbox),
        *single("calltape_recording_deliveries_total", "counter", "Recordings delivered by this node.", delivered),
        *single(
            "calltape_recording_delivery_failures_total",
            "counter",
            "Delivery attempts that failed on this node.",
            failed_attempts,
        ),
        *family(
            "calltape_recording_delivery_attempts_total",
            "counter",
            "Delivery attempts made by this node, by outcome.",
            [({"outcome": "delivered"}, delivered), ({"outcome": "failed"}, failed_attempts)],
        ),
    ]
    if frames is not None:
        lines += family(
            "calltape_recording_frames_total",
            "counter",
            "20 ms frames of finished recordings: received by the recorder, and written to the file.",
            [({"outcome": outcome}, frames.get(outcome, 0)) for outcome in ("received", "written")],
        )
        lines += family(
            "calltape_recording_frames_left_out_total",
            "counter",
            "Frames received but left out of the file, by reason (received = written + left out).",
            [({"reason": reason}, frames.get(f"left_out.{reason}", 0)) for reason in LEFT_OUT_REASONS],
        )
    if spool_bytes is not None:
        lines += single(
            "calltape_recording_spool_bytes", "gauge", "Bytes of recordings on disk in the spool.", spool_bytes
        )
    if latency is not None:
        lines += latency.lines(
            "calltape_recording_delivery_latency_seconds", "Hangup to delivery, every delivery since the start."
        )
    ordered = sorted(latencies)
    if ordered:
        lines += [
            "# HELP calltape_recording_delivery_seconds Hangup to delivery, over the last 1,000 deliveries.",
            "# TYPE calltape_recording_delivery_seconds summary",
            *(
                f'calltape_recording_delivery_seconds{{quantile="{q}"}} {_quantile(ordered, q):.3f}'
                for q in (0.5, 0.9, 0.99)
            ),
            f"calltape_recording_delivery_seconds_count {len(ordered)}",
        ]
    return "\n".join(lines) + "\n"


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
