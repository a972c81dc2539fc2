"""Real audio files for upload tests: an MP3 encoded by LAME (through calltape's spool) and a WAV (stdlib)."""

from __future__ import annotations

import io
import math
import struct
import tempfile
import wave
from pathlib import Path

from calltape.recording.spool import Mp3Spool


def tone_pcm(seconds: float, hz: float = 440.0, rate: int = 8000) -> bytes:
    """16-bit mono PCM of a sine tone."""
    n = int(seconds * rate)
    return b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(n))


def mp3_bytes(seconds: float = 1.0, hz: float = 440.0) -> bytes:
    """An MP3 of a tone."""
    with tempfile.TemporaryDirectory() as tmp:
        spool = Mp3Spool(Path(tmp) / "tone.mp3")
        spool.write(tone_pcm(seconds, hz))
        spool.close()
        return spool.path.read_bytes()


def wav_bytes(seconds: float = 1.0, hz: float = 440.0) -> bytes:
    """A WAV of a tone."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone_pcm(seconds, hz))
    return buf.getvalue()
