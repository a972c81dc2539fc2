"""Encoding an MP3 recording ahead, while its call goes on, so that little is left to encode when it ends.

Every few seconds an encoder process reads what the call's capture gained, lays it on the timeline and encodes
the audio that is settled (``MARGIN`` behind the capture's clock) into the recording's file. LAME lends no bits
between frames (``lame.py``), so an encoder started on a frame boundary ``PRE_ROLL`` frames before the file's end
gives the very bytes one that ran from the start would: the pieces join exactly, and no encoder is kept per call
(memory per call holds none; each encoder process lends one warm encoder to the pieces of every call).

Each piece reads the capture on from where the last one needed it, and counts the frames of the blocks it reads
for the first time. When the call ends the final encode is one more piece: it reads the rest, encodes it and
finishes the file. A frame that came later than the margin into audio already encoded, a pause (which moves what
follows in the file) or a mask spoils what was encoded ahead: the whole capture is then encoded afresh, as it is
without encoding ahead — which saves work, it never decides what the file holds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from calltape.recording.capture_file import IN, LIMIT, OUT, START, STOP, read_blocks
from calltape.recording.channels import ChannelWriter
from calltape.recording.encode_job import FRAME_SAMPLES, Ahead, EncodeJob
from calltape.recording.lame import LameEncoder
from calltape.recording.mp3_frames import bitrate_for
from calltape.recording.placement import NO_LIMIT, RATE, FrameCounts, Placement
from calltape.recording.spool import Mp3Spool, SpoolFacts

MARGIN = 2 * RATE  # audio this far behind the capture's clock (written once a second) is taken as settled


def can_encode_ahead(fmt: str, rate: int) -> bool:
    """Only MP3 at 8 kHz is encoded ahead (WAV costs little to make at the end; other rates are resampled)."""
    return fmt == "mp3" and rate == RATE


class AheadSpoiledError(Exception):
    """What was encoded ahead cannot be gone on with: encode the whole capture afresh."""


def encode_ahead(job: EncodeJob, ahead: Ahead | None) -> Ahead:
    """Encode the settled audio of *job*'s capture that is not in its file yet (blocking; in an encoder process).
    *ahead*: the last piece's result (None before the first). Unchanged if less than a second more is settled."""
    if ahead is not None and ahead.spoiled:
        return ahead
    try:
        read = _read_on(job, ahead)
    except AheadSpoiledError as exc:
        return replace(ahead or Ahead(0, NO_LIMIT, "PCMU"), spoiled=str(exc))
    if read is None:
        return ahead or Ahead(0, NO_LIMIT, "PCMU")
    start = read.start
    fed, restart = (ahead.fed, ahead.restart) if ahead is not None and ahead.frames else (0, 0)
    settled = min(read.clock - MARGIN, read.placement.end) - start
    settled = restart + (settled - restart) // FRAME_SAMPLES * FRAME_SAMPLES  # whole frames: see _WarmEncoder
    if settled - fed < RATE:  # not worth a piece
        return ahead or Ahead(start, read.placement.end, read.placement.codec.name)
    spool, warm = _spool(job, ahead)
    try:
        writer = ChannelWriter(spool, stereo=job.channels == 2)
        for said, heard in read.placement.upto(start + settled):
            writer.write(said, heard, read.placement.codec)
        frames, size = spool.set_aside()
    except BaseException:
        spool.abandon()
        _WarmEncoder.drop(warm)
        raise
    if warm is not None:
        warm.fed, warm.frames = warm.fed + settled - restart, warm.frames + spool.emitted
    after = Ahead(
        start, read.placement.end, read.placement.codec.name, frames, size, settled, read.read_to, 0, read.counts
    )
    needed = start + after.restart  # the next piece lays out the audio from here on
    return replace(after, resume=next((at for at, furthest in read.reach if furthest > needed), read.read_to))


def finish_ahead(job: EncodeJob, ahead: Ahead) -> tuple[int, SpoolFacts, FrameCounts]:
    """The call ended: encode the rest of the capture into the file encoded ahead and finish it (blocking); its
    samples, facts and frame counts. Raises AheadSpoiledError if the whole capture must be encoded afresh."""
    if ahead.spoiled or not ahead.frames:
        raise AheadSpoiledError(ahead.spoiled or "nothing was encoded ahead")
    read = _read_on(job, ahead)
    assert read is not None  # the capture began (the pieces saw its start)
    spool, warm = _spool(job, ahead)
    try:
        writer = ChannelWriter(spool, stereo=job.channels == 2)
        for said, heard in read.placement.rest(read.clock if read.stop is None else read.stop):
            writer.write(said, heard, read.placement.codec)
        facts = spool.close()
    except BaseException:
        spool.abandon()
        raise
    finally:
        _WarmEncoder.drop(warm)  # flushed: it ends a stream
    return read.placement.base - read.start, facts, read.counts


