"""What the caller says (voicemail, ``record_caller``): it ends by itself on silence — the silence that ended it is
not kept — or at the time limit, cut at the exact frame; a pause inside the message stays; a gap in the frames'
places is written as silence and a frame that comes after its place was written is left out."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from calltape.media.g711 import codec_for
from calltape.media.taps import TapDirection
from calltape.recording.caller_recorder import FRAME_SAMPLES, CallerRecorder
from calltape.recording.spool import WavSpool
from tests.audio import tone

PCMU = codec_for("PCMU", 0)
LOUD = tone(440, 0.02)  # one 20 ms frame
QUIET = bytes(2 * FRAME_SAMPLES)


def _feed(recorder: CallerRecorder, frames: list[bytes], start: int = 0) -> None:
    for index, pcm in enumerate(frames):
        recorder(TapDirection.IN, PCMU.encode(pcm), start + index * FRAME_SAMPLES, PCMU)


def _written(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


def test_silence_ends_it_and_is_not_kept_but_a_pause_inside_the_message_is(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "m.wav")
    recorder = CallerRecorder(spool, max_seconds=60, silence_seconds=1.0)
    _feed(recorder, [LOUD] * 50 + [QUIET] * 25 + [LOUD] * 50 + [QUIET] * 60)  # 1 s, a 0.5 s pause, 1 s, silence
    spool.close()
    assert recorder.stopped.is_set() and recorder.reason == "silence"
    pcm = _written(tmp_path / "m.wav")
    assert len(pcm) == 125 * FRAME_SAMPLES  # the pause stayed, the silence that ended it did not
    assert np.abs(pcm[50 * FRAME_SAMPLES : 75 * FRAME_SAMPLES]).max() < 300


def test_the_time_limit_cuts_at_the_exact_frame(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "m.wav")
    recorder = CallerRecorder(spool, max_seconds=2.0, silence_seconds=None)
    _feed(recorder, [LOUD] * 150)
    spool.close()
    assert recorder.reason == "time_limit" and len(_written(tmp_path / "m.wav")) == 100 * FRAME_SAMPLES


def test_a_gap_is_silence_in_place_and_a_late_frame_is_left_out(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "m.wav")
    recorder = CallerRecorder(spool, max_seconds=60, silence_seconds=None)
    _feed(recorder, [LOUD] * 10)
    _feed(recorder, [LOUD] * 10, start=15 * FRAME_SAMPLES)  # five frames lost
    _feed(recorder, [LOUD], start=12 * FRAME_SAMPLES)  # one of them, after its place was written
    recorder.stop("hangup")
    spool.close()
    pcm = _written(tmp_path / "m.wav")
    assert len(pcm) == 25 * FRAME_SAMPLES and recorder.left_out == 1
    assert np.abs(pcm[10 * FRAME_SAMPLES : 15 * FRAME_SAMPLES]).max() == 0


def test_only_what_the_caller_says_is_taken(tmp_path: Path) -> None:
    spool = WavSpool(tmp_path / "m.wav")
    recorder = CallerRecorder(spool, max_seconds=60, silence_seconds=None)
    recorder(TapDirection.OUT, PCMU.encode(LOUD), 0, PCMU)  # what the caller hears: not the message
    assert recorder.taken == 0
