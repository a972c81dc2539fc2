"""Received RTP packets kept as they came — the bytes and each one's length, as the floor keeps them — until a
leg hands them on to its taps in one batch (``RtpSession.hand_on``).

Only plain packets of one source are kept (the usual path: no CSRCs, extension or padding; a new source goes the
other way), so a batch is read with a few array operations: every header's timestamp, and the payloads end to
end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from calltape.media.rtp import HEADER_SIZE

HAND_ON_FRAMES = 50  # packets kept before they are placed and handed to the taps (a second's worth)
_TIMESTAMP = struct.Struct("!I")


@dataclass(slots=True)
class KeptBatch:
    """What a batch of kept packets holds: their sources' RTP timestamps, the SSRC, payload lengths and payloads."""

    timestamps: npt.NDArray[np.int64]
    ssrc: int
    payload_lengths: npt.NDArray[np.uint16]
    payloads: bytes


@dataclass(slots=True)
class KeptPackets:
    """The packets a leg received and has not handed on yet. The receive path appends to ``data`` and
    ``lengths`` itself (no call per packet; both are only ever cleared in place, so it may hold them) and notes
    ``since``, the loop time the first one arrived."""

    data: bytearray = field(default_factory=bytearray)
    lengths: list[int] = field(default_factory=list)
    since: float = 0.0

    def take(self) -> KeptBatch | None:
        """Everything kept so far, read apart (None if nothing was); the store is empty afterwards."""
        lengths = self.lengths
        count = len(lengths)
        if not count:
            return None
        data = bytes(self.data)
        self.data.clear()
        ssrc = int.from_bytes(data[8:12], "big")  # one source per batch: a new one takes the other path
        size = lengths[0]
        if lengths.count(size) == count:  # the usual batch: packets of one size, read as a table
            timestamps = np.ndarray((count,), ">u4", data, 4, (size,)).astype(np.int64)
            payloads = np.frombuffer(data, np.uint8).reshape(count, size)[:, HEADER_SIZE:].tobytes()
            payload_lengths = np.full(count, size - HEADER_SIZE, np.uint16)
        else:
            starts = list(accumulate(lengths, initial=0))[:-1]
            timestamps = np.array([_TIMESTAMP.unpack_from(data, start + 4)[0] for start in starts], np.int64)
            payloads = b"".join(
                data[start + HEADER_SIZE : start + length] for start, length in zip(starts, lengths, strict=True)
            )
            payload_lengths = np.array(lengths, np.uint16) - HEADER_SIZE
        lengths.clear()
        return KeptBatch(timestamps, ssrc, payload_lengths, payloads)
