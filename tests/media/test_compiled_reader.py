"""The compiled relay reader (``_relay_reader.c``) is built by the README's install and is the one a relaying leg
reads with. setup.py marks it optional, so a failed build would only make calltape slower: this test says so.
What the reader does is tested with both readers in ``test_relay_reader.py``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import struct
import subprocess
import sys
import weakref
from types import SimpleNamespace

import pytest

from calltape.media import relaying
from calltape.media.clock import MediaClock
from calltape.media.g711 import G711
from calltape.media.kept import KeptPackets
from calltape.media.relaying import Relaying
from calltape.media.rtp_totals import RTP_TOTALS
from calltape.media.session import READ_BUFFER, RtpSession

HEADER = struct.Struct("!BBHII")


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def _echoing_leg(phone: socket.socket) -> RtpSession:
    """A leg relaying to itself, three packets from *phone* in: the first takes the general path and arms the
    relay's reader, which reads the other two."""
    leg = RtpSession(_socket(), G711("PCMU", 0), 101, phone.getsockname(), MediaClock())
    await leg.start()
    leg.relay_to(leg)
    for sequence in range(3):
        phone.sendto(HEADER.pack(0x80, 0, sequence, sequence * 160, 0x1111) + b"\x55" * 160, ("127.0.0.1", leg.port))
        await asyncio.sleep(0.02)
    for _ in range(100):
        if leg._direct is not None and leg._direct()[0] >= 2:
            break
        await asyncio.sleep(0.01)
    return leg


def test_the_compiled_reader_is_built_and_reads_a_relaying_leg() -> None:
    assert relaying.COMPILED_READER is not None, "calltape/media/_relay_reader.c was not built (see setup.py)"

    async def scenario() -> None:
        phone = _socket()
        leg = await _echoing_leg(phone)
        assert leg._direct is not None and type(getattr(leg._direct, "__self__", None)) is relaying.COMPILED_READER
        assert leg._direct()[:2] == (2, 2)  # the first packet took the general path, the rest the compiled reader
        leg.close()
        phone.close()

    asyncio.run(scenario())


