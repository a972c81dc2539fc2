"""Malformed input never escapes as anything but a clean parse error (or a clean answer)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from calltape.sip.endpoint import SipEndpoint
from calltape.sip.events import Peer
from calltape.sip.framing import FramingError, StreamFramer
from calltape.sip.parser import SipParseError, parse_message
from calltape.sip.validation import Capabilities
from tests.sip.helpers import request_bytes

CAPS = Capabilities(frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"}))
VALID = [request_bytes(m) for m in ("INVITE", "OPTIONS", "REGISTER", "BYE", "CANCEL", "ACK")]


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out)


@settings(max_examples=400)
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8))
def test_mutated_requests_parse_or_fail_cleanly(data: bytes, edits: list[tuple[int, int]]) -> None:
    mutated = _mutate(data, edits)
    with contextlib.suppress(SipParseError):
        parse_message(mutated)
    endpoint = SipEndpoint(CAPS)
    endpoint.receive(mutated, Peer("udp", "192.0.2.1", 5060), 0.0)  # must not raise
    for out, _ in endpoint.datagrams_to_send():
        assert out.startswith(b"SIP/2.0 ")


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    endpoint = SipEndpoint(CAPS)
    endpoint.receive(data, Peer("udp", "192.0.2.1", 5060), 0.0)
    with contextlib.suppress(FramingError):
        StreamFramer().feed(data)


def test_mutated_torture_messages_never_escape() -> None:
    """Byte-level mutations of the RFC 4475 messages: the endpoint answers or drops, and the requests it
    hands on have every header the TU reads well-formed."""
    import random
    from pathlib import Path

    seeds = [*VALID, *(p.read_bytes() for p in (Path(__file__).parents[3] / "shared" / "sip-torture").glob("*.dat"))]
    rnd = random.Random(4475)
    for _ in range(5000):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 6)):
            at = rnd.randrange(len(data)) if data else 0
            roll = rnd.random()
            if roll < 0.5 and data:
                data[at] = rnd.choice(b' \t\r\n:;,<>"%@=/\\\x00\xff' + bytes([rnd.randrange(256)]))
            elif roll < 0.75:
                del data[at : at + rnd.randint(1, 20)]
            else:
                data[at:at] = data[rnd.randrange(len(data)) :][: rnd.randint(1, 30)] if data else b"x"
        endpoint = SipEndpoint(CAPS)
        endpoint.receive(bytes(data), Peer("udp", "192.0.2.1", 5060), 0.0)
        while (event := endpoint.next_event()) is not None:
            request = getattr(event, "request", None)
            if request is not None:
                assert request.call_id and request.cseq and request.from_ and request.to and request.vias
                assert isinstance(request.contacts, list)
