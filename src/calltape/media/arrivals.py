"""Where each frame that comes in goes on the call's timeline: its RTP timestamp counted from its source's anchor.

A source is anchored where its first packet arrived. Loss, pauses, reordering and late packets then keep their
place, because the timestamp says it. What the timestamp cannot say is judged against our clock: a far end whose
clock runs slow (its stream falls behind by more than MAX_DRIFT, at least, over DRIFT_WINDOW looks), one that
resets its timestamps (a frame more than MAX_LATE behind), and one that jumps them ahead (a step of JUMP_CHECK
that lands more than MAX_AHEAD ahead of our clock). Each is re-anchored forward by whole frames: silence opens,
nothing already placed is written over.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from calltape.media.clock import MediaTimeline
from calltape.media.g711 import FRAME_SAMPLES

MAX_DRIFT = 1600  # samples (200 ms) the far end's stream may fall behind our clock before it is moved on
DRIFT_CHECK_FRAMES = 50  # the drift is looked at once a second of frames
# ... and judged by the least lag over the last looks: jitter only ever adds lag, and an event loop that falls
# behind under load delays every read for a while (3 looks moved 225 of 800 calls' streams by up to 1.3 s in
# the side-by-side run at 800 calls); a real clock drift (≤ 1 %) takes 20 s to reach MAX_DRIFT anyway.
DRIFT_WINDOW = 10
MAX_LATE = 60 * 8000  # samples: a frame placed further behind our clock is a timestamp reset, not a late packet
MAX_AHEAD = 10 * 8000  # samples: a frame this far ahead of our clock, after a step of JUMP_CHECK, is a jump
JUMP_CHECK = 2 * 8000  # a step this long between two frames is looked at against our clock


class ArrivalPlacer:
    """The incoming stream of one leg; counts each re-anchoring in ``stats["reanchored"]``."""

    def __init__(self, timeline: MediaTimeline, clock: Callable[[], float], stats: dict[str, int]) -> None:
        self.timeline = timeline
        self.clock = clock  # the event loop's time
        self.stats = stats
        self._ssrc: int | None = None  # the source the anchor belongs to
        self._anchor = (0, 0)  # (RTP timestamp, timeline position) from which incoming frames are placed
        self._earlier_anchor = (0, 0)  # for frames older than the anchor, which came late (drift moved it)
        self._drift_check = DRIFT_CHECK_FRAMES
        self._lags: deque[int] = deque(maxlen=DRIFT_WINDOW)  # the stream's lag at the last looks
        self._last = 0  # the position of the last frame placed after the anchor

    def _now_position(self) -> int:
        return self.timeline.position(self.clock())

    def position(self, timestamp: int, ssrc: int, *, look: bool = True) -> int:
        """Where an incoming frame goes on the call's timeline: its RTP timestamp from its source's anchor.

        Once a second of frames the lag of the stream behind our clock is looked at; if even its least lag over
        DRIFT_WINDOW looks exceeds MAX_DRIFT (the far end's clock is slow, or it paused its timestamps), the
        anchor moves on by whole frames from the next frame on: silence opens, nothing is overwritten. A stream
        ahead of our clock (a fast far end) is left ahead: moving it back would write over frames already taken.
        *look* False: the frame came a while ago, its lag says nothing (a batch looks for itself).
        """
        if ssrc != self._ssrc:  # a new source (or the first): anchored at its arrival
            self._anchor_source(timestamp, ssrc, self._now_position())
        anchor_ts, anchor_position = self._anchor
        offset = (timestamp - anchor_ts) & 0xFFFFFFFF
        if offset >= 0x80000000:  # older than the anchor: placed as it was when it was sent
            anchor_ts, anchor_position = self._earlier_anchor
            offset = (timestamp - anchor_ts) & 0xFFFFFFFF
            position = anchor_position + (offset - 0x100000000 if offset >= 0x80000000 else offset)
            if self._now_position() - position > MAX_LATE:  # no packet is this late:
                return self._restart(timestamp)  # the far end reset its timestamps
            return position
        position = anchor_position + offset
        # a step of seconds is a pause, or timestamps that jumped ahead: our clock tells which
        if position - self._last > JUMP_CHECK and position - self._now_position() > MAX_AHEAD:
            position = self._restart(timestamp)  # placed from now on, not hours ahead
        self._last = position
        self._drift_check -= 1
        if self._drift_check <= 0 and look:
            self._look_at_drift(self._now_position() - position, timestamp, position)
        return position

    def _anchor_source(self, timestamp: int, ssrc: int, position: int) -> None:
        self._ssrc = ssrc
        self._anchor = self._earlier_anchor = (timestamp, position)
        self._last = position
        self._lags.clear()
        self._drift_check = DRIFT_CHECK_FRAMES

    def positions(
        self,
        timestamps: npt.NDArray[np.int64],
        ssrc: int,
        first_arrival: float,
        last_arrival: float | None = None,
    ) -> npt.NDArray[np.int64]:
        """Where each of a batch of frames from one source goes (their RTP timestamps in arrival order, the first
        of which arrived at loop time *first_arrival*, the last at *last_arrival* if known): as :meth:`position`
        gives, in one go.

        The usual batch — frames after the anchor, no step of seconds — is placed by arithmetic; anything else
        frame by frame. A source not seen before is anchored at the first frame's arrival. Once a second of
        frames the drift is looked at on the last frame if its arrival is known, else the first: a frame whose
        arrival time is known, whoever hands the batch on and whenever.
        """
        arrived_at = self.timeline.position(first_arrival)
        if ssrc != self._ssrc:
            self._anchor_source(int(timestamps[0]), ssrc, arrived_at)
        anchor_ts, anchor_position = self._anchor
        offsets = (timestamps - anchor_ts) & 0xFFFFFFFF
        positions = offsets + anchor_position
        leaps = len(positions) > 1 and (positions[1:] - positions[:-1]).max() > JUMP_CHECK
        if offsets.max() >= 0x80000000 or positions[0] - self._last > JUMP_CHECK or leaps:  # late, paused, jumped
            positions = np.fromiter(
                (self.position(int(ts), ssrc, look=False) for ts in timestamps), np.int64, len(timestamps)
            )
        else:
            self._last = int(positions[-1])
            self._drift_check -= len(positions)
        if self._drift_check <= 0:
            if last_arrival is not None:
                lag = self.timeline.position(last_arrival) - int(positions[-1])
            else:
                lag = arrived_at - int(positions[0])
            self._look_at_drift(lag, int(timestamps[-1]), self._last)
        return positions

    def _restart(self, timestamp: int) -> int:
        """The far end's timestamps jumped: its stream goes on from now (after the last frame placed, so nothing
        is written over). The new position of *timestamp*."""
        position = max(self._now_position(), self._last + FRAME_SAMPLES)
        self._anchor = self._earlier_anchor = (timestamp, position)
        self._last = position
        self._lags.clear()
        self.stats["reanchored"] += 1
        return position

    def _look_at_drift(self, lag: int, timestamp: int, position: int) -> None:
        """The stream was *lag* samples behind our clock; if it stays far behind, it goes on from the frame after
        (*timestamp*, *position*) that much further on."""
        self._drift_check = DRIFT_CHECK_FRAMES
        lags = self._lags
        lags.append(lag)
        if len(lags) < DRIFT_WINDOW or (least := min(lags)) <= MAX_DRIFT:
            return
        step = least // FRAME_SAMPLES * FRAME_SAMPLES
        self._lags = deque((lag - step for lag in lags), maxlen=DRIFT_WINDOW)  # as if placed so all along
        self._earlier_anchor = self._anchor
        self._anchor = ((timestamp + FRAME_SAMPLES) & 0xFFFFFFFF, position + FRAME_SAMPLES + step)
        self.stats["reanchored"] += 1
