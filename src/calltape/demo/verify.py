"""Checking a recording as a person would by ear: decode it (mpg123 for MP3), measure length and tones."""

from __future__ import annotations

import io
import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TONE_TOLERANCE_HZ = 15.0
LOUD = 1000  # a sample above this is part of a tone, not silence or codec noise


@dataclass(frozen=True)
class Decoded:
    """A decoded recording: samples × channels, its rate."""

    pcm: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        """Its length."""
        return len(self.pcm) / self.rate

    @property
    def channels(self) -> int:
        """1 or 2."""
        return int(self.pcm.shape[1])


def decode(path: Path) -> Decoded:
    """Decode a WAV, or an MP3 with mpg123 (an independent decoder)."""
    data = path.read_bytes()
    if path.suffix.lower() == ".wav":
        with wave.open(io.BytesIO(data)) as w:
            channels, rate = w.getnchannels(), w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return Decoded(pcm.reshape(-1, channels), rate)
    info = subprocess.run(["mpg123", "-t", "-v", "-"], input=data, capture_output=True, timeout=60).stderr.decode()
    match = re.search(r"MPEG [\d.]+ L III \S+ (\d+) (\S+)", info)
    if match is None:
        raise ValueError(f"mpg123 cannot read {path.name}")
    rate, channels = int(match.group(1)), 1 if match.group(2) == "mono" else 2
    raw = subprocess.run(["mpg123", "-q", "-s", "-"], input=data, capture_output=True, timeout=60).stdout
    return Decoded(np.frombuffer(raw, dtype="<i2").reshape(-1, channels), rate)


def tone_of(samples: np.ndarray, rate: int) -> float | None:
    """The main frequency of the loud part of one channel; None if it is (nearly) silent."""
    loud = np.abs(samples.astype(np.int32)) > LOUD
    if loud.sum() < rate // 2:
        return None
    first, last = int(loud.argmax()), len(loud) - int(loud[::-1].argmax())
    part = samples[first:last].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return float(np.argmax(spectrum[1:]) + 1) * rate / len(part)


def check(decoded: Decoded, tones: list[float], seconds: float | None, tolerance: float = 0.1) -> list[str]:
    """What is wrong with *decoded*: a channel count other than len(*tones*), a channel without its tone,
    a length more than *tolerance* from *seconds*. Empty when it is right."""
    problems = []
    if decoded.channels != len(tones):
        problems.append(f"{decoded.channels} channels, expected {len(tones)}")
    for index, expected in enumerate(tones[: decoded.channels]):
        found = tone_of(decoded.pcm[:, index], decoded.rate)
        if found is None or abs(found - expected) > TONE_TOLERANCE_HZ:
            heard = "silence" if found is None else f"{found:.0f} Hz"
            problems.append(f"channel {index + 1}: {heard}, expected {expected:.0f} Hz")
    if seconds is not None and abs(decoded.seconds - seconds) > tolerance:
        problems.append(f"{decoded.seconds:.2f} s long, the call recorded {seconds:.2f} s")
    return problems
