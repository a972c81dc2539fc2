"""Encoding an MP3 recording ahead, while its call goes on, so that little is left to encode when it ends.

Every few seconds an encoder process reads what the call's capture gained, lays it on the timeline and encodes
the audio that is settled (``MARGIN`` behind the capture's clock) into the recording's file. LAME lends no bits
between frames (``lame.py``), so an encoder started on a frame boundary ``PRE_ROLL`` frames before the file's end
gives the very bytes one that ran from the start would: the pieces join exactly, and no encoder is kept between
pieces (memory per call holds none).

Each piece keeps a digest of the audio it was made from. When the call ends the final encode (``encoder.py``)
lays the whole capture out again, as always, and checks the digests: if they agree it encodes only the rest. A
frame that came later than the margin into audio already encoded (or a pause, which moves what follows in the
file) makes it encode the whole file afresh: encoding ahead saves work, it never decides what the file holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from calltape.media.g711 import G711
from calltape.recording.capture_file import IN, LIMIT, OUT, PAUSE, RESUME, START, STOP, read_blocks
from calltape.recording.channels import ChannelWriter
from calltape.recording.encode_job import Ahead, EncodeJob
from calltape.recording.placement import NO_LIMIT, RATE, Placement
from calltape.recording.spool import Mp3Spool

MARGIN = 2 * RATE  # audio this far behind the capture's clock (written once a second) is taken as settled


def can_encode_ahead(fmt: str, rate: int) -> bool:
    """Only MP3 at 8 kHz is encoded ahead (WAV costs little to make at the end; other rates are resampled)."""
    return fmt == "mp3" and rate == RATE


def encode_ahead(job: EncodeJob, ahead: Ahead | None) -> Ahead:
    """Encode the settled audio of *job*'s capture that is not in its file yet (blocking; in an encoder process).
    *ahead*: the last piece's result (None before the first)."""
    if ahead is not None and ahead.done:
        return ahead
    placement = None if ahead is None else Placement(ahead.start + ahead.restart, ahead.end, ahead.law)
    start, clock = (0, 0) if ahead is None else (ahead.start, 0)
    reach: list[tuple[int, int]] = []  # per block of frames: (its offset, the end of its furthest frame)
    read_to = ahead.resume if ahead is not None else 0
    for block in read_blocks(Path(job.capture), job.seal, read_to):
        read_to = block.end
        if block.kind == START and placement is None:
            placement, start = Placement(block.clock, NO_LIMIT), block.clock
        elif block.kind == LIMIT and placement is not None:
            placement.end = block.clock
        elif block.kind in (PAUSE, RESUME, STOP):
            return replace(ahead, done=True) if ahead is not None else Ahead(0, NO_LIMIT, "PCMU", done=True)
        elif block.kind in (IN, OUT) and placement is not None and block.count:
            furthest = max(block.positions) + max(block.lengths)
            reach.append((block.offset, furthest))
            if furthest > placement.base:  # else all encoded already
                placement.add(block)
        if block.kind != LIMIT:
            clock = max(clock, block.clock)
    if placement is None:
        return Ahead(0, NO_LIMIT, "PCMU")
    fed = 0 if ahead is None else ahead.fed
    settled = min(clock - MARGIN, placement.end) - start
    if settled - fed < RATE:  # less than a second more: not worth a piece
        return ahead or Ahead(start, placement.end, placement.codec.name, resume=0)
    frames, size, digest = _encode_piece(job, ahead, placement, start + settled, fed)
    after = Ahead(start, placement.end, placement.codec.name, frames, size)
    after = replace(after, digests=(*(ahead.digests if ahead else ()), (settled, digest)))
    needed = start + after.restart  # the next piece lays out the audio from here on
    after_reach = [offset for offset, furthest in reach if furthest > needed]
    return replace(after, resume=after_reach[0] if after_reach else read_to)


