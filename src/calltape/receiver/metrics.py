"""Prometheus text-format metrics for the receiver."""

from __future__ import annotations

from collections import Counter

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ReceiverMetrics:
    """Counters and a latency histogram, rendered for ``GET /metrics``."""

    def __init__(self) -> None:
        self.stored = 0
        self.duplicates = 0
        self.bytes = 0
        self.rejected: Counter[str] = Counter()
        self._bucket_counts = [0] * len(BUCKETS)
        self._latency_sum = 0.0
        self._latency_count = 0

    def observe(self, seconds: float) -> None:
        """Record one upload's duration."""
        self._latency_sum += seconds
        self._latency_count += 1
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self._bucket_counts[i] += 1

    def render(self) -> str:
        """The exposition text."""
        lines = [
            "# HELP calltape_receiver_stored_total Recordings stored (new files).",
            "# TYPE calltape_receiver_stored_total counter",
            f"calltape_receiver_stored_total {self.stored}",
            "# HELP calltape_receiver_duplicates_total Uploads identical to a stored recording.",
            "# TYPE calltape_receiver_duplicates_total counter",
            f"calltape_receiver_duplicates_total {self.duplicates}",
            "# HELP calltape_receiver_bytes_total Bytes of recordings stored.",
            "# TYPE calltape_receiver_bytes_total counter",
            f"calltape_receiver_bytes_total {self.bytes}",
            "# HELP calltape_receiver_rejected_total Uploads refused, by reason.",
            "# TYPE calltape_receiver_rejected_total counter",
        ]
        lines += [f'calltape_receiver_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(self.rejected.items())]
        lines += [
            "# HELP calltape_receiver_upload_seconds Time to receive and store an upload.",
            "# TYPE calltape_receiver_upload_seconds histogram",
        ]
        buckets = zip(BUCKETS, self._bucket_counts, strict=True)
        lines += [f'calltape_receiver_upload_seconds_bucket{{le="{b}"}} {n}' for b, n in buckets]
        lines += [
            f'calltape_receiver_upload_seconds_bucket{{le="+Inf"}} {self._latency_count}',
            f"calltape_receiver_upload_seconds_sum {self._latency_sum:.6f}",
            f"calltape_receiver_upload_seconds_count {self._latency_count}",
        ]
        return "\n".join(lines) + "\n"
