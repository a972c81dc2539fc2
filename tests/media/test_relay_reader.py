"""The relay's own reader (``Relaying._relay_reader``) over real loopback sockets: what reaches the far ends,
read with ``struct`` (not our parser), across the changes that make a leg pick its reader again — a new
source, DTMF and odd headers amid the stream, hold, a far end that moves, relaying that ends. Every test runs
with the compiled reader (``_relay_reader.c``) and with the one in Python."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from itertools import pairwise

import pytest
import uvloop

from calltape.media import relaying
from calltape.media.clock import MediaClock
from calltape.media.g711 import G711
from calltape.media.rtp_totals import RTP_TOTALS
from calltape.media.session import RtpSession
from calltape.media.taps import FrameBatch, TapDirection, Taps

HEADER = struct.Struct("!BBHII")


@pytest.fixture(autouse=True, params=["compiled", "python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once with each reader."""
    if request.param == "python":
        monkeypatch.setattr(relaying, "COMPILED_READER", None)
    elif relaying.COMPILED_READER is None:
        pytest.fail("calltape/media/_relay_reader.c was not built: the compiled reader cannot be tested")
    return str(request.param)


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def _packet(sequence: int, ssrc: int = 0x1111, *, payload_type: int = 0, marker: bool = False) -> bytes:
    second = payload_type | (0x80 if marker else 0)
    return (
        HEADER.pack(0x80, second, sequence & 0xFFFF, (sequence * 160) & 0xFFFFFFFF, ssrc)
        + bytes([sequence & 0xFF]) * 160
    )


async def _leg(far_end: socket.socket, clock: MediaClock) -> RtpSession:
    session = RtpSession(_socket(), G711("PCMU", 0), 101, far_end.getsockname(), clock)
    await session.start()
    return session


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class _FarEnd:
    """A far end: sends to its leg, keeps every header and payload it gets back (audio only, DTMF apart)."""

    def __init__(self) -> None:
        self.sock = _socket()
        self.got: list[tuple[int, int, int, int, int, bytes]] = []

    def send(self, leg: RtpSession, packet: bytes) -> None:
        self.sock.sendto(packet, ("127.0.0.1", leg.port))

    def read(self) -> list[tuple[int, int, int, int, int, bytes]]:
        try:
            while True:
                data = self.sock.recv(2048)
                self.got.append((*HEADER.unpack_from(data), data[HEADER.size :]))
        except BlockingIOError:
            pass
        return self.got


class _Frames:
    """A tap: every frame's direction, place and payload."""

    def __init__(self) -> None:
        self.got: list[tuple[TapDirection, int, bytes]] = []

    def __call__(self, direction: TapDirection, payload: bytes, position: int, codec: G711) -> None:
        self.got.append((direction, position, payload))

    def frames(self, direction: TapDirection, batch: FrameBatch, codec: G711) -> None:
        for position, payload in batch.frames():
            self(direction, payload, position, codec)


def _continuous(headers: list[tuple[int, int, int, int, int, bytes]]) -> bool:
    """One stream: one SSRC, each packet one sequence number and 160 samples after the one before."""
    return all(
        b[4] == a[4] and b[2] == (a[2] + 1) & 0xFFFF and b[3] == (a[3] + 160) & 0xFFFFFFFF for a, b in pairwise(headers)
    )


async def _bridge() -> tuple[_FarEnd, _FarEnd, RtpSession, RtpSession]:
    """A caller and a callee bridged by legs *a* and *b*: the callee's first packet latches b, the caller's first ten
    are relayed (the first arms the relay's reader)."""
    clock = MediaClock()
    caller, callee = _FarEnd(), _FarEnd()
    a, b = await _leg(caller.sock, clock), await _leg(callee.sock, clock)
    a.relay_to(b)
    b.relay_to(a)
    callee.send(b, _packet(1, ssrc=0x2222))
    for sequence in range(10):
        caller.send(a, _packet(sequence))
    await _until(lambda: len(callee.read()) >= 10 and len(caller.read()) >= 1, "the first packets")
    return caller, callee, a, b


def _hang_up(legs: tuple[RtpSession, ...], far_ends: tuple[_FarEnd, ...]) -> None:
    for leg in legs:
        leg.close()
    for far_end in far_ends:
        far_end.sock.close()


