"""The capture tap: every frame of a recorded call, kept as received, on disk about once a second.

Frames come one at a time (with their place on the call's timeline) or, for received audio on the usual
path, as a second's batch already placed; either way they are kept in memory — nothing is decoded or
written then. Once a second (``flush``, at a moment that differs per call) each
direction's frames go to the capture file in one write. Placing, decoding and encoding happen after the
call, in an encoder process (``encoder.py``), so no frame is dropped for coming late, and a busy event loop
only delays capture by the time it is busy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from calltape.media.g711 import G711
from calltape.media.taps import FrameBatch, TapDirection
from calltape.recording.capture_file import (
    IN,
    LIMIT,
    MASK_OFF,
    MASK_ON,
    MASKED,
    OUT,
    PAUSE,
    PAUSED,
    RESUME,
    START,
    STOP,
    CaptureWriter,
    frames_block,
    marker_block,
)


class CallCapture:
    """A tap: ``capture(direction, payload, position, codec)`` for a frame, ``capture.frames(direction, batch,
    codec)`` for a batch; ``flush(now)`` once a second;
    ``finish(now)`` at the end. It never raises into the media path: a failed write stops it with the reason."""

    def __init__(
        self,
        writer: CaptureWriter,
        *,
        limit_samples: int,
        on_stop: Callable[[str], None],
        start: int | None = None,
        masked: bool = False,
        paused: bool = False,
    ) -> None:
        self.writer = writer
        self.limit_samples = limit_samples
        self.on_stop = on_stop  # called once if capture stops by itself: "time_limit" or a write error
        self.started_at: float | None = None  # Unix time of the first sample
        self.start: int | None = None  # its timeline position
        self.end: int | None = None  # where the time limit falls
        self._is_masked = masked  # while True, frames are counted and left out (set_masked)
        self._is_paused = paused  # the same, and the file may leave the time out (set_paused)
        self._leaving_out = masked or paused  # either: the one check a frame costs
        self.finished = False
        self.error = ""
        self.received = 0  # frames handed to the tap and not yet flushed are added by ``frames_received``
        self.not_captured = 0  # frames whose write failed (a full disk)
        self._masked = 0  # frames left out while masked since the last flush
        self._paused = 0  # frames left out while paused since the last flush
        self._limit_reached = False
        self._codec: G711 | None = None
        self._said_at: list[int] = []
        self._said: list[bytes] = []
        self._heard_at: list[int] = []
        self._heard: list[bytes] = []
        self._batches: dict[int, list[FrameBatch]] = {IN: [], OUT: []}
        if start is not None:
            self._begin(start)

    def _begin(self, position: int) -> None:
        self.start = position
        self.end = position + self.limit_samples
        self.started_at = time.time()
        markers = [marker_block(START, position), marker_block(LIMIT, self.end)]
        if self.paused:  # paused or masked before the media began: from its first sample
            markers.append(marker_block(PAUSE, position))
        if self.masked:
            markers.append(marker_block(MASK_ON, position))
        try:
            self.writer.write(*markers)
        except OSError as exc:
            self._failed(exc)

    def __call__(self, direction: TapDirection, payload: bytes, position: int, codec: G711) -> None:
        if self.finished or not payload:
            return
        if self.start is None:
            self._begin(position)  # the media began after the recording was asked for
        if self._leaving_out:
            if self._is_paused:
                self._paused += 1
            else:
                self._masked += 1
            return
        if codec is not self._codec and (self._codec is None or codec.name != self._codec.name):
            self._adopt(codec, position)
        if direction is TapDirection.IN:
            self._said_at.append(position)
            self._said.append(payload)
        else:
            self._heard_at.append(position)
            self._heard.append(payload)

    def frames(self, direction: TapDirection, batch: FrameBatch, codec: G711) -> None:
        if self.finished or not len(batch):
            return
        if self.start is None:
            self._begin(int(batch.positions[0]))
        if self._leaving_out:
            if self._is_paused:
                self._paused += len(batch)
            else:
                self._masked += len(batch)
            return
        if codec is not self._codec and (self._codec is None or codec.name != self._codec.name):
            self._adopt(codec, int(batch.positions[0]))
        self._batches[IN if direction is TapDirection.IN else OUT].append(batch)

    @property
    def frames_received(self) -> int:
        """Every frame the tap was given while capturing, flushed or not."""
        batched = sum(len(batch) for batches in self._batches.values() for batch in batches)
        return self.received + len(self._said) + len(self._heard) + batched + self._masked + self._paused

    @property
    def masked(self) -> bool:
        """Frames are left out (silence in the file); set directly, no marker is written (``set_masked`` does)."""
        return self._is_masked

    @masked.setter
    def masked(self, masked: bool) -> None:
        self._is_masked = masked
        self._leaving_out = masked or self._is_paused

    @property
    def paused(self) -> bool:
        """Frames are left out, and the file may leave the time out (``set_paused``)."""
        return self._is_paused

    def set_masked(self, masked: bool, now: int) -> None:
        """Mask (silence in the file) or unmask from timeline position *now* on; the file's metadata lists it."""
        self._mark(masked, self._is_masked, MASK_ON if masked else MASK_OFF, now)
        self.masked = masked

    def set_paused(self, paused: bool, now: int) -> None:
        """Pause or resume from timeline position *now* on: nothing is captured meanwhile, and the encoder leaves
        the time out of the file or keeps it as silence, as the recording's ``pause_behavior`` says."""
        self._mark(paused, self._is_paused, PAUSE if paused else RESUME, now)
        self._is_paused = paused
        self._leaving_out = paused or self._is_masked

    def _mark(self, on: bool, was: bool, kind: int, now: int) -> None:
        if on == was or self.finished or self.start is None:
            return
        self.flush(now)  # what came before belongs before the marker
        try:
            self.writer.write(marker_block(kind, max(self.start, now)))
        except OSError as exc:
            self._failed(exc)

    def _adopt(self, codec: G711, position: int) -> None:
        """The first frame, or a change of law (a re-INVITE): what came in the old law is written first (the
        frame's position stands in for the clock: they differ by the jitter only)."""
        if self._codec is not None:
            self.flush(position)
        self._codec = codec

    def flush(self, now: int) -> None:
        """Write what came since the last flush (once a second); stop at the time limit."""
        if self.start is None or (self.finished and not self._pending()):
            return
        law = self._codec.name if self._codec is not None else "PCMU"
        blocks: list[bytes] = []  # both directions and the masked count go to the file in one write
        count = 0
        for kind, positions, payloads in ((IN, self._said_at, self._said), (OUT, self._heard_at, self._heard)):
            batches = self._batches[kind]
            if positions:
                batches.append(FrameBatch(np.array(positions, np.int64), _lengths(payloads), b"".join(payloads)))
                positions.clear()
                payloads.clear()
            if batches:
                blocks.append(frames_block(kind, law, now, batches))
                count += sum(len(batch) for batch in batches)
                batches.clear()
        masked, self._masked = self._masked, 0
        paused, self._paused = self._paused, 0
        if masked:
            blocks.append(marker_block(MASKED, now, masked))
        if paused:
            blocks.append(marker_block(PAUSED, now, paused))
        left_out = masked + paused
        self.received += count + left_out
        if blocks:
            try:
                self.writer.write(*blocks)
            except OSError as exc:
                self.not_captured += count + left_out  # counted all the same: received = written + left out
                self._failed(exc)
        assert self.end is not None
        if now >= self.end and not self._limit_reached and not self.finished:
            self._limit_reached = True  # frames keep coming until it is finished: late ones before the limit count
            self.on_stop("time_limit")

    def _pending(self) -> bool:
        return bool(self._said or self._heard or self._batches[IN] or self._batches[OUT])

    def finish(self, now: int) -> int:
        """Write the rest and where the recording stopped; the stop position (0 if no media ever came)."""
        if self.start is None:
            self.finished = True
            self.writer.close()
            return 0
        self.flush(now)
        self.finished = True
        assert self.end is not None
        stop = max(self.start, min(now, self.end))
        try:
            self.writer.write(marker_block(STOP, stop))
        except OSError as exc:
            self.error = self.error or f"writing failed: {exc}"
        self.writer.close()
        return stop

    def _failed(self, exc: OSError) -> None:
        """A write failed (a full disk): what was written stays, the call goes on unrecorded from here."""
        if not self.error:
            self.error = f"writing failed: {exc}"
        if not self.finished:
            self.finished = True
            self.on_stop(self.error)


def _lengths(payloads: list[bytes]) -> npt.NDArray[np.uint16]:
    return np.fromiter(map(len, payloads), np.uint16, len(payloads))
