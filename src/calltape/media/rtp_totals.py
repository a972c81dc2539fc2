"""RTP packet totals for ``/metrics``: live sessions are summed when scraped, ended ones leave their counts here.

Nothing here runs per packet: a session registers when it starts and hands in its counters when it closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class CountsPackets(Protocol):
    """What a session counts (``RtpSession``)."""

    @property
    def packets_in(self) -> int: ...

    @property
    def packets_out(self) -> int: ...

    stats: dict[str, int]


@dataclass(frozen=True)
class RtpCounts:
    """Packets received, sent and given up as lost, since the process started."""

    packets_in: int = 0
    packets_out: int = 0
    lost: int = 0
    sessions: int = 0  # live now
    relay_dropped: int = 0  # received but never sent on: the relaying side was more than 100 ms behind


class RtpTotals:
    """Every live session, and the sums of the ended ones."""

    def __init__(self) -> None:
        self.live: set[CountsPackets] = set()
        self._ended_in = 0
        self._ended_out = 0
        self._ended_lost = 0
        self._ended_dropped = 0

    def opened(self, session: CountsPackets) -> None:
        """*session* started."""
        self.live.add(session)

    def closed(self, session: CountsPackets) -> None:
        """*session* ended: its counters join the totals (once)."""
        if session in self.live:
            self.live.discard(session)
            self._ended_in += session.packets_in
            self._ended_out += session.packets_out
            self._ended_lost += session.stats["lost"]
            self._ended_dropped += session.stats.get("relay_dropped", 0)

    def counts(self) -> RtpCounts:
        """The totals now (a sum over the live sessions)."""
        live = list(self.live)
        return RtpCounts(
            self._ended_in + sum(s.packets_in for s in live),
            self._ended_out + sum(s.packets_out for s in live),
            self._ended_lost + sum(s.stats["lost"] for s in live),
            len(live),
            self._ended_dropped + sum(s.stats.get("relay_dropped", 0) for s in live),
        )


#: The process's totals (one media stack per process).
RTP_TOTALS = RtpTotals()