def test_calltape_python_relay_asks_for_the_python_reader() -> None:
    code = "from calltape.media import relaying; print(relaying.COMPILED_READER)"
    env = {**os.environ, "CALLTAPE_PYTHON_RELAY": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def test_a_leg_dropped_with_its_reader_armed_is_freed() -> None:
    """The reader holds the leg's bound methods and the leg holds the reader's ``counts``: a cycle the garbage
    collector must see through the reader (tp_traverse), or a leg dropped with its reader armed would leak."""

    async def scenario() -> weakref.ref[RtpSession]:
        phone = _socket()
        leg = await _echoing_leg(phone)
        assert leg._direct is not None and leg._direct()[0] >= 2, "the compiled reader did not read"
        # the leg let go of everywhere but its own cycle with the reader (close() would retire the reader first)
        asyncio.get_running_loop().remove_reader(leg.sock.fileno())
        leg.sock.close()
        RTP_TOTALS.live.discard(leg)
        phone.close()
        return weakref.ref(leg)

    gone = asyncio.run(scenario())
    gc.collect()
    assert gone() is None, "the leg was kept alive after it closed"


class _Recorder:
    """What a reader did with the leg's Python: each call, in order, with the clock's readings."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.clock = 100.0
        self.kept = KeptPackets()

    def now(self) -> float:
        self.clock += 1.0
        return self.clock

    def hand_on(self, last_arrival: float) -> None:
        batch = self.kept.take()
        assert batch is not None
        self.calls.append(("hand_on", last_arrival, self.kept.since, batch.timestamps.tolist(), batch.payloads))

    def handle(self, length: int) -> None:
        self.calls.append(("handle", length, READ_BUFFER[:length].hex()))

    def read_failed(self) -> None:
        self.calls.append(("read_failed",))

    def legs(self, leg: socket.socket, peer: socket.socket, *, tapped: bool) -> tuple[SimpleNamespace, SimpleNamespace]:
        """Stand-ins for a leg reading *leg* (with a tap if *tapped*) and its peer sending on *peer*: what a reader
        is built from, the leg's Python recorded here."""
        this_leg = SimpleNamespace(
            sock=leg,
            _buffer=READ_BUFFER,
            _view=memoryview(READ_BUFFER),
            _audio_type=0,
            taps=[object()] if tapped else [],
            _kept=self.kept,
            hand_on=self.hand_on,
            _handle=self.handle,
            _loop=SimpleNamespace(time=self.now),
            _read_failed=self.read_failed,
        )
        peer_leg = SimpleNamespace(
            sock=peer,
            _audio_type=8,
            _relay_ssrc=0x1111,
            _out_ssrc=0xABCDEF01,
            _relay_offsets=(0xFFFF, 0xFFFFFF00),
            taps=[],
            stats={"send_errors": 0},
            _last_relayed=None,
        )
        return this_leg, peer_leg


def _far_end_and_leg() -> tuple[socket.socket, socket.socket]:
    far, leg = _socket(), _socket()
    leg.connect(far.getsockname())
    far.connect(leg.getsockname())
    return far, leg


def _run_reader(
    kind: str, datagrams: list[bytes], *, peer_connected: bool = True
) -> tuple[list[bytes], list[tuple[object, ...]], tuple[object, ...], dict[str, int]]:
    """Each datagram sent to a leg relaying to a peer, read once by a reader of *kind* (built as the
    session builds it, on stand-ins for the legs): what the peer's far end got, what the reader called, its counts
    and the peer's stats."""
    far, leg = _far_end_and_leg()
    peer, dest = _socket(), _socket()
    if peer_connected:
        peer.connect(dest.getsockname())
    recorder = _Recorder()
    this_leg, peer_leg = recorder.legs(leg, peer, tapped=True)
    build = Relaying._relay_reader if kind == "compiled" else Relaying._python_relay_reader
    read, counts, _detach = build(this_leg, peer_leg)  # type: ignore[arg-type]
    got = []
    for datagram in datagrams:
        far.send(datagram)
        read()
        if peer_leg._last_relayed is not None:
            recorder.calls.append(("last_relayed", peer_leg._last_relayed))
            peer_leg._last_relayed = None
        with contextlib.suppress(BlockingIOError):
            got.append(dest.recv(2048))
    recorder.calls.append(("since", recorder.kept.since, list(recorder.kept.lengths)))
    for sock in (far, leg, peer, dest):
        sock.close()
    return got, recorder.calls, counts(), peer_leg.stats


def _datagrams() -> list[bytes]:
    out = []
    for n in range(55):  # across the sequence's and the timestamp's wrap; the fourth marked
        sequence, timestamp = (0xFFF0 + n) & 0xFFFF, (0xFFFFF000 + 160 * n) & 0xFFFFFFFF
        out.append(HEADER.pack(0x80, 0x80 if n == 3 else 0, sequence, timestamp, 0x1111) + bytes([n]) * 160)
        if n == 20:
            out.append(HEADER.pack(0x80, 0, sequence, timestamp, 0x2222) + b"\x01" * 160)  # another source
            out.append(b"\x80\x00\x00\x01")  # too short
            out.append(HEADER.pack(0x81, 0, sequence, timestamp, 0x1111) + b"\x00" * 4 + b"\x02" * 160)  # a CSRC
            out.append(HEADER.pack(0x80, 101, sequence, timestamp, 0x1111) + b"\x05\x0a\x00\xa0")  # DTMF
    return out


def test_the_compiled_reader_does_what_the_python_reader_does_byte_for_byte() -> None:
    got_c, calls_c, counts_c, stats_c = _run_reader("compiled", _datagrams())
    got_p, calls_p, counts_p, stats_p = _run_reader("python", _datagrams())
    assert got_c == got_p and len(got_c) == 55
    assert calls_c == calls_p
    assert counts_c == counts_p and counts_c[:2] == (55, 55)
    assert stats_c == stats_p == {"send_errors": 0}
    first = got_c[0]
    assert first[:12] == struct.pack("!BBHII", 0x80, 8, 0xFFEF, 0xFFFFEF00, 0xABCDEF01)  # both offsets wrapped
    assert got_c[3][1] == 0x88  # the marker kept, the peer's payload type
    assert [c[0] for c in calls_c].count("handle") == 4
    hand_ons = [c for c in calls_c if c[0] == "hand_on"]
    assert len(hand_ons) == 1 and len(hand_ons[0][3]) == 50  # at the 50th kept packet, once


def test_a_send_that_fails_is_counted_as_an_error_not_as_sent_by_both_readers() -> None:
    for kind in ("compiled", "python"):
        _got, calls, counts, stats = _run_reader(kind, _datagrams()[:10], peer_connected=False)
        assert counts[:2] == (10, 0) and stats == {"send_errors": 10}, kind
        assert not [c for c in calls if c[0] == "read_failed"], kind


def test_a_reader_not_set_up_or_detached_reads_nothing() -> None:
    assert relaying.COMPILED_READER is not None
    with pytest.raises(RuntimeError):
        relaying.COMPILED_READER.__new__(relaying.COMPILED_READER).read()
    far, leg = _far_end_and_leg()
    this_leg, peer_leg = _Recorder().legs(leg, leg, tapped=False)
    read, counts, detach = Relaying._relay_reader(this_leg, peer_leg)  # type: ignore[arg-type]
    detach()
    far.send(struct.pack("!BBHII", 0x80, 0, 1, 160, 0x1111) + b"\x00" * 160)
    read()
    assert counts()[:2] == (0, 0) and len(leg.recv(2048)) == 172  # left in the socket, untouched
    far.close()
    leg.close()
