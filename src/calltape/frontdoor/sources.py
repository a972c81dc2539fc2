"""Where a request really came from: its sender, or — behind an edge proxy of ours — the address the edge says.

The edge (Kamailio as ``calltape edge-config`` renders it) forwards every new request with ``X-Calltape-Source``
naming the address it came from, having removed any such header the sender put there. The header is believed
only from ``--edges`` (the edges' addresses): from anyone else it is ignored, so a phone cannot claim a
carrier's address. What the source decides: trusted networks, devices known by address, the failed-login
throttle, and the log lines about them.
"""

from __future__ import annotations

import ipaddress
import logging

from calltape.logs import throttle
from calltape.sip.message import Request
from calltape.sip.peer import Peer

log = logging.getLogger(__name__)

SOURCE_HEADER = "X-Calltape-Source"


class Sources:
    """The real source of each request, given the edges' networks."""

    def __init__(self, edges: tuple[str, ...] = ()) -> None:
        self.edges = [ipaddress.ip_network(network) for network in edges]

    def host_of(self, request: Request, peer: Peer) -> str:
        """The address *request* came from: the edge's word for it if *peer* is an edge, else *peer*'s."""
        said = request.headers.get_lines(SOURCE_HEADER)[-1:] if self.edges else []  # the edge's is the last
        if not said or not self.is_edge(peer.host):
            return peer.host
        try:
            return _plain(ipaddress.ip_address(said[0].strip())).compressed
        except ValueError:
            throttle.log(
                log,
                logging.WARNING,
                ("bad-source", peer.host),
                "call-id %s: the edge %s named no address in %s: %r",
                request.call_id,
                peer.host,
                SOURCE_HEADER,
                said,
            )
            return peer.host

    def is_edge(self, host: str) -> bool:
        """*host* is one of the edges."""
        try:
            address = _plain(ipaddress.ip_address(host))
        except ValueError:
            return False
        return any(address in network for network in self.edges)


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 address in its own form, also when a dual-stack socket saw it as ``::ffff:a.b.c.d``."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address
