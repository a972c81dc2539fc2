"""The receiver's metrics (``GET /metrics``): what it stored, what it refused, how long uploads took."""

from __future__ import annotations

from collections import Counter

from calltape.prometheus import counter, exposition, histogram, labelled_counter

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ReceiverMetrics:
    """Counters and a latency histogram, rendered for ``GET /metrics``."""

    def __init__(self) -> None:
        self.stored = 0
        self.duplicates = 0
        self.bytes = 0
        self.rejected: Counter[str] = Counter()
        self.latency = histogram("calltape_receiver_upload_seconds", "Time to receive and store an upload.", BUCKETS)

    def observe(self, seconds: float) -> None:
        """Record one upload's duration."""
        self.latency.observe(seconds)

    def render(self) -> str:
        """The exposition text."""
        return exposition(
            [
                counter("calltape_receiver_stored_total", "Recordings stored (new files).", self.stored),
                counter(
                    "calltape_receiver_duplicates_total", "Uploads identical to a stored recording.", self.duplicates
                ),
                counter("calltape_receiver_bytes_total", "Bytes of recordings stored.", self.bytes),
                labelled_counter(
                    "calltape_receiver_rejected_total", "Uploads refused, by reason.", "reason", dict(self.rejected)
                ),
                *self.latency.collect(),
            ]
        )
