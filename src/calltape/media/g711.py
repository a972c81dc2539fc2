"""G.711 µ-law and A-law per 20 ms frame (stdlib audioop: ~0.1 µs a frame; audioop-lts on Python 3.13+)."""

from __future__ import annotations

import audioop
from dataclasses import dataclass
from functools import cached_property

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = 2 * FRAME_SAMPLES  # 16-bit linear PCM


@dataclass(frozen=True)
class G711:
    """One of the two G.711 laws."""

    name: str  # PCMU or PCMA
    payload_type: int

    def decode(self, payload: bytes) -> bytes:
        """Encoded bytes → 16-bit little-endian PCM."""
        return audioop.ulaw2lin(payload, 2) if self.name == "PCMU" else audioop.alaw2lin(payload, 2)

    def encode(self, pcm: bytes) -> bytes:
        """16-bit PCM → encoded bytes."""
        return audioop.lin2ulaw(pcm, 2) if self.name == "PCMU" else audioop.lin2alaw(pcm, 2)

    @cached_property
    def silence(self) -> bytes:
        """One encoded frame of silence (encoded once per codec)."""
        return self.encode(bytes(FRAME_BYTES))


def codec_for(name: str, payload_type: int) -> G711:
    """The codec for a negotiated encoding name."""
    if name not in ("PCMU", "PCMA"):
        raise ValueError(f"unsupported codec {name}")
    return G711(name, payload_type)
