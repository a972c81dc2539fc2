"""/metrics as Prometheus reads it: the families' samples (parsed by prometheus_client's own text parser, not ours),
the histogram's cumulative buckets, the recording and node families."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from calltape.media.rtp_totals import RtpCounts
from calltape.node_metrics import NodeFacts, node_families
from calltape.prometheus import exposition, histogram, labelled_gauge
from calltape.recording.metrics import recording_families, spool_bytes


def _samples(text: str) -> dict[str, float]:
    """``name{label="value",…}`` → value, for every sample of *text*."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return found


def test_histogram_buckets_are_cumulative_and_end_with_inf() -> None:
    h = histogram("x_seconds", "X.", [1.0, 0.25, 5.0])
    for value in (0.1, 0.25, 0.3, 4.0, 60.0):
        h.observe(value)
    text = exposition(h.collect())
    assert "# HELP x_seconds X.\n# TYPE x_seconds histogram\n" in text
    s = _samples(text)
    assert s['x_seconds_bucket{le="0.25"}'] == 2  # le: at or under the bound
    assert s['x_seconds_bucket{le="1.0"}'] == 3
    assert s['x_seconds_bucket{le="5.0"}'] == 4
    assert s['x_seconds_bucket{le="+Inf"}'] == 5
    assert s["x_seconds_sum"] == 64.65 and s["x_seconds_count"] == 5
    assert "_created" not in text


def test_label_values_are_escaped() -> None:
    text = exposition([labelled_gauge("m", "M.", "k", {'a"b\\c\nd': 1})])
    assert 'm{k="a\\"b\\\\c\\nd"} 1.0' in text
    assert _samples(text) == {'m{k="a"b\\c\nd"}': 1}  # read back whole


def test_recording_metrics_have_states_attempts_spool_and_both_latency_views() -> None:
    latency = histogram("calltape_recording_delivery_latency_seconds", "L.", [1.0, 10.0])
    latency.observe(0.4)
    families = recording_families({"failed": 2, "delivered": 7}, 3, 1, 7, 4, [0.4, 0.5], spool_bytes=12345)
    text = exposition([*families, *latency.collect()])
    s = _samples(text)
    assert s['calltape_recordings{state="failed"}'] == 2 and s['calltape_recordings{state="discarded"}'] == 0
    assert s['calltape_recording_delivery_attempts_total{outcome="delivered"}'] == 7
    assert s['calltape_recording_delivery_attempts_total{outcome="failed"}'] == 4
    assert s["calltape_recording_outbox_depth"] == 3 and s["calltape_recordings_active"] == 1
    assert s["calltape_recording_spool_bytes"] == 12345
    assert s['calltape_recording_delivery_latency_seconds_bucket{le="1.0"}'] == 1
    assert s['calltape_recording_delivery_seconds{quantile="0.5"}'] == 0.5
    assert s["calltape_recording_delivery_seconds_count"] == 2
    assert "# TYPE calltape_recording_delivery_latency_seconds histogram" in text
    assert text.endswith("\n")


def test_node_metrics() -> None:
    facts = NodeFacts(
        calls=2,
        legs=3,
        registrations=5,
        rtp=RtpCounts(1000, 990, 4, 3),
        loop_lag=0.002,
        loop_lag_max=0.25,
        node="media-2",
        draining=True,
    )
    s = _samples(exposition(node_families(facts)))
    assert s['calltape_node_info{node="media-2"}'] == 1 and s["calltape_node_draining"] == 1
    assert s["calltape_calls_active"] == 2 and s["calltape_legs_active"] == 3
    assert s["calltape_registrations"] == 5 and s["calltape_rtp_sessions_active"] == 3
    assert s["calltape_rtp_packets_received_total"] == 1000 and s["calltape_rtp_packets_sent_total"] == 990
    assert s["calltape_rtp_packets_lost_total"] == 4
    assert s["calltape_event_loop_lag_seconds"] == 0.002 and s["calltape_event_loop_lag_max_seconds"] == 0.25


def test_spool_bytes_walks_the_spool(tmp_path: Path) -> None:
    assert spool_bytes(tmp_path / "missing") == 0
    (tmp_path / "acc").mkdir()
    (tmp_path / "acc" / "a.mp3").write_bytes(b"x" * 1000)
    (tmp_path / "b.wav").write_bytes(b"x" * 44)
    assert spool_bytes(tmp_path) == 1044
