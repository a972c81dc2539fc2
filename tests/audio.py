"""Test audio, made once: a sine tone as 8 kHz 16-bit PCM, and the strongest frequency of a stretch of audio."""

from __future__ import annotations

import numpy as np

RATE = 8000


def tone(hz: float, seconds: float, *, amplitude: int = 8000) -> bytes:
    """*seconds* of a sine at *hz*: 8 kHz mono little-endian 16-bit PCM, as a phone says it."""
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * amplitude).astype("<i2").tobytes()


def dominant_frequency(pcm: np.ndarray, rate: int = RATE) -> float:
    """The strongest frequency in *pcm* (Hz)."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum[1:]) + 1) * rate / len(pcm)


def channel_hz(pcm: np.ndarray, rate: int, tolerance: float = 15.0) -> float:
    """The main frequency of the loud middle of one channel, which must carry it throughout: every 250 ms window
    from its first loud sample to its last holds that frequency, so a dropout (frames turned to silence), a
    channel swapped halfway or another sound in the middle fails the check."""
    loud = np.abs(pcm.astype(np.int32)) > 1000
    assert loud.sum() > rate // 2, f"only {int(loud.sum())} loud samples"
    first, last = int(loud.argmax()), len(loud) - int(loud[::-1].argmax())
    hz = dominant_frequency(pcm[first:last], rate)
    windows = window_hz(pcm[first:last], rate)
    off = {i * 0.25: round(found) for i, found in enumerate(windows) if abs(found - hz) > tolerance}
    assert not off, f"{hz:.0f} Hz, but not at these seconds of {len(windows) * 0.25:.2f} (0: silent): {off}"
    return hz


def window_hz(pcm: np.ndarray, rate: int = RATE, window: float = 0.25, level: int = 1000) -> list[float]:
    """The main frequency of each *window* seconds of *pcm*, 0.0 for a window without loud audio."""
    size = int(rate * window)
    found = []
    for start in range(0, len(pcm) - size + 1, size):
        part = pcm[start : start + size]
        found.append(dominant_frequency(part, rate) if np.abs(part.astype(np.int32)).max() > level else 0.0)
    return found


def heard_for(pcm: np.ndarray, hz: float, *, tolerance: float = 20.0, rate: int = RATE) -> float:
    """The longest stretch (seconds) of 250 ms windows whose main frequency is *hz*."""
    longest = run = 0
    for found in window_hz(pcm, rate):
        run = run + 1 if abs(found - hz) <= tolerance else 0
        longest = max(longest, run)
    return longest * 0.25
