"""Encoding a capture into the recording's file (WAV or MP3), in an encoder process or a thread.

The capture's blocks are read in the order they were written and their frames laid on the timeline
(``placement.py``); each settled second is decoded, mixed (mono) or interleaved (stereo), resampled if asked
and written through a spool. One encoder (and so one LAME instance) serves one recording at a time: memory
per call holds no encoder. The result says how long the file is and what became of every frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from calltape.recording.ahead import finish_ahead
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
from calltape.recording.channels import ChannelWriter, Stretches
from calltape.recording.encode_job import EncodeJob
from calltape.recording.placement import NO_LIMIT, FrameCounts, Placement
from calltape.recording.spool import SpoolFacts, open_spool


@dataclass(frozen=True)
class EncodeResult:
    """The finished file (None when the capture held no audio) and what became of every frame."""

    samples: int  # at 8 kHz: the recording's duration
    facts: SpoolFacts | None
    counts: FrameCounts
    pauses: list[tuple[int, int]] = field(default_factory=list)  # (offset in the file, length), samples at 8 kHz
    masks: list[tuple[int, int]] = field(default_factory=list)
    reused: int = 0  # frames of the file that were encoded ahead, while the call went on

    @property
    def unaccounted(self) -> int:
        """Frames received but neither written nor left out with a reason (0 unless something is wrong)."""
        return self.counts.received - self.counts.written - sum(self.counts.left_out.values())


def encode(job: EncodeJob) -> EncodeResult:
    """Place, decode and encode *job*'s capture into its output file (blocking). The file is on stable storage
    when this returns (the capture may then be deleted); if it raises, the output is closed unfinished. A file
    encoded ahead (``job.ahead``) is gone on with; if it cannot be (spoiled, or anything else), it is made afresh."""
    if job.ahead is not None:
        try:
            done = finish_ahead(job, job.ahead)
        except Exception:  # spoiled, or the file is not as the pieces left it: the whole capture afresh
            pass
        else:
            _sync(Path(job.output))
            counts = _with_tap_counts(done.counts, job)
            return EncodeResult(done.samples, done.facts, counts, done.pauses, done.masks, reused=job.ahead.frames)
    return _encode(job)


def _with_tap_counts(counts: FrameCounts, job: EncodeJob, masked: int = 0, paused: int = 0) -> FrameCounts:
    """*counts* with the frames the tap left out of the capture, and the tap's own count of frames received."""
    for reason, frames in (("masked", masked), ("paused", paused), ("not_captured", job.not_captured)):
        counts.received += frames
        counts.left_out[reason] += frames
    if job.received is not None:
        counts.received = job.received
    return counts


def _encode(job: EncodeJob) -> EncodeResult:
    placement: Placement | None = None
    writer: ChannelWriter | None = None
    stop: int | None = None
    masked = paused = clock = 0
    stretches = Stretches()
    try:
        for block in read_blocks(Path(job.capture), job.seal):
            if block.kind != LIMIT:
                clock = max(clock, block.clock)  # without a STOP (a crash), the last clock is where it stopped
            if block.kind == START and placement is None:
                placement = Placement(block.clock, NO_LIMIT)
                spool = open_spool(job.fmt, Path(job.output), job.rate, job.channels, threaded=False, seal=job.seal)
                cuts = stretches.pauses if job.cut_pauses else None
                writer = ChannelWriter(spool, stereo=job.channels == 2, cuts=cuts)
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
                stretches.mark(block.kind, block.clock)
            elif placement is not None and writer is not None:
                placement.add(block)
                for said, heard in placement.settled(block.clock):
                    writer.write(said, heard, placement.codec)
        counts = _with_tap_counts(placement.counts if placement else FrameCounts(), job, masked, paused)
        if placement is None or writer is None:
            return EncodeResult(0, None, counts)
        end = placement.last(clock if stop is None else stop)
        for said, heard in placement.rest(clock if stop is None else stop):
            writer.write(said, heard, placement.codec)
        facts = writer.spool.close()
    except BaseException:
        if writer is not None:
            writer.spool.abandon()  # an encoder process lives on: its file and LAME must not leak
        raise
    _sync(Path(job.output))
    return EncodeResult(
        placement.samples - writer.cut,
        facts,
        counts,
        *stretches.in_file(placement.start, end, cut_pauses=job.cut_pauses),
    )


def _sync(path: Path) -> None:
    """Flush *path* and its directory entry to stable storage."""
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY | os.O_DIRECTORY)):
        fd = os.open(target, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
