"""Real audio files for upload tests: an MP3 encoded with lameenc and a WAV written with the stdlib."""

from __future__ import annotations

import io
import math
import struct
import wave

import lameenc


def tone_pcm(seconds: float, hz: float = 440.0, rate: int = 8000) -> bytes:
    """16-bit mono PCM of a sine tone."""
    n = int(seconds * rate)
    return b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(n))


def mp3_bytes(seconds: float = 1.0, hz: float = 440.0) -> bytes:
    """An MP3 of a tone."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(8000)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(tone_pcm(seconds, hz)) + encoder.flush())


def wav_bytes(seconds: float = 1.0, hz: float = 440.0) -> bytes:
    """A WAV of a tone."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone_pcm(seconds, hz))
    return buf.getvalue()
