"""The RTP session over real loopback sockets: order, loss, latching, SSRC changes, DTMF, pacing."""

from __future__ import annotations

import asyncio
import audioop
import resource
import socket

import numpy as np

from calltape.media.clock import MediaClock
from calltape.media.dtmf import DtmfReceiver, event_payloads, parse_dtmf_info
from calltape.media.g711 import G711
from calltape.media.ports import RtpPortPool
from calltape.media.rtp import build_rtp, parse_rtp
from calltape.media.session import RtpSession
from calltape.media.taps import FrameBatch
from tests.ports import rtp_range


def test_rtp_header_round_trip_with_csrc_and_padding() -> None:
    packet = build_rtp(0, 65535, 2**32 - 1, 0xDEADBEEF, b"\x01" * 160, marker=True)
    header = parse_rtp(packet)
    assert header is not None and (header.payload_type, header.marker, header.sequence) == (0, True, 65535)
    assert packet[header.payload_start : header.payload_end] == b"\x01" * 160
    padded = bytes([0xA1]) + packet[1:12] + b"csrc" + b"\x01" * 160 + b"\x00\x00\x03"
    header = parse_rtp(padded)
    assert header is not None and header.payload_end - header.payload_start == 160
    assert parse_rtp(b"\x00" * 12) is None and parse_rtp(b"\x80") is None


def test_dtmf_receiver_reports_each_digit_once() -> None:
    digits: list[str] = []
    receiver = DtmfReceiver(lambda d, _: digits.append(d))
    for ts, digit in ((1000, "5"), (3000, "#")):
        for payload, _ in event_payloads(digit, 100):
            receiver.receive(ts, payload)
    assert digits == ["5", "#"]
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=7\r\nDuration=160\r\n") == "7"
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=11\r\n") == "#"
    assert parse_dtmf_info("application/dtmf", b"*") == "*"


class _Collect:
    def __init__(self) -> None:
        self.got: list[tuple[str, np.ndarray, int]] = []

    def __call__(self, direction: str, payload: bytes, ts: int, codec: G711) -> None:
        self.got.append((direction, np.frombuffer(codec.decode(payload), dtype=np.int16), ts))

    def frames(self, direction: str, batch: FrameBatch, codec: G711) -> None:
        for position, payload in batch.frames():
            self(direction, payload, position, codec)

    def incoming(self) -> list[tuple[np.ndarray, int]]:
        return [(p, t) for d, p, t in self.got if d == "in"]


def _frame(value: int) -> bytes:
    return audioop.lin2ulaw(np.full(160, value, dtype=np.int16).tobytes(), 2)


async def _session() -> tuple[RtpSession, socket.socket, _Collect, RtpPortPool]:
    pool = RtpPortPool("127.0.0.1", *rtp_range(25000, 25100))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    session = RtpSession(pool.acquire(), G711("PCMU", 0), 101, peer.getsockname(), MediaClock())
    tap = _Collect()
    session.taps.append(tap)
    await session.start()
    return session, peer, tap, pool


def test_taps_get_every_frame_as_it_arrives_at_its_place_across_loss_reorder_ssrc_change_and_wrap() -> None:
    async def scenario() -> tuple[list[tuple[int, int]], dict[str, int]]:
        session, peer, tap, _ = await _session()
        target = ("127.0.0.1", session.port)
        order = [65533, 65535, 65534, 0, 3, 4, 5, 6]  # 1 and 2 lost; 65534 late
        for seq in order:
            ts = ((seq - 65533) & 0xFFFF) * 160
            peer.sendto(build_rtp(0, seq, ts, 1, _frame(100 + (seq & 0xFF))), target)
        await asyncio.sleep(0.1)
        peer.sendto(build_rtp(0, 500, 99999, 2, _frame(7)), target)  # a new SSRC starts its own sequence
        await asyncio.sleep(0.1)
        session.close()
        peer.close()
        return [(int(p[0]), t) for p, t in tap.incoming()], session.stats

    frames, stats = asyncio.run(scenario())
    level = {v: int(np.frombuffer(audioop.ulaw2lin(_frame(v), 2), np.int16)[0]) for v in range(100, 356)}
    first = frames[0][1]
    # in arrival order, each at the place its timestamp gives: the late one too; the lost ones leave a gap
    assert frames[:8] == [
        (level[100 + (seq & 0xFF)], first + ((seq - 65533) & 0xFFFF) * 160)
        for seq in [65533, 65535, 65534, 0, 3, 4, 5, 6]
    ]
    assert stats["lost"] == 2  # the relays were given silence for them
    assert len(frames) == 9 and frames[8][0] == int(np.frombuffer(audioop.ulaw2lin(_frame(7), 2), np.int16)[0])


