"""One media timeline per call (issue 7): both directions of a bridged call line up within a frame."""

from __future__ import annotations

import asyncio
import audioop
import itertools
import socket

import numpy as np
import pytest

from calltape.media import arrivals
from calltape.media.clock import MediaClock, MediaTimeline
from calltape.media.g711 import G711
from calltape.media.outbound import Relay
from calltape.media.rtp import build_rtp
from calltape.media.session import RtpSession
from calltape.media.taps import FrameBatch

FRAME = 160


class _Tap:
    def __init__(self) -> None:
        self.got: list[tuple[str, int, int]] = []  # (direction, position, peak)

    def __call__(self, direction: str, payload: bytes, position: int, codec: G711) -> None:
        self.got.append((direction, position, audioop.max(codec.decode(payload), 2)))

    def frames(self, direction: str, batch: FrameBatch, codec: G711) -> None:
        for position, payload in batch.frames():
            self(direction, payload, position, codec)

    def first_loud(self, direction: str) -> int:
        return next(p for d, p, peak in self.got if d == direction and peak > 1000)


async def _far_end(
    sock: socket.socket, target: tuple[str, int], start: float, burst_at: float, seconds: float
) -> float:
    """20 ms RTP frames of silence, then loud from *burst_at* (seconds after *start*). Returns how late the first
    frame went out: the stream's place on the call's timeline is where its first frame arrived, and on a busy
    machine that can be tens of ms after the moment it was due."""
    loop = asyncio.get_running_loop()
    late = 0.0
    for n in range(int(seconds * 50)):
        await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))
        if n == 0:
            late = loop.time() - start
        level = 8000 if n * 0.02 >= burst_at else 0
        payload = audioop.lin2ulaw(np.full(FRAME, level, dtype=np.int16).tobytes(), 2)
        sock.sendto(build_rtp(0, n, n * FRAME, 0x5151, payload), target)
    return late


@pytest.mark.parametrize("relaying", [True, False])
async def test_a_burst_lands_on_the_call_timeline_within_one_frame(relaying: bool) -> None:
    """Same codec: payloads relayed on arrival; otherwise (as when transcoding) through each leg's clock."""
    loop = asyncio.get_running_loop()
    clock = MediaClock()
    timeline = MediaTimeline(loop.time())
    caller, callee = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for s in (caller, callee):
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
    legs = []
    for far in (caller, callee):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        leg = RtpSession(sock, G711("PCMU", 0), None, far.getsockname(), clock, timeline=timeline)
        await leg.start()
        legs.append(leg)
    a, b = legs
    if relaying:
        a.relay_to(b)
        b.relay_to(a)
    else:
        a.source, b.source = Relay(b.relay_buffer()), Relay(a.relay_buffer())
    tap = _Tap()
    a.taps.append(tap)  # what the caller says ("in") and hears ("out")
    start = timeline.origin
    caller_late, callee_late = await asyncio.gather(
        _far_end(caller, ("127.0.0.1", a.port), start, 1.00, 2.0),
        _far_end(callee, ("127.0.0.1", b.port), start, 1.50, 2.4),
    )
    for leg in legs:
        leg.close()
    for s in (caller, callee):
        s.close()
    said = tap.first_loud("in") - round(caller_late * 8000)
    assert abs(said - 8000) <= FRAME, said  # the caller's burst at t = 1.00 s
    heard = tap.first_loud("out") - round(callee_late * 8000)
    assert 12000 - FRAME <= heard <= 12000 + 4 * FRAME, heard  # the callee's at 1.50 s, after at most the relay's queue


async def _listening_leg(timeline: MediaTimeline) -> tuple[RtpSession, socket.socket, _Tap]:
    """A started leg on *timeline* with a tap, and the far end's socket that sends to it."""
    far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far.bind(("127.0.0.1", 0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    leg = RtpSession(sock, G711("PCMU", 0), None, far.getsockname(), MediaClock(), timeline=timeline)
    tap = _Tap()
    leg.taps.append(tap)
    await leg.start()
    return leg, far, tap


async def test_a_far_end_whose_clock_runs_slow_is_kept_in_step_with_the_call_without_losing_a_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sender 20 % slow (a 20 ms frame every 25 ms) would fall 1.2 s behind in 6 s; the leg moves its anchor on
    by whole frames — a gap of silence opens, no frame is dropped or written over. (The drift is judged over
    three seconds here rather than ten, to keep the test short.)"""
    monkeypatch.setattr(arrivals, "DRIFT_WINDOW", 3)
    loop = asyncio.get_running_loop()
    timeline = MediaTimeline(loop.time())
    leg, far, tap = await _listening_leg(timeline)
    payload = audioop.lin2ulaw(np.full(FRAME, 8000, dtype=np.int16).tobytes(), 2)
    start = loop.time()
    sent = 240
    for n in range(sent):
        await asyncio.sleep(max(0.0, start + n * 0.025 - loop.time()))
        far.sendto(build_rtp(0, n, n * FRAME, 0x77, payload), ("127.0.0.1", leg.port))
    await asyncio.sleep(0.1)
    wall = timeline.position(loop.time())
    leg.close()
    far.close()
    positions = [p for d, p, _ in tap.got if d == "in"]
    assert len(positions) == sent
    steps = {b - a for a, b in itertools.pairwise(positions)}
    assert min(steps) == FRAME and all(step % FRAME == 0 for step in steps)  # whole frames, never overlapping
    assert leg.stats["reanchored"] >= 2
    assert wall - positions[-1] < 7200, (wall, positions[-1])  # kept closer to now: 1.3 s behind uncorrected


async def test_a_far_end_that_resets_its_timestamps_is_placed_from_now_not_an_hour_ago() -> None:
    """Same SSRC, sequence going on, timestamps back to 0 after 2 s: no packet is that late, so the stream is
    placed from now on instead of before the recording began."""
    loop = asyncio.get_running_loop()
    timeline = MediaTimeline(loop.time())
    leg, far, tap = await _listening_leg(timeline)
    payload = audioop.lin2ulaw(np.full(FRAME, 8000, dtype=np.int16).tobytes(), 2)
    base = 3_000_000_000  # far from 0: going back to 0 is a jump of hours
    for n in range(20):
        far.sendto(build_rtp(0, n, base + n * FRAME, 0x77, payload), ("127.0.0.1", leg.port))
        await asyncio.sleep(0.02)
    for n in range(20, 40):
        far.sendto(build_rtp(0, n, (n - 20) * FRAME, 0x77, payload), ("127.0.0.1", leg.port))
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    leg.close()
    far.close()
    positions = [p for d, p, _ in tap.got if d == "in"]
    assert len(positions) == 40 and leg.stats["reanchored"] == 1
    assert all(b - a == FRAME for a, b in itertools.pairwise(positions[20:]))
    assert positions[20] > positions[19]  # after what came before, not hours before it