def test_an_echo_sends_every_packet_back_in_its_own_stream_and_counts_it() -> None:
    async def scenario() -> None:
        clock = MediaClock()
        phone = _FarEnd()
        leg = await _leg(phone.sock, clock)
        first, second = _Frames(), _Frames()
        leg.use_taps(Taps([first]))
        leg.relay_to(leg)
        before = RTP_TOTALS.counts()
        for sequence in range(100, 300):
            if sequence == 200:  # a recording moves to other taps (a transfer): the reader hands them the rest
                await _until(lambda: leg.packets_in == 100, "100 packets in")
                leg.use_taps(Taps([second]))
            phone.send(leg, _packet(sequence, marker=sequence == 100))
            if sequence % 20 == 0:
                await asyncio.sleep(0.005)
        await _until(lambda: len(phone.read()) >= 200, "200 echoed packets")
        assert leg._direct is not None and leg._direct()[:2] == (100, 100), "the relay's reader did not relay"
        leg.hand_on()
        for tap, sequences in ((first, range(100, 200)), (second, range(200, 300))):
            for direction in TapDirection:  # what the phone said is what it heard: once each, at its place
                frames = [(position, payload) for side, position, payload in tap.got if side is direction]
                assert [payload for _, payload in frames] == [_packet(s)[12:] for s in sequences]
                assert all(b[0] - a[0] == 160 for a, b in pairwise(frames))
        echoed = phone.read()
        assert [payload for *_, payload in echoed] == [_packet(s)[12:] for s in range(100, 300)]
        assert {first for first, *_ in echoed} == {0x80}
        assert [second for _, second, *_ in echoed] == [0x80] + [0] * 199  # the marker kept, PT 0
        assert echoed[0][4] != 0x1111 and _continuous(echoed)  # our SSRC: one stream
        assert (leg.packets_in, leg.packets_out) == (200, 200)
        live = RTP_TOTALS.counts()
        assert (live.packets_in - before.packets_in, live.packets_out - before.packets_out) == (200, 200)

        leg.relay_to(None)  # the echo ends: our own packets (silence) go on in the same stream
        await _until(lambda: len(phone.read()) >= 205, "our own packets")
        assert _continuous(phone.read()[:205]) and phone.got[200][5] == b"\xff" * 160
        leg.close()
        after = RTP_TOTALS.counts()
        assert after.packets_in - before.packets_in == 200
        assert after.packets_out - before.packets_out == leg.packets_out >= 205
        phone.sock.close()

    asyncio.run(scenario())


def test_dtmf_odd_headers_and_a_new_source_amid_a_bridge_keep_the_stream_whole() -> None:
    async def scenario() -> None:
        before = RTP_TOTALS.counts()
        caller, callee, a, b = await _bridge()
        digits: list[str] = []
        a.on_digit = digits.append
        assert a._direct is not None and a._direct()[0] == 9  # the first went the general way, and armed it
        # a key press (RFC 4733: digit 5, end bit set, sent three times: its own sequence numbers, one timestamp),
        # then a packet with one CSRC
        for sequence in range(10, 13):
            caller.send(a, HEADER.pack(0x80, 101, sequence, 10 * 160, 0x1111) + bytes([5, 0x80, 0, 160]))
        with_csrc = bytearray(_packet(13))
        with_csrc[0] = 0x81
        caller.send(a, bytes(with_csrc[:12]) + struct.pack("!I", 0xCAFE) + bytes(with_csrc[12:]))
        for sequence in range(14, 23):
            caller.send(a, _packet(sequence))
        await _until(lambda: len(callee.read()) >= 23, "23 packets")
        audio = [h for h in callee.read() if h[1] & 0x7F == 0]
        events = [h for h in callee.read() if h[1] & 0x7F == 101]
        assert [h[2] for h in callee.read()] == [(audio[0][2] + n) & 0xFFFF for n in range(23)]  # one numbering
        assert [h[3] for h in events] == [(audio[0][3] + 1600) & 0xFFFFFFFF] * 3 and digits == ["5"]
        # the caller's phone is replaced (a new SSRC, its own numbering): the stream continues where it stands
        for sequence in range(5000, 5010):
            caller.send(a, _packet(sequence, ssrc=0x3333))
        await _until(lambda: len(callee.read()) >= 33, "33 packets")
        audio = [h for h in callee.read() if h[1] & 0x7F == 0]
        assert {first for first, *_ in audio} == {0x80}  # the CSRC cut off
        assert [payload for *_, payload in audio] == [
            _packet(s)[12:] for s in [*range(10), *range(13, 23), *range(5000, 5010)]
        ]
        assert audio[0][4] != 0x1111 and {h[4] for h in callee.read()} == {audio[0][4]}
        new_source = audio[20:]
        assert _continuous(new_source) and new_source[0][2] == (audio[19][2] + 1) & 0xFFFF
        assert new_source[0][3] == (audio[19][3] + 160) & 0xFFFFFFFF
        assert (a.packets_in, b.packets_out) == (33, 33) and (b.packets_in, a.packets_out) == (1, 1)
        _hang_up((b, a), (caller, callee))  # the leg relayed to first: what a sent on it still counts in /metrics
        after = RTP_TOTALS.counts()
        assert (after.packets_in - before.packets_in, after.packets_out - before.packets_out) == (34, 34)

    asyncio.run(scenario())


