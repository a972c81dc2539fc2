"""The real source of a request behind an edge: the edge's ``X-Calltape-Source``, believed from the edges only.
Requests are hand-written bytes, as an edge and a phone would send them."""

from __future__ import annotations

import pytest

from calltape.frontdoor.sources import Sources
from calltape.sip.message import Request
from calltape.sip.parser import parse_message
from calltape.sip.peer import Peer

EDGE = Peer("udp", "10.0.0.5", 5060)
PHONE = Peer("udp", "198.51.100.7", 5060)


def _invite(*sources: str) -> Request:
    header = "".join(f"X-Calltape-Source: {source}\r\n" for source in sources)
    message = parse_message(
        (
            "INVITE sip:7100@calls.example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKedge1\r\n"
            "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKphone1\r\n"
            "Max-Forwards: 69\r\nFrom: <sip:front@calls.example.com>;tag=f1\r\n"
            "To: <sip:7100@calls.example.com>\r\nCall-ID: source-1\r\nCSeq: 1 INVITE\r\n"
            f"{header}Content-Length: 0\r\n\r\n"
        ).encode()
    )
    assert isinstance(message, Request)
    return message


@pytest.mark.parametrize(
    ("edges", "peer", "said", "source"),
    [
        (("10.0.0.0/24",), EDGE, "203.0.113.9", "203.0.113.9"),  # the edge's word
        (("10.0.0.0/24",), EDGE, " 2001:DB8::1 ", "2001:db8::1"),  # normalised
        (("10.0.0.0/24",), PHONE, "203.0.113.9", "198.51.100.7"),  # a phone cannot claim another address
        ((), EDGE, "203.0.113.9", "10.0.0.5"),  # no edges: nobody's word is taken
        (("10.0.0.0/24",), EDGE, (), "10.0.0.5"),  # the edge said nothing (OPTIONS of its own)
        (("10.0.0.0/24",), EDGE, "not-an-address", "10.0.0.5"),
        (("10.0.0.0/24",), EDGE, ("127.0.0.2", "203.0.113.9"), "203.0.113.9"),  # the edge's own comes last
        (("10.0.0.0/24",), Peer("udp", "::ffff:10.0.0.5", 5060), "::ffff:203.0.113.9", "203.0.113.9"),  # dual stack
    ],
)
def test_the_source_is_the_edges_word_only_from_an_edge(
    edges: tuple[str, ...], peer: Peer, said: str | tuple[str, ...], source: str
) -> None:
    sources = (said,) if isinstance(said, str) else said
    assert Sources(edges).host_of(_invite(*sources), peer) == source
