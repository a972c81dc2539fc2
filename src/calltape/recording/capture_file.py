"""The raw capture spool: a recording's received frames on disk, as they came, before any encoding.

A capture file is a run of blocks, each written with one ``write``: a header, then per frame its length and its
place on the call's media timeline, then the frames' G.711 bytes as received. The call writes a block per
direction about once a second, so a ``kill -9`` loses at most that second; a block torn by a crash is ignored.
Placing frames on the timeline, decoding and encoding happen later, off the event loop (``encoder.py``), so a
frame is kept however late or out of order it came.

Block kinds: ``IN`` (what the caller says), ``OUT`` (what the caller hears), and markers without frames whose
``clock`` is a position: ``START`` (the recording's first sample), ``LIMIT`` (where its time limit falls),
``STOP`` (where it was stopped), ``MASKED`` and ``PAUSED`` (frames left out while masked or paused, counted in
``count``), ``PAUSE``/``RESUME`` and ``MASK_ON``/``MASK_OFF`` (where a pause or a mask began and ended).
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from calltape.at_rest.keyring import Seal
from calltape.at_rest.sealed import DamagedRecordError, create_file, open_file
from calltape.media.taps import FrameBatch

MAGIC = b"CTC1"
IN, OUT, START, LIMIT, STOP, MASKED, PAUSED, PAUSE, RESUME, MASK_ON, MASK_OFF = range(11)
LAST_KIND = MASK_OFF
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
    count: int  # frames in the block (for MASKED and PAUSED: frames left out)
    offset: int = 0  # where the block begins in the capture
    end: int = 0  # where the next one begins


def frames_block(kind: int, law: str, clock: int, batches: list[FrameBatch]) -> bytes:
    """One direction's frames (*batches*, in the order received) as one block."""
    count = sum(len(batch) for batch in batches)
    return b"".join(
        [
            _HEADER.pack(MAGIC, kind, LAWS[law], count, clock),
            *(batch.lengths.astype("<u2", copy=False).tobytes() for batch in batches),
            *(batch.positions.astype("<i8", copy=False).tobytes() for batch in batches),
            *(batch.payloads for batch in batches),
        ]
    )


def marker_block(kind: int, position: int, count: int = 0) -> bytes:
    """A marker block (any kind but IN and OUT)."""
    return _HEADER.pack(MAGIC, kind, 0, count, position)


class CaptureWriter:
    """Appends blocks to a new capture file (sealed with *seal*, if given); what one call of ``write`` is given goes
    in one unbuffered write."""

    def __init__(self, path: Path, seal: Seal | None = None) -> None:
        self.path = path
        self._file = create_file(path, seal)

    def write(self, *blocks: bytes) -> None:
        """Append *blocks* (raises OSError, e.g. on a full disk: a block torn by it is ignored when read)."""
        data = b"".join(blocks) if len(blocks) != 1 else blocks[0]
        written = self._file.write(data)
        if written != len(data):
            raise OSError(28, "No space left on device (short write)")

    def close(self) -> None:
        """Close the file (what was written is on disk)."""
        self._file.close()


def read_blocks(path: Path, seal: Seal | None = None, start: int = 0) -> Iterator[Block]:
    """Every whole block of *path* in the order written, from the one at offset *start*; stops at a torn or damaged
    block (or the end of what a call has written so far). A sealed capture opens with *seal*, else with the
    keyring."""
    with open_file(path, seal=seal) as fh:
        fh.seek(start)
        offset = start

        def read(size: int) -> bytes:
            try:
                return fh.read(size)
            except DamagedRecordError:  # a sealed record that does not open: the capture ends before it
                return b""

        while len(header := read(_HEADER.size)) == _HEADER.size:
            magic, kind, law, count, clock = _HEADER.unpack(header)
            if magic != MAGIC or kind > LAST_KIND or law not in LAW_NAMES:
                return
            if kind not in (IN, OUT):
                yield Block(kind, "PCMU", clock, array("q"), array("H"), b"", count, offset, offset + _HEADER.size)
                offset += _HEADER.size
                continue
            index = read(10 * count)
            if len(index) != 10 * count:
                return
            lengths, positions = array("H"), array("q")
            lengths.frombytes(index[: 2 * count])
            positions.frombytes(index[2 * count :])
            total = sum(lengths)
            payload = read(total)
            if len(payload) != total:
                return
            end = offset + _HEADER.size + 10 * count + total
            yield Block(kind, LAW_NAMES[law], clock, positions, lengths, payload, count, offset, end)
            offset = end