def _encode_piece(
    job: EncodeJob, ahead: Ahead | None, placement: Placement, until: int, fed: int
) -> tuple[int, int, bytes]:
    """Encode the audio laid out up to timeline position *until* into the file; its frames and size, and the
    digest of the audio past sample *fed*."""
    output = Path(job.output)
    if ahead is None or ahead.frames == 0:
        spool = Mp3Spool(output, RATE, job.channels, threaded=False, seal=job.seal)
        restart = 0
    else:
        restart = ahead.restart
        spool = Mp3Spool.resumed(
            output, job.channels, frames=ahead.frames, size=ahead.size, samples=restart, seal=job.seal
        )
    writer = ChannelWriter(spool, stereo=job.channels == 2)
    digest = AudioDigest()
    try:
        position = restart
        for said, heard in placement.upto(until):
            digest.add(said, heard, position, fed)
            writer.write(said, heard, placement.codec)
            position += len(said)
        frames, size = spool.set_aside()
    except BaseException:
        spool.abandon()
        raise
    return frames, size, digest.value()


class AudioDigest:
    """A digest of both directions' G.711 from a sample on, however the audio is cut into pieces."""

    def __init__(self) -> None:
        self._said, self._heard = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)

    def add(self, said: bytes, heard: bytes, position: int, since: int) -> None:
        """Audio from sample *position* on: the part from sample *since* on counts."""
        skip = max(0, since - position)
        self._said.update(said[skip:])
        self._heard.update(heard[skip:])

    def value(self) -> bytes:
        return self._said.digest() + self._heard.digest()


class AheadMismatchError(Exception):
    """The audio laid out now is not what a piece encoded ahead was made from: encode the whole file afresh."""


class AheadCheck:
    """The final encode's writer while a file encoded ahead is checked: the audio laid out is matched against the
    pieces' digests and, once past them all, the file goes on (a resumed spool) from ``restart`` — the audio
    kept since then is encoded again and the frames already on disk left out of the file."""

    def __init__(self, job: EncodeJob, ahead: Ahead) -> None:
        self.job = job
        self.ahead = ahead
        self.writer: ChannelWriter | None = None
        self.position = 0
        self._pieces: Iterator[tuple[int, bytes]] = iter(ahead.digests)
        self._piece: tuple[int, bytes] | None = next(self._pieces)
        self._digest = AudioDigest()
        self._kept: list[tuple[bytes, bytes]] = []  # the audio from ``restart`` on, until the writer starts

    def write(self, said: bytes, heard: bytes, codec: G711) -> None:
        """The next stretch of the recording's audio."""
        if self.writer is not None:
            self.writer.write(said, heard, codec)
            return
        position, self.position = self.position, self.position + len(said)
        if self.position > self.ahead.restart:
            skip = max(0, self.ahead.restart - position)
            self._kept.append((said[skip:], heard[skip:]))
        at = position  # what of the stretch is checked so far
        while self._piece is not None and self._piece[0] <= self.position:
            end, expected = self._piece
            self._digest.add(said[at - position : end - position], heard[at - position : end - position], at, at)
            if self._digest.value() != expected:
                raise AheadMismatchError(f"the audio before sample {end} changed after it was encoded ahead")
            self._digest, at = AudioDigest(), end
            self._piece = next(self._pieces, None)
        if self._piece is not None:
            self._digest.add(said[at - position :], heard[at - position :], at, at)
            return
        self._start_writer(codec)

    def finish(self, codec: G711) -> ChannelWriter:
        """The audio ended: the writer that holds the file (started now if the audio ended where the pieces did)."""
        if self.writer is None:
            if self._piece is not None:
                raise AheadMismatchError("the audio ended before the part encoded ahead")
            self._start_writer(codec)
        assert self.writer is not None
        return self.writer

    def _start_writer(self, codec: G711) -> None:
        ahead = self.ahead
        spool = Mp3Spool.resumed(
            Path(self.job.output),
            self.job.channels,
            frames=ahead.frames,
            size=ahead.size,
            samples=ahead.restart,
            seal=self.job.seal,
        )
        self.writer = ChannelWriter(spool, stereo=self.job.channels == 2)
        for said, heard in self._kept:
            self.writer.write(said, heard, codec)
        self._kept = []
