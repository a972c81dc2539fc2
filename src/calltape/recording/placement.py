"""Frames of a capture laid on the recording's timeline, every received frame at its place.

The timeline is the recording's: sample ``start`` is its first sample, ``end`` (the time limit) is past its
last. Two buffers hold it in G.711 (a byte a sample) — what the caller says and what the caller hears — with
a written-mask each, from ``base`` on; everything before ``base`` has been handed out, a second at a time,
once the capture's clock is ``WINDOW`` past it. A frame is written where its position says however late it
came within that window (a minute: nothing in a recording is real time); two frames never overwrite each
other, so a duplicate is counted and left out, and a frame that overlaps one already written fills only the
samples still free. Every frame read is counted once, as written or left out with its reason.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from calltape.media.g711 import G711
from calltape.recording.capture_file import IN, Block

RATE = 8000
BLOCK = RATE  # one second: what is handed out at a time
NO_LIMIT = 2**62  # the end of a capture whose LIMIT marker never reached the disk
WINDOW = 60 * RATE  # how long after its place (by the capture's clock) a frame is still written
LEFT_OUT_REASONS = ("masked", "paused", "duplicate", "before_start", "after_limit", "too_late", "not_captured")
_LAWS = {"PCMU": G711("PCMU", 0), "PCMA": G711("PCMA", 8)}
_WRITTEN = b"\x01" * 4096


@dataclass
class FrameCounts:
    """What became of the frames of one recording."""

    received: int = 0
    written: int = 0
    left_out: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEFT_OUT_REASONS, 0))

    def as_document(self) -> dict[str, object]:
        """The counts as the recording's metadata shows them."""
        return {"received": self.received, "written": self.written, "left_out": dict(self.left_out)}

    def copy(self) -> FrameCounts:
        return FrameCounts(self.received, self.written, dict(self.left_out))

    def add(self, other: FrameCounts) -> None:
        """Add *other*'s counts to these."""
        self.received += other.received
        self.written += other.written
        for reason, frames in other.left_out.items():
            self.left_out[reason] = self.left_out.get(reason, 0) + frames

    def flat(self) -> dict[str, int]:
        """One level: ``received``, ``written``, ``left_out.<reason>``."""
        return {
            "received": self.received,
            "written": self.written,
            **{f"left_out.{reason}": frames for reason, frames in self.left_out.items()},
        }