def test_hold_and_a_far_end_that_moves_are_followed_at_once() -> None:
    async def scenario() -> None:
        caller, callee, a, b = await _bridge()
        moved = _FarEnd()
        b.sending = False  # the callee holds the call: nothing goes to it, what comes is still counted
        for sequence in range(10, 20):
            caller.send(a, _packet(sequence))
        await _until(lambda: a.packets_in >= 20, "20 packets in")
        assert len(callee.read()) == 10
        b.sending = True
        b.move_to(moved.sock.getsockname())  # a re-INVITE moved the callee's media
        moved.send(b, _packet(2, ssrc=0x2222))  # its first packet latches b anew
        await _until(lambda: a.packets_out >= 2, "the callee's packet relayed")
        for sequence in range(20, 30):
            caller.send(a, _packet(sequence))
        await _until(lambda: len(moved.read()) >= 10, "10 packets at the new address")
        assert [h[5] for h in moved.read()] == [_packet(s)[12:] for s in range(20, 30)]
        assert len(callee.read()) == 10
        assert a._direct is not None and a._direct()[1] == 10  # sent by the reader built on b's new socket
        _hang_up((a, b), (caller, callee, moved))

    asyncio.run(scenario())


def test_what_the_hangup_drains_comes_after_what_the_reader_relayed() -> None:
    """The last packets of a call wait in the socket when the BYE is read; the drain relays them the general way,
    and the callee's stream goes on after them (not after the last packet the relay's reader took)."""

    async def scenario() -> None:
        caller, callee, a, b = await _bridge()
        for sequence in range(10, 15):  # not read by the loop before the drain (no await in between)
            caller.send(a, _packet(sequence))
        a.drain()
        a.relay_to(None)
        b.relay_to(None)  # the callee now hears calltape's own stream (silence) in the same numbering
        await _until(lambda: len(callee.read()) >= 20, "our own packets after the relayed ones")
        got = callee.read()[:20]
        assert [h[5] for h in got[:15]] == [_packet(s)[12:] for s in range(15)]
        assert _continuous(got)
        _hang_up((a, b), (caller, callee))

    asyncio.run(scenario())


def test_after_a_key_press_relayed_last_our_stream_goes_on_after_the_event() -> None:
    async def scenario() -> None:
        caller, callee, a, b = await _bridge()
        # digit 1 pressed at the 11th frame's time, lasting 800 samples: its last packet (end bit) says so
        for sequence, duration in ((10, 160), (11, 480), (12, 800)):
            end = 0x80 if duration == 800 else 0
            caller.send(
                a, HEADER.pack(0x80, 101, sequence, 10 * 160, 0x1111) + bytes([1, end]) + duration.to_bytes(2, "big")
            )
        await _until(lambda: len(callee.read()) >= 13, "13 packets")
        a.relay_to(None)
        b.relay_to(None)
        await _until(lambda: len(callee.read()) >= 15, "our own packets")
        event, own = callee.read()[12], callee.read()[13]
        assert event[1] & 0x7F == 101 and own[1] & 0x7F == 0
        assert own[2] == (event[2] + 1) & 0xFFFF and own[3] == (event[3] + 800) & 0xFFFFFFFF
        _hang_up((a, b), (caller, callee))

    asyncio.run(scenario())


def _reopened(far_end: _FarEnd, address: tuple[str, int]) -> None:
    """The far end's phone opens its RTP socket again on the same port (a restart, a re-INVITE)."""
    far_end.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far_end.sock.bind(address)
    far_end.sock.setblocking(False)


def test_a_far_end_that_refused_our_packets_is_heard_again_under_uvloop() -> None:
    """A connected socket reports the ICMP port unreachable its far end sent back for one of our packets; uvloop then
    closed the socket's poll, and the leg never read again: a phone that restarted its RTP socket, or a callee's
    port closed for a moment, left the call deaf (and its recording without that side) until the RTP timeout."""

    async def own_stream() -> None:
        clock = MediaClock()
        phone = _FarEnd()
        address = phone.sock.getsockname()
        leg = await _leg(phone.sock, clock)  # not relaying: it sends its own paced frames (silence)
        phone.send(leg, _packet(1))
        await _until(lambda: leg.latched is not None, "the leg latched")
        phone.sock.close()
        await _until(lambda: leg.stats["send_errors"] >= 1, "a refused packet noticed")
        _reopened(phone, address)
        for sequence in range(2, 7):
            phone.send(leg, _packet(sequence))
        await _until(lambda: leg.packets_in == 6, "the phone heard again")  # at once: the read raised
        leg.close()
        phone.sock.close()

    async def bridged() -> None:
        caller, callee, a, b = await _bridge()
        address = callee.sock.getsockname()
        await _until(lambda: b._direct is not None, "b's reader armed")
        callee.sock.close()
        for sequence in range(10, 15):  # relayed to the closed port: refused
            caller.send(a, _packet(sequence))
        await _until(lambda: b.stats["send_errors"] >= 1, "a refused packet noticed")
        _reopened(callee, address)
        for sequence in range(2, 7):
            callee.send(b, _packet(sequence, ssrc=0x2222))
        loop = asyncio.get_running_loop()
        for _ in range(40):  # the media watchdog asks every leg once a second: a silent one is listened to anew
            if len(caller.read()) == 6:
                break
            b.silence(loop.time())
            await asyncio.sleep(0.1)
        assert [h[5] for h in caller.read()] == [_packet(s)[12:] for s in range(1, 7)]
        _hang_up((a, b), (caller, callee))

    for scenario in (own_stream, bridged):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(scenario())
