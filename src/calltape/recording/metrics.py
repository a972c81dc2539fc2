"""Recording metrics in Prometheus' text format (``GET /metrics`` on the API port)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from calltape.store.recordings import STATES


def render(
    states: Mapping[str, int],
    outbox: int,
    active: int,
    delivered: int,
    failed_attempts: int,
    latencies: Iterable[float],
) -> str:
    """The recordings by state, what waits for delivery, and how deliveries go."""
    lines = [
        "# HELP calltape_recordings Recordings in the store, by state.",
        "# TYPE calltape_recordings gauge",
        *(f'calltape_recordings{{state="{state}"}} {states.get(state, 0)}' for state in STATES),
        "# HELP calltape_recordings_active Recordings being made now on this node.",
        "# TYPE calltape_recordings_active gauge",
        f"calltape_recordings_active {active}",
        "# HELP calltape_recording_outbox_depth Deliveries waiting in the outbox.",
        "# TYPE calltape_recording_outbox_depth gauge",
        f"calltape_recording_outbox_depth {outbox}",
        "# HELP calltape_recording_deliveries_total Recordings delivered by this node.",
        "# TYPE calltape_recording_deliveries_total counter",
        f"calltape_recording_deliveries_total {delivered}",
        "# HELP calltape_recording_delivery_failures_total Delivery attempts that failed on this node.",
        "# TYPE calltape_recording_delivery_failures_total counter",
        f"calltape_recording_delivery_failures_total {failed_attempts}",
    ]
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
