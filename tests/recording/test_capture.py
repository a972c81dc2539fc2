"""Capture and encoding: every frame a recorded call received is in the file at its place, or counted as left out."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from calltape.media.g711 import G711
from calltape.media.taps import TapDirection
from calltape.recording.capture import CallCapture
from calltape.recording.capture_file import CaptureWriter, read_blocks
from calltape.recording.encode_job import EncodeJob
from calltape.recording.encoder import EncodeResult, encode
from calltape.recording.placement import WINDOW

IN, OUT = TapDirection.IN, TapDirection.OUT

ULAW = G711("PCMU", 0)
ALAW = G711("PCMA", 8)
SECOND = 8000


def _frame(value: int, codec: G711 = ULAW) -> bytes:
    return codec.encode(np.full(160, value, dtype=np.int16).tobytes())


def _level(value: int) -> int:
    """What *value* is after a trip through µ-law."""
    return int(np.frombuffer(ULAW.decode(_frame(value)), dtype=np.int16)[0])


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())


def _capture(tmp_path: Path, limit: int = 100 * SECOND, start: int | None = 1000) -> tuple[CallCapture, list[str]]:
    stops: list[str] = []
    return CallCapture(
        CaptureWriter(tmp_path / "r.capture"), limit_samples=limit, on_stop=stops.append, start=start
    ), stops


def _encode(
    tmp_path: Path, capture: CallCapture, channels: int = 2, rate: int = 8000, fmt: str = "wav"
) -> EncodeResult:
    job = EncodeJob(
        str(tmp_path / "r.capture"),
        str(tmp_path / f"r.{fmt}"),
        fmt,
        rate,
        channels,
        capture.frames_received,
        capture.not_captured,
    )
    return encode(job)


def test_late_reordered_and_lost_frames_keep_their_place_and_every_frame_is_accounted_for(tmp_path: Path) -> None:
    capture, stops = _capture(tmp_path)
    held: list[int] = []
    for n in range(500):  # 10 s: what the caller hears on time; what they say with frames late by up to 3 s
        position = 1000 + n * 160
        capture(OUT, _frame(200), position, ULAW)
        if n == 20:
            continue  # lost: silence at its place
        if 100 <= n < 250:
            held.append(n)  # a burst held back 3 s, then delivered backwards
        else:
            capture(IN, _frame(100 + n), position, ULAW)
        if n == 400:
            for late in reversed(held):
                capture(IN, _frame(100 + late), 1000 + late * 160, ULAW)
        if n % 50 == 0:
            capture.flush(position)
    assert capture.finish(1000 + 500 * 160) == 1000 + 500 * 160
    result = _encode(tmp_path, capture)
    assert result.samples == 500 * 160 and stops == []
    pcm = _read(tmp_path / "r.wav")
    assert len(pcm) == 500 * 160
    assert (pcm[:, 1] == _level(200)).all()
    for n in range(500):
        expected = 0 if n == 20 else _level(100 + n)
        assert (pcm[n * 160 : (n + 1) * 160, 0] == expected).all(), n
    counts = result.counts
    assert counts.received == 999 and counts.written == 999 and result.unaccounted == 0


def test_duplicates_overlaps_and_frames_outside_the_recording_are_left_out_with_their_reason(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, limit=SECOND, start=1000)
    capture(IN, _frame(50), 1000 - 160, ULAW)  # before the start
    capture(IN, _frame(50), 1000 - 80, ULAW)  # straddles it: its second half is kept
    for n in range(50):
        capture(IN, _frame(100), 1080 + n * 160, ULAW)
    capture(IN, _frame(999), 1080, ULAW)  # a duplicate of a frame already written
    capture(IN, _frame(300), 1000 + SECOND, ULAW)  # past the time limit
    capture.finish(1000 + SECOND)
    result = _encode(tmp_path, capture, channels=1)
    pcm = _read(tmp_path / "r.wav")[:, 0]
    assert len(pcm) == SECOND
    assert (pcm[:80] == _level(50)).all() and (pcm[80 : 80 + 49 * 160] == _level(100)).all()
    left_out = result.counts.left_out
    assert (left_out["before_start"], left_out["duplicate"], left_out["after_limit"]) == (1, 1, 1)
    assert result.counts.written == 51 and result.counts.received == 54 and result.unaccounted == 0


def test_a_frame_later_than_the_window_is_counted_too_late_not_lost_silently(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    capture(IN, _frame(100), 0, ULAW)
    capture.flush(160)
    capture(OUT, _frame(100), WINDOW + 2 * SECOND, ULAW)
    capture.flush(WINDOW + 2 * SECOND)  # the first seconds are encoded now
    capture(IN, _frame(100), 160, ULAW)  # a minute late
    capture.finish(WINDOW + 2 * SECOND + 160)
    result = _encode(tmp_path, capture)
    assert result.counts.left_out["too_late"] == 1 and result.counts.written == 2 and result.unaccounted == 0


def test_the_time_limit_cuts_at_the_exact_sample_and_stops_the_capture(tmp_path: Path) -> None:
    capture, stops = _capture(tmp_path, limit=5 * SECOND, start=None)
    for n in range(400):  # 8 s offered; the media starts at position 480 (the first frame)
        capture(IN, _frame(50), 480 + n * 160, ULAW)
        capture(OUT, _frame(25), 480 + n * 160, ULAW)
        if n % 50 == 49:
            capture.flush(480 + (n + 1) * 160)
    assert stops == ["time_limit"]
    capture.finish(480 + 400 * 160)
    result = _encode(tmp_path, capture, channels=1)
    pcm = _read(tmp_path / "r.wav")
    assert result.samples == 5 * SECOND and len(pcm) == 5 * SECOND
    assert (pcm[:, 0] == _level(50) + _level(25)).all()  # mono: both directions mixed
    # frames taken until the recording is finished are counted: those past the limit as left out
    assert result.counts.left_out["after_limit"] == 300 and result.counts.written == 500 and result.unaccounted == 0


def test_masked_audio_is_silence_and_counted(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    for n in range(100):
        capture.masked = 25 <= n < 50
        capture(IN, _frame(1000), n * 160, ULAW)
        if n % 10 == 9:
            capture.flush(n * 160)
    capture.finish(100 * 160)
    result = _encode(tmp_path, capture, channels=1)
    pcm = _read(tmp_path / "r.wav")[:, 0]
    assert (pcm[25 * 160 : 50 * 160] == 0).all() and (pcm[: 25 * 160] == _level(1000)).all()
    assert result.counts.left_out["masked"] == 25 and result.counts.written == 75 and result.unaccounted == 0
    masked_on_disk = b"".join(block.payload for block in read_blocks(tmp_path / "r.capture"))
    assert _frame(1000) * 75 == masked_on_disk  # no masked frame reached the disk


def _paused_call(tmp_path: Path, cut: bool) -> tuple[EncodeResult, np.ndarray]:
    """100 frames whose value is their number; paused for frames 30–59 and masked for 80–89."""
    capture, _ = _capture(tmp_path, start=0)
    for n in range(100):
        if n in (30, 60):
            capture.set_paused(n == 30, n * 160)
        if n in (80, 90):
            capture.set_masked(n == 80, n * 160)
        capture(IN, _frame(100 * n), n * 160, ULAW)
        if n % 10 == 9:
            capture.flush(n * 160)
    capture.finish(100 * 160)
    job = EncodeJob(str(tmp_path / "r.capture"), str(tmp_path / "r.wav"), "wav", 8000, 1, capture.frames_received)
    result = encode(EncodeJob(**{**job.__dict__, "cut_pauses": cut}))
    return result, _read(tmp_path / "r.wav")[:, 0]


def test_a_pause_with_skip_leaves_its_time_out_of_the_file_and_lists_it(tmp_path: Path) -> None:
    result, pcm = _paused_call(tmp_path, cut=True)
    frames = [int(pcm[i * 160]) for i in range(len(pcm) // 160)]
    assert len(pcm) == 70 * 160 and result.samples == 70 * 160  # 30 frames of pause left out, nothing else
    expected = [_level(100 * n) for n in range(30)] + [_level(100 * n) for n in range(60, 80)] + [0] * 10
    assert frames == expected + [_level(100 * n) for n in range(90, 100)]  # the cut is frame-exact; the mask silent
    assert result.pauses == [(30 * 160, 30 * 160)] and result.masks == [(50 * 160, 10 * 160)]  # offsets in the file
    assert result.counts.left_out["paused"] == 30 and result.counts.left_out["masked"] == 10
    assert result.counts.written == 60 and result.unaccounted == 0


def test_a_pause_with_silence_keeps_the_timing(tmp_path: Path) -> None:
    result, pcm = _paused_call(tmp_path, cut=False)
    assert len(pcm) == 100 * 160 and (pcm[30 * 160 : 60 * 160] == 0).all() and pcm[60 * 160] == _level(6000)
    assert result.pauses == [(30 * 160, 30 * 160)] and result.masks == [(80 * 160, 10 * 160)]
    assert result.counts.left_out["paused"] == 30 and result.unaccounted == 0


def test_a_change_of_law_mid_call_keeps_the_audio(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    for n in range(100):
        capture(IN, _frame(4000, ULAW if n < 50 else ALAW), n * 160, ULAW if n < 50 else ALAW)
    capture.finish(100 * 160)
    _encode(tmp_path, capture)
    left = _read(tmp_path / "r.wav")[:, 0]
    assert abs(int(left[-1]) - 4000) < 150 and abs(int(left[0]) - 4000) < 150


def test_a_16_khz_recording_keeps_the_duration_and_the_tone(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    t = np.arange(160 * 125) / 8000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    for n in range(125):
        capture(IN, ULAW.encode(tone[n * 160 : (n + 1) * 160].tobytes()), n * 160, ULAW)
    capture.finish(125 * 160)
    result = _encode(tmp_path, capture, rate=16000)
    left = _read(tmp_path / "r.wav")[:, 0].astype(np.float64)
    assert result.samples == 125 * 160 and abs(len(left) - 2 * 125 * 160) <= 2  # the resampler may lose a sample
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    assert abs(np.argmax(spectrum) * 16000 / len(left) - 440) < 2


def test_a_disk_that_fills_up_stops_the_capture_with_the_reason_and_keeps_what_was_written(tmp_path: Path) -> None:
    capture, stops = _capture(tmp_path, start=0)
    for n in range(250):  # 5 s of frames: the tap never raises into the media path
        if n == 100:
            os.dup2(os.open("/dev/full", os.O_WRONLY), capture.writer._file.fileno())  # writes now fail: ENOSPC
        capture(IN, _frame(100), n * 160, ULAW)
        if n % 50 == 49:
            capture.flush(n * 160)
    assert stops and "No space left on device" in stops[0]
    assert capture.finished and "No space left on device" in capture.error
    assert capture.not_captured == 50 and capture.frames_received == 150  # nothing is taken once it stopped
    capture.finish(250 * 160)
    result = _encode(tmp_path, capture, channels=1)
    assert result.samples == 100 * 160 and result.counts.written == 100
    assert result.counts.left_out["not_captured"] == 50 and result.unaccounted == 0


def test_a_capture_torn_by_a_crash_is_read_up_to_its_last_whole_block(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    for n in range(150):
        capture(IN, _frame(700), n * 160, ULAW)
        if n % 50 == 49:
            capture.flush(n * 160)
    path = tmp_path / "r.capture"
    whole = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"CTC1\x00\x00\x00\x00\xff\xff")  # a block cut short by kill -9
    result = encode(EncodeJob(str(path), str(tmp_path / "r.wav"), "wav", 8000, 1))
    assert path.stat().st_size > whole
    assert result.samples == 150 * 160 and result.counts.received == result.counts.written == 150


def test_a_bridge_whose_legs_have_their_own_codec_objects_still_writes_a_block_per_direction(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    leg_a, leg_b = G711("PCMU", 0), G711("PCMU", 0)  # each leg negotiates its own
    for n in range(50):
        capture(IN, _frame(100), n * 160, leg_a)
        capture(OUT, _frame(200), n * 160, leg_b)
        capture(IN, b"", n * 160, leg_a)  # an empty payload (a keep-alive) is not a frame
    capture.flush(50 * 160)
    blocks = list(read_blocks(tmp_path / "r.capture"))
    assert [block.count for block in blocks if block.count] == [50, 50]
    capture.finish(50 * 160)
    result = _encode(tmp_path, capture)
    assert result.counts.received == result.counts.written == 100 and result.unaccounted == 0


def test_a_mask_overlapping_a_cut_pause_is_listed_for_what_the_file_holds_of_it(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, start=0)
    for n in range(100):
        if n in (30, 60):
            capture.set_paused(n == 30, n * 160)
        if n in (50, 70):
            capture.set_masked(n == 50, n * 160)
        capture(IN, _frame(100 * n), n * 160, ULAW)
    capture.finish(100 * 160)
    job = EncodeJob(str(tmp_path / "r.capture"), str(tmp_path / "r.wav"), "wav", 8000, 1, capture.frames_received)
    result = encode(job)
    assert result.pauses == [(30 * 160, 30 * 160)]  # where the splice is, how long the pause was
    assert result.masks == [(30 * 160, 10 * 160)]  # frames 60-69: right after the splice, ten frames long
    assert len(_read(tmp_path / "r.wav")) == 70 * 160
