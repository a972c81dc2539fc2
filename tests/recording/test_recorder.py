"""The call recorder: frames land at their place on the call's timeline; limits cut at the exact sample."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from calltape.media.g711 import G711
from calltape.recording.recorder import BLOCK, CallRecorder
from calltape.recording.spool import Mp3Spool, WavSpool

ULAW = G711("PCMU", 0)


def _frame(value: int) -> bytes:
    return ULAW.encode(np.full(160, value, dtype=np.int16).tobytes())


def _level(value: int) -> int:
    """What *value* is after a trip through µ-law."""
    return int(np.frombuffer(ULAW.decode(_frame(value)), dtype=np.int16)[0])


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())


def test_both_directions_line_up_and_gaps_and_late_frames_keep_their_place(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "r.wav", 8000, 2)
    stops: list[str] = []
    recorder = CallRecorder(spool, stereo=True, limit_samples=10 * BLOCK, on_stop=stops.append, start=1000)
    for n in range(150):  # 3 s: the caller's frames, with frame 20 missing and frame 30 arriving late
        position = 1000 + n * 160
        recorder("out", _frame(200), position, ULAW)
        if n not in (20, 30):
            recorder("in", _frame(100), position, ULAW)
        if n == 40:
            recorder("in", _frame(300), 1000 + 30 * 160, ULAW)
    assert recorder.finish(1000 + 150 * 160) == 150 * 160
    spool.close()
    pcm = _read(spool.path)
    assert len(pcm) == 150 * 160
    assert (pcm[:, 1] == _level(200)).all()
    assert (pcm[20 * 160 : 21 * 160, 0] == 0).all()  # lost: silence at its place
    assert (pcm[30 * 160 : 31 * 160, 0] == _level(300)).all()  # late, within a quarter second: at its place
    assert (pcm[: 20 * 160, 0] == _level(100)).all() and stops == []


def test_the_time_limit_cuts_at_the_exact_sample(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "r.wav", 8000, 1)
    stops: list[str] = []
    recorder = CallRecorder(spool, stereo=False, limit_samples=5 * BLOCK, on_stop=stops.append)
    for n in range(400):  # 8 s offered; the media starts at position 480 (the first frame)
        recorder("in", _frame(50), 480 + n * 160, ULAW)
        recorder("out", _frame(25), 480 + n * 160, ULAW)
    assert stops == ["time_limit"]
    assert recorder.finish(480 + 400 * 160) == 5 * BLOCK
    spool.close()
    pcm = _read(spool.path)
    assert len(pcm) == 5 * BLOCK and (pcm[:, 0] == _level(50) + _level(25)).all()  # mono: both directions mixed


def test_masked_audio_is_recorded_as_silence(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "r.wav", 8000, 1)
    recorder = CallRecorder(spool, stereo=False, limit_samples=10 * BLOCK, on_stop=lambda _: None, start=0)
    for n in range(100):
        recorder.masked = 25 <= n < 50
        recorder("in", _frame(1000), n * 160, ULAW)
    recorder.finish(100 * 160)
    spool.close()
    pcm = _read(spool.path)[:, 0]
    assert (pcm[25 * 160 : 50 * 160] == 0).all() and (pcm[: 25 * 160] == _level(1000)).all()


def test_a_16_khz_recording_keeps_the_duration_and_the_tone(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "r.wav", 16000, 2)
    recorder = CallRecorder(spool, stereo=True, limit_samples=10 * BLOCK, on_stop=lambda _: None, start=0)
    t = np.arange(160 * 125) / 8000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    for n in range(125):
        recorder("in", ULAW.encode(tone[n * 160 : (n + 1) * 160].tobytes()), n * 160, ULAW)
    recorder.finish(125 * 160)
    spool.close()
    left = _read(spool.path)[:, 0].astype(np.float64)
    assert abs(len(left) - 2 * 125 * 160) <= 2  # the resampler may lose a sample to its phase
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    assert abs(np.argmax(spectrum) * 16000 / len(left) - 440) < 2


def test_a_full_disk_stops_the_recording_with_the_reason_and_the_call_goes_on() -> None:
    spool = Mp3Spool(Path("/dev/full"), 8000, 2)  # every write fails with ENOSPC, as on a full disk
    stops: list[str] = []
    recorder = CallRecorder(spool, stereo=True, limit_samples=10 * BLOCK, on_stop=stops.append, start=0)
    for n in range(250):  # 5 s of frames: the tap never raises into the media path
        recorder("in", _frame(100), n * 160, ULAW)
        if n % 50 == 49:
            spool.settle()
    assert stops and "No space left on device" in stops[0]
    assert recorder.finished and "No space left on device" in recorder.error
