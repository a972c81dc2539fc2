"""Audio conversion and the port pool."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from calltape.media.library import to_pcm
from calltape.media.ports import PortsExhaustedError, RtpPortPool
from calltape.media.sources import MediaError, tone
from tests.audio import dominant_frequency
from tests.ports import rtp_range
from tests.receiver.audio import mp3_bytes


def _wav(rate: int, channels: int, seconds: float, hz: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    mono = (np.sin(2 * np.pi * hz * t) * 10000).astype("<i2")
    data = np.repeat(mono, channels)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (16000, 1), (44100, 2), (22050, 1)])
def test_wav_of_any_rate_and_channels_becomes_8k_mono(rate: int, channels: int) -> None:
    pcm = np.frombuffer(to_pcm(_wav(rate, channels, 1.0, 440)), dtype=np.int16)
    assert abs(len(pcm) - 8000) <= 2
    assert abs(dominant_frequency(pcm) - 440) < 5


def test_mp3_decodes_and_garbage_is_refused() -> None:
    pcm = np.frombuffer(to_pcm(mp3_bytes(1.0, 800)), dtype=np.int16)
    assert abs(dominant_frequency(pcm) - 800) < 10
    with pytest.raises(MediaError):
        to_pcm(b"hello world")


def test_tone_and_port_pool() -> None:
    # below the kernel's ephemeral range (32768+), so no client socket can be holding these ports
    assert len(tone((1000.0,), 0.5)) == 8000
    low, high = rtp_range(25800, 25806)
    pool = RtpPortPool("127.0.0.1", low, high)
    socks = [pool.acquire() for _ in range(3)]
    assert sorted(s.getsockname()[1] for s in socks) == [low, low + 2, low + 4]
    with pytest.raises(PortsExhaustedError):
        pool.acquire()
    socks[0].close()
    pool.release(low)
    again = pool.acquire()
    assert again.getsockname()[1] == low
    for s in [again, *socks[1:]]:
        s.close()
