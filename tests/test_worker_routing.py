"""Which worker owns a dialog, and how a datagram that landed on another worker reaches it."""

from __future__ import annotations

import asyncio
import secrets
import zlib
from functools import partial

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


async def test_a_datagram_goes_to_its_owner_once_with_its_senders_address() -> None:
    group = secrets.token_hex(4)
    delivered: list[tuple[int, bytes, Peer]] = []
    holders: list[int] = []

    def deliver(i: int, data: bytes, peer: Peer, holder: int) -> bool:
        delivered.append((i, data, peer))
        holders.append(holder)
        return True

    written: list[tuple[int, bytes, Peer]] = []
    held = Peer("tls", "192.0.2.8", 40001)  # worker 1 holds a phone's TLS connection

    def write_held(i: int, data: bytes, peer: Peer) -> bool:
        if i == 1 and peer == held:
            written.append((i, data, peer))
            return True
        return False

    routers = [Router(Worker(i, 2, group), partial(deliver, i), partial(write_held, i)) for i in range(2)]
    for router in routers:
        router.start()
    try:
        owned_by_1 = next(f"{n}@x".encode() for n in range(1000) if zlib.crc32(f"{n}@x".encode()) % 2 == 1)
        peer = Peer("udp", "192.0.2.7", 5062)
        for header in (b"Call-ID: " + owned_by_1, b"i:" + owned_by_1, b"call-id :\t" + owned_by_1):
            data = message(header)
            assert routers[1].pass_on(data, peer) is False  # its own: handled where it landed
            assert routers[0].pass_on(data, peer) is True
            for _ in range(100):
                if delivered:
                    break
                await asyncio.sleep(0.01)
            assert delivered.pop() == (1, data, peer)
        assert routers[0].pass_on(message(b"X-No-Call-Id: 1"), peer) is False  # the parser will answer it
        assert not delivered and routers[0].passed_on == 3 and holders == [0, 0, 0]

        # over a connection: the owner is told which worker holds it, and has that one write its answers on it
        data = message(b"Call-ID: " + owned_by_1)
        assert routers[0].pass_on(data, held) is True
        for _ in range(100):
            if delivered:
                break
            await asyncio.sleep(0.01)
        assert delivered.pop() == (1, data, held) and holders[-1] == 0
        routers[0].write_on(None, b"SIP/2.0 200 OK\r\n\r\n", held)  # whoever holds it: worker 1
        for _ in range(100):
            if written:
                break
            await asyncio.sleep(0.01)
        assert written == [(1, b"SIP/2.0 200 OK\r\n\r\n", held)]
    finally:
        for router in routers:
            router.close()