@dataclass
class _Read:
    """The capture laid out from where a piece goes on."""

    start: int  # the recording's first sample on the timeline
    placement: Placement
    clock: int  # the capture's clock when it was last written
    stop: int | None  # where the recording stopped, if it did
    read_to: int  # the offset after the last whole block
    reach: list[tuple[int, int]]  # per block of frames: (its offset, the end of its furthest frame)
    counts: FrameCounts  # the frames of every block read so far, by this piece and those before it


def _read_on(job: EncodeJob, ahead: Ahead | None) -> _Read | None:
    """Read the capture from where *ahead* needs it and lay it out from its restart on; None if it has not begun.
    Blocks read before are laid out again without being counted; a new block's frame before what was encoded
    ahead, or a pause or a mask, spoils it (AheadSpoiledError)."""
    if ahead is None or not ahead.frames:  # from the start
        placement, start, seen, encoded, counts, read_to = None, 0, 0, 0, FrameCounts(), 0
    else:
        placement = Placement(ahead.start + ahead.restart, ahead.end, ahead.law)
        start, seen, read_to = ahead.start, ahead.read_to, ahead.resume  # blocks before read_to were counted
        encoded, counts = ahead.start + ahead.fed, ahead.counts.copy()  # frames placed before *encoded* are late
    clock, stop = 0, None
    reach: list[tuple[int, int]] = []
    for block in read_blocks(Path(job.capture), job.seal, read_to):
        read_to, new = block.end, block.offset >= seen
        if block.kind != LIMIT:
            clock = max(clock, block.clock)
        if block.kind == START and placement is None:
            placement, start, encoded = Placement(block.clock, NO_LIMIT), block.clock, block.clock
        elif block.kind == LIMIT and placement is not None:
            placement.end = block.clock
        elif block.kind == STOP:
            stop = block.clock
        elif block.kind not in (IN, OUT):
            if new:
                raise AheadSpoiledError("the recording was paused or masked")
        elif placement is not None and block.count:
            furthest = max(block.positions) + max(block.lengths)
            reach.append((block.offset, furthest))
            if new and min(block.positions) < encoded and encoded > start:
                late = (clock - min(block.positions)) / RATE
                raise AheadSpoiledError(f"a frame came {late:.1f} s late, into audio encoded ahead")
            if new:
                placement.counts = counts
                placement.add(block)
            elif furthest > placement.base:  # laid out again for the restart, counted before
                placement.counts = FrameCounts()
                placement.add(block)
    if placement is None:
        return None
    return _Read(start, placement, clock, stop, read_to, reach, counts)


def _spool(job: EncodeJob, ahead: Ahead | None) -> tuple[Mp3Spool, _WarmEncoder | None]:
    """The file to go on with (a new one, with a new encoder, before the first frame), and the warm encoder lent
    to it."""
    if ahead is None or ahead.frames == 0:
        return Mp3Spool(Path(job.output), RATE, job.channels, threaded=False, seal=job.seal), None
    warm = _WarmEncoder.of(job.channels)
    skip = ahead.frames - ahead.restart // FRAME_SAMPLES + warm.lag
    spool = Mp3Spool.resumed(
        Path(job.output),
        job.channels,
        size=ahead.size,
        frames=ahead.frames,
        samples=ahead.restart,
        skip=skip,
        encoder=warm.encoder,
        seal=job.seal,
    )
    return spool, warm


class _WarmEncoder:
    """A LAME encoder this encoder process keeps from piece to piece, of any recordings (starting one costs half a
    millisecond). It is given whole frames only, so the frame it gives for a sample keeps a fixed distance from
    that sample: ``lag`` frames more than a new encoder would have given. Its first frames of a piece still hold
    the last piece's audio; they are within the frames encoded again and left out (measured: 2 differ)."""

    _kept = threading.local()  # .by_channels: one per channel count, per thread (pieces run in a thread without a pool)

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.encoder = LameEncoder(RATE, channels, bitrate_for(RATE, channels))
        self.fed = 0  # samples given
        self.frames = 0  # frames it gave

    @property
    def lag(self) -> int:
        return self.fed // FRAME_SAMPLES - self.frames

    @classmethod
    def of(cls, channels: int) -> _WarmEncoder:
        kept = cls._by_channels()
        if channels not in kept:
            kept[channels] = cls(channels)
        return kept[channels]

    @classmethod
    def drop(cls, warm: _WarmEncoder | None) -> None:
        """Close *warm* (it ended a stream, or failed midway)."""
        kept = cls._by_channels()
        if warm is not None and kept.get(warm.channels) is warm:
            del kept[warm.channels]
            warm.encoder.close()

    @classmethod
    def _by_channels(cls) -> dict[int, _WarmEncoder]:
        if not hasattr(cls._kept, "by_channels"):
            cls._kept.by_channels = {}
        by_channels: dict[int, _WarmEncoder] = cls._kept.by_channels
        return by_channels