class Placement:
    """Lays the frames of a capture's blocks on the timeline ``[start, end)`` and hands it out in order."""

    def __init__(self, start: int, end: int, law: str | None = None) -> None:
        """*law*: the buffers' (else the first frames')."""
        self.start = start
        self.end = end
        self.base = start  # timeline position of the buffers' first byte
        self.furthest = start  # the end of the furthest frame written
        self.codec = _LAWS[law or "PCMU"]
        self.counts = FrameCounts()
        self._fill = self.codec.silence[:1]
        self._said = bytearray()
        self._heard = bytearray()
        self._said_mask = bytearray()
        self._heard_mask = bytearray()
        self._law_set = law is not None

    def add(self, block: Block, *, counted: bool = True) -> None:
        """Place every frame of a direction's block (*counted*: in ``counts``; else laid out again, counted before)."""
        if not counted:
            kept, self.counts = self.counts, FrameCounts()
            try:
                self.add(block)
            finally:
                self.counts = kept
            return
        if not self._law_set:  # the buffers keep the law the first frames came in
            self._law_set = True
            self.codec, self._fill = _LAWS[block.law], _LAWS[block.law].silence[:1]
        payload = block.payload
        if block.law != self.codec.name:  # a change of law mid-call: kept in the buffers' law
            payload = self.codec.encode(_LAWS[block.law].decode(payload))
        said = block.kind == IN
        buffer, mask = (self._said, self._said_mask) if said else (self._heard, self._heard_mask)
        positions, lengths = block.positions, block.lengths
        self.counts.received += block.count
        if self._place_run(buffer, mask, positions, lengths, payload):
            return
        offset = 0
        for position, length in zip(positions, lengths, strict=True):
            self._place(buffer, mask, position, payload[offset : offset + length])
            offset += length

    def _place_run(
        self, buffer: bytearray, mask: bytearray, positions: array[int], lengths: array[int], payload: bytes
    ) -> bool:
        """The usual block: equal frames one after another, all on free timeline from ``base`` on. One slice each
        way. Its frames before ``base`` are left out (before the start, or too late: handed out already, as when a
        block is laid out again), and one across ``base`` is cut there, as ``_place`` does frame by frame."""
        count = len(positions)
        size = lengths[0]
        first = positions[0]
        late = max(0, self.base - first)  # the run's samples before base
        if (
            size == 0
            or late >= count * size
            or first + count * size > self.end
            or lengths.count(size) != count
            or positions[-1] != first + (count - 1) * size
            or positions != array("q", range(first, first + count * size, size))
        ):
            return False
        offset, placed = first + late - self.base, count * size - late
        self._reach(offset + placed)
        if mask.find(1, offset, offset + placed) >= 0:
            return False
        buffer[offset : offset + placed] = payload[late:] if late else payload
        mask[offset : offset + placed] = _ones(placed)
        self.furthest = max(self.furthest, first + count * size)
        before = late // size  # whole frames before base
        before_start = min(before, max(0, self.start - first) // size)
        self.counts.written += count - before
        if before:
            self.counts.left_out["before_start"] += before_start
            self.counts.left_out["too_late"] += before - before_start
        return True

    def _place(self, buffer: bytearray, mask: bytearray, position: int, frame: bytes) -> None:
        left_out = self.counts.left_out
        size = len(frame)
        if size == 0:  # nothing to place (the tap drops these; a capture from elsewhere may hold one)
            self.counts.written += 1
            return
        if position + size <= self.start:
            left_out["before_start"] += 1
            return
        if position >= self.end:
            left_out["after_limit"] += 1
            return
        if position + size <= self.base:
            left_out["too_late"] += 1
            return
        cut = max(self.base - position, 0)  # the part before start, or already handed out
        tail = max(position + size - self.end, 0)  # the part past the limit
        frame = frame[cut : size - tail]
        position += cut
        size = len(frame)
        offset = position - self.base
        self._reach(offset + size)
        free = mask.count(0, offset, offset + size)
        if free == 0:
            left_out["duplicate"] += 1
            return
        if free == size:
            buffer[offset : offset + size] = frame
            mask[offset : offset + size] = _ones(size)
        else:  # overlaps a frame already written: only the free samples
            for index in range(size):
                if not mask[offset + index]:
                    buffer[offset + index] = frame[index]
                    mask[offset + index] = 1
        self.furthest = max(self.furthest, position + size)
        self.counts.written += 1

    def _reach(self, length: int) -> None:
        """Grow the buffers (silence, nothing written) to *length* bytes past ``base``."""
        missing = length - len(self._said)
        if missing > 0:
            for buffer in (self._said, self._heard):
                buffer += self._fill * missing
            for mask in (self._said_mask, self._heard_mask):
                mask += bytes(missing)

    def settled(self, clock: int) -> Iterator[tuple[bytes, bytes]]:
        """Whole seconds no frame can reach any more, the capture's clock being at *clock*: (said, heard)."""
        while self.base + BLOCK <= min(clock - WINDOW, self.end):
            yield self._take(BLOCK)

    def upto(self, position: int) -> Iterator[tuple[bytes, bytes]]:
        """Everything up to *position* (never past the limit), whatever may still come."""
        while self.base < min(position, self.end):
            yield self._take(min(BLOCK, min(position, self.end) - self.base))

    def last(self, stop: int) -> int:
        """Where the recording ends if it stopped at *stop*: there, or at the furthest frame written, never past the
        limit."""
        return min(max(stop, self.furthest), self.end)

    def rest(self, stop: int) -> Iterator[tuple[bytes, bytes]]:
        """Everything up to ``last(stop)``."""
        last = self.last(stop)
        while self.base < last:
            yield self._take(min(BLOCK, last - self.base))

    @property
    def samples(self) -> int:
        """Samples handed out so far."""
        return self.base - self.start

    def _take(self, samples: int) -> tuple[bytes, bytes]:
        self._reach(samples)
        said, heard = bytes(self._said[:samples]), bytes(self._heard[:samples])
        for buffer in (self._said, self._heard, self._said_mask, self._heard_mask):
            del buffer[:samples]
        self.base += samples
        return said, heard


def _ones(size: int) -> bytes:
    return _WRITTEN[:size] if size <= len(_WRITTEN) else b"\x01" * size
