"""Received RTP packets kept as they came — the bytes and each one's length, as the floor keeps them — until a
leg hands them on to its taps in one batch (``RtpSession.hand_on``).

Only plain packets of one source are kept (the usual path: no CSRCs, extension or padding; a new source goes the
other way), so a batch is read with a few array operations: every header's timestamp, and the payloads end to
end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from calltape.media.rtp import HEADER_SIZE

HAND_ON_FRAMES = 50  # packets kept before they are placed and handed to the taps (a second's worth)
_TIMESTAMP_BYTES = np.arange(4, 8)  # where a header's timestamp lies
_BIG_ENDIAN = np.array([1 << 24, 1 << 16, 1 << 8, 1], np.int64)


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
        if not self.lengths:
            return None
        data = bytes(self.data)
        sizes = np.array(self.lengths, np.int64)
        self.data.clear()
        self.lengths.clear()
        raw = np.frombuffer(data, np.uint8)
        starts = np.cumsum(sizes) - sizes
        timestamps = raw[starts[:, None] + _TIMESTAMP_BYTES].astype(np.int64) @ _BIG_ENDIAN
        ssrc = int.from_bytes(data[8:12], "big")  # one source per batch: a new one takes the other path
        if (sizes == sizes[0]).all():
            payloads = raw.reshape(len(sizes), int(sizes[0]))[:, HEADER_SIZE:].tobytes()
        else:
            payloads = b"".join(
                data[start + HEADER_SIZE : start + size] for start, size in zip(starts, sizes, strict=True)
            )
        return KeptBatch(timestamps, ssrc, (sizes - HEADER_SIZE).astype(np.uint16), payloads)
