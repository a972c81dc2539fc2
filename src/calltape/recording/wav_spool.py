"""A WAV file written as the audio arrives: frames gathered and written about once a second, the header
patched on close — so a recording is on disk within a second of its audio, with one write per batch."""

from __future__ import annotations

import wave
from pathlib import Path

RATE = 8000
BATCH_BYTES = 2 * RATE  # one second of 16-bit mono


class WavSpool:
    """16-bit PCM at 8 kHz into *path*."""

    def __init__(self, path: Path, channels: int = 1) -> None:
        self.path = path
        self._wav = wave.open(str(path), "wb")  # noqa: SIM115 - closed by close()
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._written_bytes = 0
        self._batch = BATCH_BYTES * channels
        self.channels = channels

    def write(self, pcm: bytes) -> None:
        """Add audio; it reaches the file within about a second."""
        self._pending.append(pcm)
        self._pending_bytes += len(pcm)
        if self._pending_bytes >= self._batch:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered (one write)."""
        if self._pending:
            data = b"".join(self._pending)
            self._wav.writeframesraw(data)
            self._written_bytes += len(data)
            self._pending, self._pending_bytes = [], 0

    @property
    def seconds(self) -> float:
        """How much audio has been given so far."""
        return (self._written_bytes + self._pending_bytes) / (2 * self.channels * RATE)

    def close(self) -> float:
        """Write the rest, patch the header; the duration in seconds."""
        self.flush()
        self._wav.close()
        return self.seconds
