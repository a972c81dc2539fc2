"""``/metrics`` through prometheus_client: gauges and counters are families built at scrape time from what the node
knows (nothing is counted through the library per packet), histograms are observed as things happen, and the
library writes Prometheus' text format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# no ``_created`` series: the names and samples are what they were
disable_created_metrics()  # type: ignore[no-untyped-call]
F = TypeVar("F", GaugeMetricFamily, CounterMetricFamily)


def gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    """A gauge of one sample."""
    return GaugeMetricFamily(name, help_text, value=value)


def labelled_gauge(name: str, help_text: str, label: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    """A gauge with a sample per value of *label*."""
    return _with_samples(GaugeMetricFamily(name, help_text, labels=[label]), values)


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    """A counter of one sample (*name* ends in ``_total``)."""
    return CounterMetricFamily(name, help_text, value=value)


def labelled_counter(name: str, help_text: str, label: str, values: Mapping[str, float]) -> CounterMetricFamily:
    """A counter with a sample per value of *label*."""
    return _with_samples(CounterMetricFamily(name, help_text, labels=[label]), values)


def _with_samples(family: F, values: Mapping[str, float]) -> F:
    for key, value in values.items():
        family.add_metric([key], value)
    return family


def histogram(name: str, help_text: str, buckets: Sequence[float]) -> Histogram:
    """A histogram of this process's observations (with ``--workers``, summed over the workers by the library's
    multiprocess mode); it is not registered anywhere: its owner hands its families to :func:`exposition`."""
    return Histogram(name, help_text, buckets=sorted(buckets), registry=None)


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(families: Iterable[Metric]) -> str:
    """*families* in Prometheus' text format (0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode()
