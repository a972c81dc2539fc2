"""The fuzzing campaign in short (10^4 messages; bench/fuzz/run.py sends 10^6): the server shrugs it off.

Mutated real traffic, RFC 4475's messages and grammar-built ones over UDP and TCP, garbage RTP into
answered calls, while OPTIONS probes and real calls with audio run alongside.
"""

from __future__ import annotations

from pathlib import Path

from bench.fuzz.campaign import Settings, run_campaign


def test_ten_thousand_hostile_messages(tmp_path: Path) -> None:
    report = run_campaign(Settings(datagrams=10_000, rate=3000, real_call_interval=0.5, grace=15), tmp_path)
    assert report.datagrams + report.tcp_messages == 10_000
    assert report.invites_trying > 50 and report.finals.get("200", 0) > 0  # it reached calls, not just the parser
    assert report.rtp_packets > 0
    # RSS flatness needs a run longer than warm-up, and a few seconds cannot average the log rate: the
    # full run holds those bars; here the log may not grow by more than a line a second per kind of event.
    # Every OPTIONS probe must be answered; how fast is the bench's bar (four test workers share two cores here).
    assert report.failures(rss_growth_mb=1e9, log_lines_per_s=15, probe_latency=False) == []
