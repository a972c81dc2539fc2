"""The e2e tests' audio check is strict enough to fail: a recording with frames turned to silence, or with the
other side's tone halfway, is not called right."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio import RATE, channel_hz, tone


def _pcm(*parts: bytes) -> np.ndarray:
    return np.frombuffer(b"".join(parts), "<i2")


def test_a_clean_tone_is_found() -> None:
    assert abs(channel_hz(_pcm(bytes(1600), tone(440, 3.0), bytes(1600)), RATE) - 440) < 5


def test_frames_turned_to_silence_fail_the_check() -> None:
    pcm = _pcm(tone(440, 3.0)).copy()
    pcm[RATE : RATE + 2400] = 0  # 0.3 s dropped in the middle (15 frames of 150)
    with pytest.raises(AssertionError, match="not at these seconds"):
        channel_hz(pcm, RATE)


def test_the_other_sides_tone_halfway_fails_the_check() -> None:
    with pytest.raises(AssertionError, match="not at these seconds"):
        channel_hz(_pcm(tone(440, 2.0), tone(1000, 1.0)), RATE)
