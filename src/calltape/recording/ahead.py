"""Encoding an MP3 recording ahead, while its call goes on, so that little is left to encode when it ends.

Every few seconds an encoder process reads what the call's capture gained, lays it on the timeline and encodes
the audio that is settled (``MARGIN`` behind the capture's clock) into the recording's file. LAME lends no bits
between frames (``lame.py``), so an encoder started on a frame boundary ``PRE_ROLL`` frames before the file's end
gives the very bytes one that ran from the start would: the pieces join exactly, and no encoder is kept per call
(memory per call holds none; each encoder process lends one warm encoder to the pieces of every call).

Each piece reads the capture on from where the last one needed it, and counts the frames of the blocks it reads
for the first time. When the call ends the final encode is one more piece: it reads the rest, encodes it and
finishes the file. A frame that came later than the margin into audio already encoded, a pause (which moves what
follows in the file, unless it is kept as silence) spoils what was encoded ahead: the whole capture is then
encoded afresh, as it is without encoding ahead — which saves work, it never decides what the file holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeGuard

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
from calltape.recording.channels import ChannelWriter, Stretches
from calltape.recording.encode_job import FRAME_SAMPLES, Ahead, EncodeJob
from calltape.recording.lame import LameEncoder
from calltape.recording.mp3_frames import bitrate_for
from calltape.recording.placement import BLOCK, NO_LIMIT, RATE, WINDOW, FrameCounts, Placement
from calltape.recording.spool import Mp3Spool, SpoolFacts

MARGIN = 2 * RATE  # audio this far behind the capture's clock (written once a second) is taken as settled


def can_encode_ahead(fmt: str, rate: int) -> bool:
    """Only MP3 at 8 kHz is encoded ahead (WAV costs little to make at the end; other rates are resampled)."""
    return fmt == "mp3" and rate == RATE


NOTHING_YET = Ahead(0, NO_LIMIT, "PCMU")  # before the capture began


class AheadSpoiledError(Exception):
    """What was encoded ahead cannot be gone on with: encode the whole capture afresh."""


def encode_ahead(job: EncodeJob, ahead: Ahead | None) -> Ahead:
    """Encode the settled audio of *job*'s capture that is not in its file yet (blocking; in an encoder process).
    *ahead*: the last piece's result (None before the first). Unchanged if less than a second more is settled."""
    if ahead is not None and ahead.spoiled:
        return ahead
    piece = _Piece(job, ahead)
    try:
        read = _read_on(piece)
        if read is None:
            return ahead or NOTHING_YET
        fed, restart = (ahead.fed, ahead.restart) if _begun(ahead) else (0, 0)
        settled = min(read.clock - MARGIN, read.placement.end) - read.start
        settled = restart + (settled - restart) // FRAME_SAMPLES * FRAME_SAMPLES  # whole frames: see _WarmEncoder
        if settled - fed < RATE and piece.spool is None:  # not worth a piece
            return ahead or Ahead(read.start, read.placement.end, read.placement.codec.name)
        piece.write(read.placement.upto(read.start + settled), read.placement.codec)
        frames, size = piece.set_aside(settled - restart)
    except AheadSpoiledError as exc:
        piece.abandon()
        return replace(ahead or NOTHING_YET, spoiled=str(exc))
    except BaseException:
        piece.abandon()
        raise
    start, placement = read.start, read.placement
    after = Ahead(
        start, placement.end, placement.codec.name, frames, size, settled, read.read_to, 0, placement.counts, read.marks
    )
    needed = start + after.restart  # the next piece lays out the audio from here on
    return replace(after, resume=next((at for at, furthest in read.reach if furthest > needed), read.read_to))


def finish_ahead(job: EncodeJob, ahead: Ahead) -> Finished:
    """The call ended: encode the rest of the capture into the file encoded ahead and finish it (blocking). Raises
    AheadSpoiledError if the whole capture must be encoded afresh."""
    if ahead.spoiled or not _begun(ahead):
        raise AheadSpoiledError(ahead.spoiled or "nothing was encoded ahead")
    piece = _Piece(job, ahead)
    try:
        read = _read_on(piece)
        assert read is not None  # the capture began (the pieces saw its start)
        piece.write(read.placement.rest(read.clock if read.stop is None else read.stop), read.placement.codec)
        facts = piece.close()
    except BaseException:
        piece.abandon()
        raise
    placement, stretches = read.placement, Stretches()
    for kind, at in read.marks:
        stretches.mark(kind, at)
    end = placement.last(read.clock if read.stop is None else read.stop)
    in_file = stretches.in_file(read.start, end, cut_pauses=False)  # a pause the file cuts spoiled it
    return Finished(placement.base - read.start, facts, placement.counts, *in_file)


@dataclass(frozen=True)
class Finished:
    """A file encoded ahead, finished: its samples, facts and frame counts, and where it was paused and masked."""

    samples: int
    facts: SpoolFacts
    counts: FrameCounts
    pauses: list[tuple[int, int]]
    masks: list[tuple[int, int]]


def _begun(ahead: Ahead | None) -> TypeGuard[Ahead]:
    """Some of the file was encoded ahead."""
    return ahead is not None and ahead.frames > 0


