"""Strict checks of a recording against the sweep SIPp streamed (bench/load.write_sweep): nothing loose enough to
call a damaged file right.

- ``sweep_windows``: the file is cut into 250 ms windows; with ONE time offset for the whole file (found by
  search), each window's main frequency must be within 60 Hz of the sweep's at that time. A dropped or doubled
  stretch shifts everything after it, so those windows fail. (Windows where the sweep restarts, or beyond what
  8 kHz MP3 keeps, are not judged.)
- ``exact_frames`` (WAV): the channel is cut into 20 ms frames on the grid that matches best, and each frame is
  looked up among the decoded frames of the sweep: a frame received and written is byte-identical. Counts exact
  frames, silent ones, and "other" (partial, shifted, or debris), and checks that exact frames follow each other
  in the order they were sent.
"""

from __future__ import annotations

import audioop
import itertools
from pathlib import Path
from typing import Any

import numpy as np

RATE = 8000
WINDOW = RATE // 4  # 250 ms
FRAME = 160
TOLERANCE_HZ = 60.0
TRACKED_BELOW = 2800.0


def sweep_frequency(t: np.ndarray, period: float) -> np.ndarray:
    """The instantaneous frequency of write_sweep's sweep (sin 2π(300 + 150 t) t) at time *t* into the file."""
    return 300.0 + 300.0 * (t % period)


def sweep_windows(channel: np.ndarray, period: float) -> dict[str, Any]:
    """Share of judged 250 ms windows that track the sweep with one offset for the whole file."""
    count = len(channel) // WINDOW
    if count < 4:
        return {"windows": count, "tracking": 0.0}
    windows = channel[: count * WINDOW].reshape(count, WINDOW).astype(np.float64) * np.hanning(WINDOW)
    loud = np.sqrt(np.mean(windows**2, axis=1)) > 100
    peaks = np.argmax(np.abs(np.fft.rfft(windows, axis=1))[:, 1:], axis=1) + 1
    measured = peaks * RATE / WINDOW
    starts = np.arange(count) * WINDOW / RATE
    best: tuple[int, int, float] = (-1, 1, 0.0)
    for offset in np.arange(0.0, period, 0.005):  # where in the sweep the file starts
        begin = (starts + offset) % period
        judged = (begin + WINDOW / RATE < period) & (sweep_frequency(begin, period) > 350)
        judged &= sweep_frequency(begin + WINDOW / RATE, period) < TRACKED_BELOW
        expected = sweep_frequency(begin + WINDOW / RATE / 2, period)
        hits = int(((np.abs(measured - expected) < TOLERANCE_HZ) & loud & judged).sum())
        if hits > best[0]:
            best = (hits, int(judged.sum()), float(offset))
    hits, judged_count, offset = best
    return {"windows": judged_count, "tracking": round(hits / max(1, judged_count), 4), "offset_s": offset}


def reference_frames(sweep_ulaw: Path) -> dict[bytes, int]:
    """The decoded 20 ms frames of the streamed file, by their bytes → their index in the file."""
    pcm = np.frombuffer(audioop.ulaw2lin(sweep_ulaw.read_bytes(), 2), dtype="<i2")
    return {pcm[i : i + FRAME].tobytes(): i // FRAME for i in range(0, len(pcm) - FRAME + 1, FRAME)}


def exact_frames(channel: np.ndarray, reference: dict[bytes, int]) -> dict[str, Any]:
    """Which 20 ms frames of *channel* are frames of the reference, exactly, and in the order sent."""
    grid = max(
        range(FRAME),
        key=lambda o: sum(
            channel[i : i + FRAME].tobytes() in reference for i in range(o, len(channel) - FRAME, 25 * FRAME)
        ),
    )
    found = []
    for i in range(grid, len(channel) - FRAME + 1, FRAME):
        frame = channel[i : i + FRAME]
        found.append(reference.get(frame.tobytes(), -1 if frame.any() else -2))
    exact = [n for n in found if n >= 0]
    period = len(reference)
    out_of_order = sum(1 for a, b in itertools.pairwise(exact) if (b - a) % period != 1)
    return {
        "frames": len(found),
        "exact": len(exact),
        "silent": sum(1 for n in found if n == -2),
        "other": sum(1 for n in found if n == -1),
        "out_of_order": out_of_order,
    }
