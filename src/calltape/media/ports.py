"""The RTP port pool: even ports from ``--rtp-ports``, handed out as bound UDP sockets and given back."""

from __future__ import annotations

import socket


class PortsExhaustedError(RuntimeError):
    """Every port of the range is in use."""


class RtpPortPool:
    """Hands out bound, non-blocking UDP sockets on even ports (the odd one above is left for RTCP)."""

    def __init__(self, host: str, low: int, high: int) -> None:
        self.host = host
        self._ports = list(range(low + (low % 2), high, 2))
        self._next = 0
        self.in_use: set[int] = set()

    @property
    def families(self) -> frozenset[str]:
        """The SDP address families these sockets can send to (``IP4`` or ``IP6``)."""
        return frozenset({"IP6" if ":" in self.host else "IP4"})

    @property
    def usage(self) -> float:
        """The share of the range in use (0 to 1)."""
        return len(self.in_use) / len(self._ports) if self._ports else 1.0

    def acquire(self) -> socket.socket:
        """A socket bound to a free even port."""
        for _ in range(len(self._ports)):
            port = self._ports[self._next]
            self._next = (self._next + 1) % len(self._ports)
            if port in self.in_use:
                continue
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self.in_use.add(port)
            return sock
        raise PortsExhaustedError("no free RTP port")

    def release(self, port: int) -> None:
        """Give a port back."""
        self.in_use.discard(port)
