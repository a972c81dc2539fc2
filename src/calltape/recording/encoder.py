"""Encoding a capture into the recording's file (WAV or MP3), in an encoder process or a thread.

The capture's blocks are read in the order they were written and their frames laid on the timeline
(``placement.py``); each settled second is decoded, mixed (mono) or interleaved (stereo), resampled if asked
and written through a spool. One encoder (and so one LAME instance) serves one recording at a time: memory
per call holds no encoder. The result says how long the file is and what became of every frame.
"""

from __future__ import annotations

import audioop
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calltape.at_rest.keyring import Seal
from calltape.media.g711 import G711
from calltape.recording.capture_file import (
    LIMIT,
    MASK_OFF,
    MASK_ON,
    MASKED,
    PAUSE,
    PAUSED,
    RESUME,
    START,
    STOP,
    read_blocks,
)
from calltape.recording.placement import RATE, FrameCounts, Placement
from calltape.recording.spool import AudioSpool, SpoolFacts, open_spool

NO_LIMIT = 2**62  # a capture whose LIMIT marker never reached the disk


@dataclass(frozen=True)
class EncodeJob:
    """What to encode where. *received* and *not_captured* are the tap's counts (None after a crash)."""

    capture: str
    output: str
    fmt: str
    rate: int
    channels: int  # 1: both directions mixed; 2: caller left, callee right
    received: int | None = None
    not_captured: int = 0
    cut_pauses: bool = True  # pause_behavior skip: the file leaves paused time out; silence: it keeps it silent
    seal: Seal | None = None  # the recording is sealed at rest: its capture is, and its file will be


@dataclass(frozen=True)
class EncodeResult:
    """The finished file (None when the capture held no audio) and what became of every frame."""

    samples: int  # at 8 kHz: the recording's duration
    facts: SpoolFacts | None
    counts: FrameCounts
    pauses: list[tuple[int, int]] = field(default_factory=list)  # (offset in the file, length), samples at 8 kHz
    masks: list[tuple[int, int]] = field(default_factory=list)

    @property
    def unaccounted(self) -> int:
        """Frames received but neither written nor left out with a reason (0 unless something is wrong)."""
        return self.counts.received - self.counts.written - sum(self.counts.left_out.values())


def encode(job: EncodeJob) -> EncodeResult:
    """Place, decode and encode *job*'s capture into its output file (blocking). The file is on stable storage
    when this returns (the capture may then be deleted); if it raises, the output is closed unfinished."""
    placement: Placement | None = None
    writer: _ChannelWriter | None = None
    stop: int | None = None
    masked = paused = clock = 0
    pauses, masks = _Spans(), _Spans()
    try:
        for block in read_blocks(Path(job.capture), job.seal):
            if block.kind != LIMIT:
                clock = max(clock, block.clock)  # without a STOP (a crash), the last clock is where it stopped
            if block.kind == START and placement is None:
                placement = Placement(block.clock, NO_LIMIT)
                spool = open_spool(job.fmt, Path(job.output), job.rate, job.channels, threaded=False, seal=job.seal)
                writer = _ChannelWriter(spool, stereo=job.channels == 2, cuts=pauses if job.cut_pauses else None)
                writer.start_at(block.clock)
            elif block.kind == LIMIT and placement is not None:
                placement.end = block.clock
            elif block.kind == STOP:
                stop = block.clock
            elif block.kind in (MASKED, PAUSED):
                masked, paused = (
                    masked + block.count * (block.kind == MASKED),
                    paused + block.count * (block.kind == PAUSED),
                )
            elif block.kind in (PAUSE, RESUME, MASK_ON, MASK_OFF):
                spans = pauses if block.kind in (PAUSE, RESUME) else masks
                spans.mark(block.clock, on=block.kind in (PAUSE, MASK_ON))
            elif placement is not None and writer is not None:
                placement.add(block)
                for said, heard in placement.settled(block.clock):
                    writer.write(said, heard, placement.codec)
        counts = placement.counts if placement is not None else FrameCounts()
        for reason, frames in (("masked", masked), ("paused", paused), ("not_captured", job.not_captured)):
            counts.received += frames
            counts.left_out[reason] += frames
        if job.received is not None:
            counts.received = job.received
        if placement is None or writer is None:
            return EncodeResult(0, None, counts)
        end = min(max(clock if stop is None else stop, placement.furthest), placement.end)
        for said, heard in placement.rest(clock if stop is None else stop):
            writer.write(said, heard, placement.codec)
        facts = writer.spool.close()
    except BaseException:
        if writer is not None:
            writer.spool.abandon()  # an encoder process lives on: its file and LAME must not leak
        raise
    _sync(Path(job.output))
    cut = pauses if job.cut_pauses else None
    return EncodeResult(
        placement.samples - writer.cut,
        facts,
        counts,
        pauses.in_file(placement.start, end, cut, whole=True),
        masks.in_file(placement.start, end, cut),
    )


