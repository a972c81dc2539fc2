"""The raw capture spool: a recording's received frames on disk, as they came, before any encoding.

A capture file is a run of blocks, each written with one ``write``: a header, then per frame its length and its
place on the call's media timeline, then the frames' G.711 bytes as received. The call writes a block per
direction about once a second, so a ``kill -9`` loses at most that second; a block torn by a crash is ignored.
Placing frames on the timeline, decoding and encoding happen later, off the event loop (``encoder.py``), so a
frame is kept however late or out of order it came.

Block kinds: ``IN`` (what the caller says), ``OUT`` (what the caller hears), and markers without frames whose
``clock`` is a position: ``START`` (the recording's first sample), ``LIMIT`` (where its time limit falls),
``STOP`` (where it was stopped), and ``MASKED`` (frames left out while masked, counted in ``count``).
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from calltape.media.taps import FrameBatch

MAGIC = b"CTC1"
IN, OUT, START, LIMIT, STOP, MASKED = range(6)
LAWS = {"PCMU": 0, "PCMA": 1}
LAW_NAMES = {number: name for name, number in LAWS.items()}
#: magic, kind, law, count, clock (the timeline position when the block was written)
_HEADER = struct.Struct("<4sBBxxIq")
SUFFIX = ".capture"


def capture_path(output: Path) -> Path:
    """Where the capture of the recording that will be *output* lies (beside it)."""
    return output.with_suffix(SUFFIX)


@dataclass(frozen=True, slots=True)
class Block:
    """One block read back: a direction's frames, or a marker."""

    kind: int
    law: str
    clock: int
    positions: array[int]  # 'q': one per frame
    lengths: array[int]  # 'H'
    payload: bytes  # the frames, one after another
    count: int  # frames in the block (for MASKED: frames left out)


class CaptureWriter:
    """Appends blocks to a capture file; each block is one unbuffered write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    def frames(self, kind: int, law: str, clock: int, batches: list[FrameBatch]) -> None:
        """Write one direction's frames, in one block (raises OSError, e.g. on a full disk)."""
        count = sum(len(batch) for batch in batches)
        self._write(
            b"".join(
                [
                    _HEADER.pack(MAGIC, kind, LAWS[law], count, clock),
                    *(batch.lengths.astype("<u2").tobytes() for batch in batches),
                    *(batch.positions.astype("<i8").tobytes() for batch in batches),
                    *(batch.payloads for batch in batches),
                ]
            )
        )

    def marker(self, kind: int, position: int, count: int = 0) -> None:
        """Write a marker block (START, LIMIT, STOP, MASKED)."""
        self._write(_HEADER.pack(MAGIC, kind, 0, count, position))

    def _write(self, data: bytes) -> None:
        written = os.write(self._fd, data)
        if written != len(data):  # a disk that filled up mid-block: the torn block is ignored when read
            raise OSError(28, "No space left on device (short write)")

    def close(self) -> None:
        """Close the file (what was written is on disk)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_blocks(path: Path) -> Iterator[Block]:
    """Every whole block of *path* in the order written; stops at a torn or damaged block."""
    with path.open("rb") as fh:
        while len(header := fh.read(_HEADER.size)) == _HEADER.size:
            magic, kind, law, count, clock = _HEADER.unpack(header)
            if magic != MAGIC or kind > MASKED or law not in LAW_NAMES:
                return
            if kind not in (IN, OUT):
                yield Block(kind, "PCMU", clock, array("q"), array("H"), b"", count)
                continue
            index = fh.read(10 * count)
            if len(index) != 10 * count:
                return
            lengths, positions = array("H"), array("q")
            lengths.frombytes(index[: 2 * count])
            positions.frombytes(index[2 * count :])
            total = sum(lengths)
            payload = fh.read(total)
            if len(payload) != total:
                return
            yield Block(kind, LAW_NAMES[law], clock, positions, lengths, payload, count)
