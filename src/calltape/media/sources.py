"""Audio to play: 8 kHz 16-bit mono PCM from files, tones and the TTS cache."""

from __future__ import annotations

import audioop
import io
import subprocess
import wave
from pathlib import Path

import numpy as np

from calltape.media.formats import format_of

RATE = 8000


class MediaError(ValueError):
    """Audio that cannot be read or converted."""


def tone(frequencies: tuple[float, ...], seconds: float, level: float = 0.3) -> bytes:
    """A steady tone (one or more frequencies summed), as PCM."""
    t = np.arange(int(seconds * RATE)) / RATE
    mixed = np.zeros_like(t)
    for f in frequencies:
        mixed += np.sin(2 * np.pi * f * t)
    return bytes((mixed / max(1, len(frequencies)) * level * 32767).astype("<i2").tobytes())


def cadence(frequencies: tuple[float, ...], on: float, off: float, seconds: float) -> bytes:
    """A tone switched on and off (ringback: 440+480 Hz, 2 s on, 4 s off)."""
    period = tone(frequencies, on) + bytes(2 * int(off * RATE))
    repeats = int(seconds / (on + off)) + 1
    return (period * repeats)[: 2 * int(seconds * RATE)]


def ringback(seconds: float) -> bytes:
    """*seconds* of North American ringback: 440+480 Hz, 2 s on, 4 s off (what a caller hears while phones ring)."""
    return cadence((440.0, 480.0), 2.0, 4.0, seconds)


TONES = {
    "beep": lambda: tone((1000.0,), 0.25),
    "ringback": lambda: ringback(6.0),
    "busy": lambda: cadence((480.0, 620.0), 0.5, 0.5, 3.0),
    "dialtone": lambda: tone((350.0, 440.0), 3.0),
}


def wav_to_pcm(data: bytes) -> bytes:
    """Any PCM WAV (rate, channels, 8/16/24/32-bit) → 8 kHz mono 16-bit PCM."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise MediaError(f"not a PCM WAV file: {exc}") from None
    if width == 1:
        frames = audioop.bias(frames, 1, -128)
    if width != 2:
        frames = audioop.lin2lin(frames, width, 2)
    if channels == 2:
        frames = audioop.tomono(frames, 2, 0.5, 0.5)
    elif channels != 1:
        raise MediaError(f"{channels} channels are not supported")
    if rate != RATE:
        frames, _ = audioop.ratecv(frames, 2, 1, rate, RATE, None)
    return bytes(frames)


def mp3_to_pcm(data: bytes) -> bytes:
    """MP3 → 8 kHz mono PCM, decoded by mpg123 (Debian package mpg123)."""
    try:
        result = subprocess.run(["mpg123", "-q", "-w", "-", "-"], input=data, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MediaError(f"cannot run mpg123: {exc}") from None
    if result.returncode != 0 or not result.stdout:
        raise MediaError("not a decodable MP3 file")
    return wav_to_pcm(fix_streamed_wav_header(result.stdout))


def fix_streamed_wav_header(data: bytes) -> bytes:
    """Tools writing WAV to a pipe cannot seek back to fill in the sizes: set the real ones."""
    if data[:4] != b"RIFF" or len(data) < 44:
        return data
    fixed = bytearray(data)
    fixed[4:8] = (len(data) - 8).to_bytes(4, "little")
    data_at = data.find(b"data", 12)
    if data_at >= 0:
        fixed[data_at + 4 : data_at + 8] = (len(data) - data_at - 8).to_bytes(4, "little")
    return bytes(fixed)


def pcm_to_wav(pcm: bytes) -> bytes:
    """8 kHz mono PCM → WAV bytes (how converted media is kept)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return buf.getvalue()


def load_pcm(path: Path) -> bytes:
    """PCM from a file kept by calltape: a WAV (already 8 kHz mono) or an MP3 (a voicemail message)."""
    data = path.read_bytes()
    return mp3_to_pcm(data) if format_of(path) == "mp3" else wav_to_pcm(data)
