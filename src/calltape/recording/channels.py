"""The audio of a recording's timeline as its file wants it: both directions decoded, mixed (mono) or interleaved
(stereo), resampled if asked, with the stretches the file leaves out (pauses) cut — and those stretches themselves.
"""

from __future__ import annotations

import audioop
from typing import Any

from calltape.media.g711 import G711
from calltape.recording.capture_file import MASK_ON, PAUSE, RESUME
from calltape.recording.placement import RATE
from calltape.recording.spool import AudioSpool


class Spans:
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

    def in_file(self, start: int, end: int, cut: Spans | None, *, whole: bool = False) -> list[tuple[int, int]]:
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


class Stretches:
    """Where a recording was paused and where it was masked, from its capture's markers."""

    def __init__(self) -> None:
        self.pauses, self.masks = Spans(), Spans()

    def mark(self, kind: int, at: int) -> None:
        """A PAUSE, RESUME, MASK_ON or MASK_OFF marker at timeline position *at*."""
        spans = self.pauses if kind in (PAUSE, RESUME) else self.masks
        spans.mark(at, on=kind in (PAUSE, MASK_ON))

    def in_file(self, start: int, end: int, *, cut_pauses: bool) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The pauses and the masks within ``[start, end)`` as (offset in the file, length) (see ``Spans.in_file``;
        with *cut_pauses* the file leaves the pauses out)."""
        cut = self.pauses if cut_pauses else None
        return self.pauses.in_file(start, end, cut, whole=True), self.masks.in_file(start, end, cut)


class ChannelWriter:
    """Decodes a stretch of both directions and writes it as the file wants it."""

    def __init__(self, spool: AudioSpool, *, stereo: bool, cuts: Spans | None = None) -> None:
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