class _Spans:
    """Stretches of the timeline (pauses, or masks): where each began and, once known, ended."""

    def __init__(self) -> None:
        self.spans: list[list[int | None]] = []  # [begin, end or None]

    def mark(self, at: int, *, on: bool) -> None:
        open_now = bool(self.spans) and self.spans[-1][1] is None
        if on and not open_now:
            self.spans.append([at, None])
        elif not on and open_now:
            self.spans[-1][1] = at

    def keep(self, position: int, size: int) -> list[tuple[int, int]]:
        """The parts of ``[position, position + size)`` outside every stretch, as (offset, length) in it."""
        kept, at, stop = [], position, position + size
        for begin, end in self.spans:
            assert begin is not None
            finish = stop if end is None else end
            if finish <= at or begin >= stop:
                continue
            if begin > at:
                kept.append((at - position, begin - at))
            at = max(at, min(finish, stop))
        if at < stop:
            kept.append((at - position, stop - at))
        return kept

    def in_file(self, start: int, end: int, cut: _Spans | None, *, whole: bool = False) -> list[tuple[int, int]]:
        """Each stretch within ``[start, end)`` as (offset in the file, length): offsets moved back by the time
        *cut* left out before them, lengths without what *cut* left out of them (a stretch all cut is not in the
        file) — unless *whole* (the cut stretches themselves: where the splice is, and how long they were)."""
        found = []
        for begin, finish in self.spans:
            assert begin is not None
            begin, finish = max(begin, start), min(end if finish is None else finish, end)
            if finish <= begin:
                continue
            if cut is None:
                found.append((begin - start, finish - begin))
                continue
            before = sum(n for _, n in cut.keep(start, begin - start))  # what the file holds before it
            length = finish - begin if whole else sum(n for _, n in cut.keep(begin, finish - begin))
            if length:
                found.append((before, length))
        return found


def _sync(path: Path) -> None:
    """Flush *path* and its directory entry to stable storage."""
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY | os.O_DIRECTORY)):
        fd = os.open(target, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _ChannelWriter:
    """Decodes a stretch of both directions and writes it as the file wants it."""

    def __init__(self, spool: AudioSpool, *, stereo: bool, cuts: _Spans | None = None) -> None:
        self.spool = spool
        self.stereo = stereo
        self.cuts = cuts  # stretches of the timeline the file leaves out (pauses, with pause_behavior skip)
        self.position: int | None = None  # the timeline position of the next sample handed in
        self.cut = 0  # samples left out so far
        self._rate_state: list[Any] = [None, None]  # audioop.ratecv's state per channel

    def start_at(self, position: int) -> None:
        """The first sample handed in is at timeline *position*."""
        self.position = position

    def write(self, said: bytes, heard: bytes, codec: G711) -> None:
        if self.cuts is not None and self.cuts.spans and self.position is not None:
            kept = self.cuts.keep(self.position, len(said))
            self.position += len(said)
            self.cut += len(said) - sum(n for _, n in kept)
            for offset, size in kept:
                self._write(said[offset : offset + size], heard[offset : offset + size], codec)
            return
        if self.position is not None:
            self.position += len(said)
        self._write(said, heard, codec)

    def _write(self, said: bytes, heard: bytes, codec: G711) -> None:
        rate = self.spool.rate
        if self.stereo and rate == RATE:  # the usual file: interleaved while a byte a sample, decoded once
            both = bytearray(2 * len(said))
            both[0::2], both[1::2] = said, heard
            self.spool.write(codec.decode(bytes(both)))
            return
        left, heard_pcm = codec.decode(said), codec.decode(heard)
        right: bytes | None = heard_pcm
        if not self.stereo:
            left, right = audioop.add(left, heard_pcm, 2), None  # saturating
        if rate != RATE:  # linear, with its state carried from stretch to stretch
            left, self._rate_state[0] = audioop.ratecv(left, 2, 1, RATE, rate, self._rate_state[0])
            if right is not None:
                right, self._rate_state[1] = audioop.ratecv(right, 2, 1, RATE, rate, self._rate_state[1])
        self.spool.write_channels(left, right)
