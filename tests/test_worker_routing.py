"""Which worker owns a dialog, and how a datagram that landed on another worker reaches it."""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Callable

from calltape.sip.events import Peer
from calltape.worker import Router, Worker

INVITE = (
    b"INVITE sip:2000@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:2000@example.com>\r\n{cid}\r\nCSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def message(call_id_line: bytes) -> bytes:
    return INVITE.replace(b"{cid}", call_id_line)


def test_the_owner_is_the_crc32_of_the_call_id_modulo_the_workers() -> None:
    worker = Worker(1, 3, "g")
    assert worker.owner(b"abc@host") == zlib.crc32(b"abc@host") % 3
    assert Worker().owns("anything")


def test_call_ids_a_worker_makes_are_its_own() -> None:
    for index in range(4):
        worker = Worker(index, 4, "g")
        assert all(worker.owns(worker.new_call_id()) for _ in range(50))


class Host:
    """One worker's side of the routing, as its SIP transport would take it."""

    def __init__(self, index: int, holds: set[Peer] | None = None) -> None:
        self.index, self.holds = index, holds or set()
        self.delivered: list[tuple[bytes, Peer, int | None]] = []
        self.written: list[tuple[bytes, Peer]] = []
        self.lacking: list[tuple[Peer, int]] = []
        self.closed: list[tuple[Peer, int]] = []

    def deliver_passed(self, data: bytes, peer: Peer, holder: int | None) -> bool:
        self.delivered.append((data, peer, holder))
        return True

    def write_held(self, data: bytes, peer: Peer) -> bool:
        if peer not in self.holds:
            return False
        self.written.append((data, peer))
        return True

    def sibling_lacks(self, peer: Peer, sibling: int) -> None:
        self.lacking.append((peer, sibling))

    def sibling_closed(self, peer: Peer, sibling: int) -> None:
        self.closed.append((peer, sibling))


async def _until(check: Callable[[], object]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("it did not come")


async def test_a_datagram_goes_to_its_owner_once_with_its_senders_address() -> None:
    group = secrets.token_hex(4)
    held = Peer("tls", "192.0.2.8", 40001)  # worker 0 holds a phone's TLS connection
    hosts = [Host(0, {held}), Host(1)]
    routers = [Router(Worker(i, 2, group), hosts[i]) for i in range(2)]
    for router in routers:
        router.start()
    try:
        owned_by_1 = next(f"{n}@x".encode() for n in range(1000) if zlib.crc32(f"{n}@x".encode()) % 2 == 1)
        peer = Peer("udp", "192.0.2.7", 5062)
        for header in (b"Call-ID: " + owned_by_1, b"i:" + owned_by_1, b"call-id :\t" + owned_by_1):
            data = message(header)
            assert routers[1].pass_on(data, peer) is False  # its own: handled where it landed
            assert routers[0].pass_on(data, peer) is True
            await _until(lambda: hosts[1].delivered)
            assert hosts[1].delivered.pop() == (data, peer, None)
        assert routers[0].pass_on(message(b"X-No-Call-Id: 1"), peer) is False  # the parser will answer it
        assert not hosts[1].delivered and routers[0].passed_on == 3

        # over a connection worker 0 accepted: the owner learns who holds it, and has that one write on it
        data = message(b"Call-ID: " + owned_by_1)
        assert routers[0].pass_on(data, held, True) is True
        await _until(lambda: hosts[1].delivered)
        assert hosts[1].delivered.pop() == (data, held, 0)
        routers[1].write_on(None, b"SIP/2.0 200 OK\r\n\r\n", held)  # whichever holds it: worker 0
        await _until(lambda: hosts[0].written)
        assert hosts[0].written == [(b"SIP/2.0 200 OK\r\n\r\n", held)]
        gone = Peer("wss", "192.0.2.9", 40002)  # nobody holds it: the asker is told so
        routers[1].write_on(0, b"BYE sip:x SIP/2.0\r\n\r\n", gone)
        await _until(lambda: hosts[1].lacking)
        assert hosts[1].lacking == [(gone, 0)]
        routers[0].closed(held)  # its connection closed: the sibling forgets it
        await _until(lambda: hosts[1].closed)
        assert hosts[1].closed == [(held, 0)]
        routers[0].sock.sendto(b"junk without a header", Worker(1, 2, group).address(1))  # ignored, not a crash
        await asyncio.sleep(0.05)
    finally:
        for router in routers:
            router.close()