def test_latching_drops_other_sources_and_answers_the_source() -> None:
    async def scenario() -> tuple[int, int]:
        session, peer, tap, _ = await _session()
        intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        intruder.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", session.port)
        peer.sendto(build_rtp(0, 1, 160, 1, _frame(10)), target)
        await asyncio.sleep(0.05)
        intruder.sendto(build_rtp(0, 2, 320, 1, _frame(20)), target)
        await asyncio.sleep(0.1)
        peer.setblocking(False)
        got = 0
        try:
            while True:
                peer.recv(2048)
                got += 1
        except BlockingIOError:
            pass
        session.close()
        peer.close()
        intruder.close()
        return len(tap.incoming()), got

    frames, sent_back = asyncio.run(scenario())
    # the socket is connected to the latched source: the kernel drops the intruder's packet
    assert frames == 1 and sent_back >= 3  # paced silence goes to the latched source


def test_play_is_paced_at_20ms_and_dtmf_goes_out() -> None:
    async def scenario() -> tuple[list[float], list[int]]:
        session, peer, _, _ = await _session()
        peer.setblocking(False)
        loop = asyncio.get_running_loop()
        arrivals: list[float] = []
        types: list[int] = []
        start = loop.time()
        session.send_digit("9")
        done = session.play(np.full(8000, 1000, dtype=np.int16).tobytes())  # 1 s
        while not done.done() or loop.time() - start < 1.4:
            await asyncio.sleep(0.005)
            try:
                while True:
                    data = peer.recv(2048)
                    header = parse_rtp(data)
                    assert header is not None
                    arrivals.append(loop.time() - start)
                    types.append(header.payload_type)
            except BlockingIOError:
                pass
        session.close()
        peer.close()
        return arrivals, types

    arrivals, types = asyncio.run(scenario())
    assert types[:8] == [101] * 8  # 5 event packets and 3 end packets first
    audio = [t for t, pt in zip(arrivals, types, strict=True) if pt == 0]
    rate = (len(audio) - 1) / (audio[-1] - audio[0])
    assert 48 <= rate <= 52  # 50 packets a second


def test_a_relay_more_than_five_frames_behind_drops_the_oldest_and_counts_it() -> None:
    async def scenario() -> tuple[list[bytes], int]:
        session, peer, _, _ = await _session()
        session.clock.remove(session)  # nobody sends: the relay falls behind
        buffer = session.relay_buffer()
        target = ("127.0.0.1", session.port)
        for seq in range(8):
            peer.sendto(build_rtp(0, seq, seq * 160, 1, _frame(seq * 10)), target)
        for _ in range(100):
            if session.packets_in == 8:
                break
            await asyncio.sleep(0.01)
        session.close()
        peer.close()
        return list(buffer.payloads), session.stats["relay_dropped"]

    kept, dropped = asyncio.run(scenario())
    assert dropped == 3
    assert kept == [_frame(v * 10) for v in range(3, 8)]  # the newest five, in order


def test_drain_hands_the_taps_what_waits_in_the_socket_when_the_call_ends() -> None:
    """A busy event loop reads a BYE before the audio that came just ahead of it: ending the leg drains first.
    The session's socket gets a descriptor above 1024, as under load (select() cannot take those)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    filler = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(1100)]

    async def scenario() -> list[int]:
        session, peer, tap, _ = await _session()
        assert session.sock.fileno() > 1024
        target = ("127.0.0.1", session.port)
        for seq in range(25):  # half a second the loop has not read yet (no await in between)
            peer.sendto(build_rtp(0, seq, seq * 160, 9, _frame(seq)), target)
        session.drain()  # the loop never ran its reader: only the drain reads them
        session.close()
        peer.close()
        return [t - tap.incoming()[0][1] for _, t in tap.incoming()]

    try:
        assert asyncio.run(scenario()) == [seq * 160 for seq in range(25)]
    finally:
        for sock in filler:
            sock.close()