class _Piece:
    """One piece of a file encoded ahead (the final one too): what it reads, and the file it goes on with, opened
    when the first audio is written."""

    def __init__(self, job: EncodeJob, ahead: Ahead | None) -> None:
        self.job = job
        self.ahead = ahead
        self.spool: Mp3Spool | None = None
        self._writer: ChannelWriter | None = None
        self._warm: _WarmEncoder | None = None

    def write(self, audio: Iterable[tuple[bytes, bytes]], codec: G711) -> None:
        for said, heard in audio:
            if self._writer is None:
                self.spool, self._warm = _spool(self.job, self.ahead)
                self._writer = ChannelWriter(self.spool, stereo=self.job.channels == 2)
            self._writer.write(said, heard, codec)

    def set_aside(self, fed: int) -> tuple[int, int]:
        """Leave the file for the next piece, *fed* samples given to it: (frames, bytes) in it."""
        assert self.spool is not None
        frames, size = self.spool.set_aside()
        if self._warm is not None:
            self._warm.fed, self._warm.frames = self._warm.fed + fed, self._warm.frames + self.spool.emitted
        return frames, size

    def close(self) -> SpoolFacts:
        """Finish the file; the warm encoder, given silence rather than flushed, goes on to other files."""
        assert self.spool is not None and self.ahead is not None
        try:
            facts = self.spool.close()
        except BaseException:
            _WarmEncoder.drop(self._warm)  # its state is unknown
            raise
        if self._warm is not None:
            fed = self.spool.samples - self.ahead.restart + self.spool.padding  # whole frames
            self._warm.fed, self._warm.frames = self._warm.fed + fed, self._warm.frames + self.spool.emitted
        return facts

    def abandon(self) -> None:
        """Close the file unfinished, and the warm encoder (its state is unknown)."""
        if self.spool is not None:
            self.spool.abandon()
        _WarmEncoder.drop(self._warm)


@dataclass
class _Read:
    """The capture laid out from where a piece goes on."""

    start: int  # the recording's first sample on the timeline
    placement: Placement  # its counts: every block's frames read so far, by this piece and those before it
    clock: int  # the capture's clock when it was last written
    stop: int | None  # where the recording stopped, if it did
    read_to: int  # the offset after the last whole block
    reach: list[tuple[int, int]]  # per block of frames: (its offset, the end of its furthest frame)
    marks: tuple[tuple[int, int], ...]  # (kind, position) of every pause and mask marker so far


def _read_on(piece: _Piece) -> _Read | None:
    """Read the capture from where the piece's *ahead* needs it and lay it out from its restart on, handing the
    piece the audio a whole encode would hand out meanwhile (a minute behind the clock); None if the capture has
    not begun. Blocks read before are laid out again without being counted. A new block's frame before the audio
    encoded ahead, or near a minute late (a whole encode may leave such a frame out), or a pause that the file
    leaves out (``pause_behavior`` skip), spoils it (AheadSpoiledError)."""
    job, ahead = piece.job, piece.ahead
    placement, start, seen, read_to, encoded = None, 0, 0, 0, 0
    marks: tuple[tuple[int, int], ...] = ()
    if _begun(ahead):
        placement = Placement(ahead.start + ahead.restart, ahead.end, ahead.law)
        placement.counts = ahead.counts.copy()
        start, seen, read_to, encoded = ahead.start, ahead.read_to, ahead.resume, ahead.start + ahead.fed
        marks = ahead.marks
    clock, stop = 0, None
    reach: list[tuple[int, int]] = []
    for block in read_blocks(Path(job.capture), job.seal, read_to):
        read_to, new = block.end, block.offset >= seen
        if block.kind != LIMIT:
            clock = max(clock, block.clock)
        if block.kind == START and placement is None:
            placement, start = Placement(block.clock, NO_LIMIT), block.clock
        elif block.kind == LIMIT and placement is not None:
            placement.end = block.clock
        elif block.kind == STOP:
            stop = block.clock
        elif block.kind in (MASKED, PAUSED) and new and placement is not None:  # frames the tap left out
            placement.counts.received += block.count
            placement.counts.left_out["masked" if block.kind == MASKED else "paused"] += block.count
        elif block.kind in (PAUSE, RESUME, MASK_ON, MASK_OFF) and new:
            if block.kind in (PAUSE, RESUME) and job.cut_pauses:
                raise AheadSpoiledError("the recording was paused (the file leaves it out)")
            marks = (*marks, (block.kind, block.clock))
        elif placement is not None and block.count:
            furthest = max(block.positions) + max(block.lengths)
            reach.append((block.offset, furthest))
            if new and min(block.positions) < max(encoded, clock - WINDOW + BLOCK):
                late = (clock - min(block.positions)) / RATE
                raise AheadSpoiledError(f"a frame came {late:.1f} s late")
            if new or furthest > placement.base:  # a block read before: laid out again for the restart
                placement.add(block, counted=new)
            piece.write(placement.settled(block.clock), placement.codec)
    if placement is None:
        return None
    return _Read(start, placement, clock, stop, read_to, reach, marks)


def _spool(job: EncodeJob, ahead: Ahead | None) -> tuple[Mp3Spool, _WarmEncoder | None]:
    """The file to go on with (a new one, with a new encoder, before the first frame), and the warm encoder lent
    to it."""
    if not _begun(ahead):
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
