"""RTP totals: live sessions summed when asked, ended ones kept (once)."""

from __future__ import annotations

from dataclasses import dataclass, field

from calltape.media.rtp_totals import RtpCounts, RtpTotals


@dataclass(eq=False)
class FakeSession:
    packets_in: int = 0
    packets_out: int = 0
    stats: dict[str, int] = field(default_factory=lambda: {"lost": 0})


def test_live_sessions_are_summed_and_ended_ones_keep_their_counts() -> None:
    totals = RtpTotals()
    a, b = FakeSession(), FakeSession()
    totals.opened(a)
    totals.opened(b)
    a.packets_in, a.packets_out, a.stats["lost"], a.stats["relay_dropped"] = 100, 90, 2, 3
    b.packets_in, b.packets_out = 10, 20
    assert totals.counts() == RtpCounts(110, 110, 2, 2, relay_dropped=3)
    totals.closed(a)
    totals.closed(a)  # closing twice counts once
    a.packets_in = 999  # after its end, a session no longer counts
    assert totals.counts() == RtpCounts(110, 110, 2, 1, relay_dropped=3)
    totals.closed(b)
    assert totals.counts() == RtpCounts(110, 110, 2, 0, relay_dropped=3)
    totals.closed(FakeSession(packets_in=5))  # never opened: nothing to add
    assert totals.counts().packets_in == 110
