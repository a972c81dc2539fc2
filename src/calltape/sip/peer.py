"""Where a SIP message came from or goes to."""

from __future__ import annotations

from typing import NamedTuple


class Peer(NamedTuple):
    """Where a message came from or goes to."""

    transport: str  # "udp" or "tcp"
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        """True for stream transports (no retransmission timers needed)."""
        return self.transport != "udp"
