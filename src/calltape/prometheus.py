"""Prometheus' text exposition format (0.0.4): metric families, and a cumulative histogram."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def _value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(round(value, 6))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    """One metric family: its HELP and TYPE lines, then a line per (labels, value)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(labels)} {_value(value)}" for labels, value in samples]
    return lines


def single(name: str, kind: str, help_text: str, value: float) -> list[str]:
    """A family of one unlabelled sample."""
    return family(name, kind, help_text, [({}, value)])


class Histogram:
    """Counts of observations at or under each bound, their sum and count, since the process started."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * len(self.bounds)  # per bucket (not cumulative): one increment per observation
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                return

    def lines(self, name: str, help_text: str) -> list[str]:
        """The family: cumulative ``_bucket`` lines (``le``, ending with ``+Inf``), ``_sum`` and ``_count``."""
        out = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        running = 0
        for bound, n in zip(self.bounds, self.counts, strict=True):
            running += n
            out.append(f'{name}_bucket{{le="{_value(float(bound))}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out += [f"{name}_sum {_value(self.sum)}", f"{name}_count {self.count}"]
        return out
