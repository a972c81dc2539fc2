"""MP3 encoded ahead while the call goes on (``recording/ahead.py``): the pieces, written as the real capture tap
fills its file, join into the very bytes one encode from start to end gives; a frame that comes late into audio
already encoded, or a pause, makes the final encode start afresh with it; and the file decodes (mpg123, not our
code) to the sweep that was sent, every 250 ms, for exactly as long as the recording."""

from __future__ import annotations

import io
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from calltape.at_rest.keyring import Keyring, Seal
from calltape.at_rest.sealed import read_plain
from calltape.media.g711 import G711
from calltape.media.taps import TapDirection
from calltape.recording.ahead import MARGIN, _WarmEncoder, encode_ahead
from calltape.recording.capture import CallCapture
from calltape.recording.capture_file import CaptureWriter
from calltape.recording.encode_job import FRAME_SAMPLES, Ahead, EncodeJob
from calltape.recording.encoder import EncodeResult, encode
from tests.audio import dominant_frequency

ULAW = G711("PCMU", 0)
SECOND = 8000
FRAME = 160
START = 1000  # the recording's first sample on the call's timeline
KEYS = Keyring({"k1": bytes(range(32))})


def sweep(seconds: float, low: float = 300.0, high: float = 3300.0) -> tuple[bytes, np.ndarray]:
    """A rising sweep as µ-law, and the frequency at each sample."""
    t = np.arange(int(seconds * SECOND)) / SECOND
    hz = low + (high - low) * t / seconds
    pcm = (7000 * np.sin(2 * np.pi * np.cumsum(hz) / SECOND)).astype("<i2").tobytes()
    return ULAW.encode(pcm), hz


class Call:
    """A recorded call's capture, filled a second at a time through the real tap; a piece is encoded ahead
    whenever asked, as the manager does every few seconds."""

    def __init__(
        self, tmp_path: Path, seconds: float, *, channels: int = 2, seal: Seal | None = None, limit: int = 3600 * SECOND
    ) -> None:
        tmp_path.mkdir(exist_ok=True)
        self.said, self.hz = sweep(seconds)
        self.heard, _ = sweep(seconds, 3000.0, 500.0)
        self.capture_path = tmp_path / "r.capture"
        self.capture = CallCapture(
            CaptureWriter(self.capture_path, seal), limit_samples=limit, on_stop=lambda _: None, start=START
        )
        self.job = EncodeJob(str(self.capture_path), str(tmp_path / "r.mp3"), "mp3", SECOND, channels, seal=seal)
        self.ahead: Ahead | None = None
        self.sent = 0  # samples of the sweep sent so far

    def send(
        self, seconds: float, *, skip: set[int] = frozenset(), late: list[int] | None = None, said_only: bool = False
    ) -> None:
        """*seconds* more of both directions, flushed once a second; frames at the sample offsets in *skip* held
        back, and those in *late* (held back before) sent now (*said_only*: what the caller heard is not held)."""
        for offset in late or []:
            self._frame(offset, heard=not said_only)
        end = self.sent + int(seconds * SECOND)
        for offset in range(self.sent, end, FRAME):
            held = offset in skip
            self._frame(offset, said=not held, heard=not held or said_only)
            if (offset + FRAME) % SECOND == 0:
                self.capture.flush(START + offset + FRAME)
        self.sent = end

    def _frame(self, offset: int, *, said: bool = True, heard: bool = True) -> None:
        if said:
            self.capture(TapDirection.IN, self.said[offset : offset + FRAME], START + offset, ULAW)
        if heard:
            self.capture(TapDirection.OUT, self.heard[offset : offset + FRAME], START + offset, ULAW)

    def piece(self) -> Ahead:
        self.ahead = encode_ahead(self.job, self.ahead)
        return self.ahead

    def pieces(self, count: int) -> list[Ahead]:
        """*count* times: 5 s more, then a piece."""
        made = []
        for _ in range(count):
            self.send(5.0)
            made.append(self.piece())
        return made

    def end(self) -> tuple[EncodeResult, bytes]:
        """The call ends: the final encode, given what was encoded ahead; the result and the file's bytes."""
        self.capture.finish(START + self.sent)
        result = encode(replace(self.job, ahead=self.ahead, received=self.capture.frames_received))
        return result, self.file()

    def file(self) -> bytes:
        return read_plain(Path(self.job.output), KEYS)

    def whole(self) -> tuple[EncodeResult, bytes]:
        """The same capture encoded from start to end, nothing ahead (as recovery after a crash does)."""
        result = encode(replace(self.job, received=self.capture.frames_received))
        return result, self.file()


def mpg123(data: bytes, channels: int) -> np.ndarray:
    raw = subprocess.run(["mpg123", "-q", "-s", "-"], input=data, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").reshape(-1, channels)


def assert_sweep_every_250_ms(pcm: np.ndarray, hz: np.ndarray) -> None:
    window = SECOND // 4
    for start in range(0, len(pcm) - window + 1, window):
        expected = float(np.mean(hz[start : start + window]))
        found = dominant_frequency(pcm[start : start + window, 0])
        assert abs(found - expected) < 60, (start / SECOND, found, expected)


@pytest.mark.parametrize(("channels", "sealed"), [(2, False), (1, False), (2, True)])
def test_pieces_written_as_the_capture_grows_join_into_the_bytes_of_one_whole_encode(
    tmp_path: Path, channels: int, sealed: bool
) -> None:
    call = Call(tmp_path, 31.0, channels=channels, seal=Seal.new("k1", KEYS) if sealed else None)
    sizes = [ahead.frames for ahead in call.pieces(6)]
    call.send(1.0)
    result, ahead_file = call.end()
    whole, whole_file = call.whole()

    assert all(0 < a < b for a, b in pairwise(sizes)) and call.ahead is not None
    assert 0 <= 30 * SECOND - MARGIN - call.ahead.fed < FRAME_SAMPLES  # settled by the last piece, whole frames
    assert result.reused == call.ahead.frames and whole.reused == 0
    assert ahead_file == whole_file  # the very bytes, Info frame included
    assert result.facts == whole.facts and result.samples == whole.samples == 31 * SECOND
    assert result.counts.as_document() == whole.counts.as_document()
    assert result.counts.written == result.counts.received == 2 * 31 * SECOND // FRAME
    if sealed:
        assert b"LAME" not in Path(call.job.output).read_bytes()[:4096]  # on disk it is sealed
    pcm = mpg123(ahead_file, channels)
    assert len(pcm) == 31 * SECOND  # gapless: exactly the recording's samples
    if channels == 2:
        assert_sweep_every_250_ms(pcm, call.hz)


def speech(seconds: float) -> bytes:
    """espeak-ng's voice at 8 kHz as µ-law, repeated to *seconds*."""
    text = "The quick brown fox jumps over the lazy dog. " * 8
    wav = subprocess.run(["espeak-ng", "--stdout", "-s", "160", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(float)
    at_8k = np.interp(np.arange(int(len(pcm) * SECOND / rate)) * rate / SECOND, np.arange(len(pcm)), pcm)
    return ULAW.encode(np.resize(at_8k * 1.5, int(seconds * SECOND)).clip(-32000, 32000).astype("<i2").tobytes())


def test_pieces_of_speech_on_both_sides_join_into_the_bytes_of_one_whole_encode(tmp_path: Path) -> None:
    """Speech against speech needed the most pre-roll of the signals measured (3 frames; PRE_ROLL keeps one more)."""
    call = Call(tmp_path, 22.0)
    call.said = speech(22.0)
    call.heard = call.said[::-1]
    call.pieces(4)
    call.send(2.0)
    result, ahead_file = call.end()
    _, whole_file = call.whole()
    assert result.reused > 0 and ahead_file == whole_file


@pytest.mark.parametrize("found_by", ["a piece", "the final encode"])
def test_a_frame_later_than_the_margin_into_encoded_audio_makes_the_file_afresh_with_it(
    tmp_path: Path, found_by: str
) -> None:
    call = Call(tmp_path, 20.0)
    held_back = 2 * SECOND + 3 * FRAME  # in the first piece
    call.send(10.0, skip={held_back})
    first = call.piece()
    assert first.fed > held_back + FRAME
    call.send(5.0, late=[held_back] if found_by == "a piece" else [])  # 8 seconds late, after it was encoded
    if found_by == "a piece":
        assert call.piece().spoiled.startswith("a frame came 8.")
    else:
        assert not call.piece().spoiled
    call.send(5.0, late=[held_back] if found_by == "the final encode" else [])
    result, ahead_file = call.end()
    _, whole_file = call.whole()

    assert result.reused == 0  # made afresh from the capture, as without encoding ahead
    assert ahead_file == whole_file
    assert result.counts.written == result.counts.received == 2 * 20 * SECOND // FRAME  # the late frame is in
    pcm = mpg123(ahead_file, 2)
    assert_sweep_every_250_ms(pcm, call.hz)


def test_a_time_limit_ends_the_file_encoded_ahead_where_a_whole_encode_ends_it(tmp_path: Path) -> None:
    call = Call(tmp_path, 20.0, limit=13 * SECOND)
    call.pieces(3)
    call.send(5.0)
    result, ahead_file = call.end()
    whole, whole_file = call.whole()
    assert result.reused > 0 and ahead_file == whole_file
    assert result.samples == whole.samples == 13 * SECOND
    assert result.counts.as_document() == whole.counts.as_document()
    assert result.counts.left_out["after_limit"] == 2 * 7 * SECOND // FRAME
    assert len(mpg123(ahead_file, 2)) == 13 * SECOND


def test_a_file_not_as_the_pieces_left_it_is_made_afresh(tmp_path: Path) -> None:
    call = Call(tmp_path, 16.0)
    call.pieces(3)
    output = Path(call.job.output)
    output.write_bytes(output.read_bytes()[:-1000])  # shorter than the pieces wrote (a disk that filled up)
    call.send(1.0)
    result, ahead_file = call.end()
    assert result.reused == 0 and ahead_file == call.whole()[1]
    assert len(mpg123(ahead_file, 2)) == 16 * SECOND


def test_a_pause_leaves_the_rest_to_the_final_encode(tmp_path: Path) -> None:
    call = Call(tmp_path, 20.0)
    call.send(8.0)
    assert call.piece().frames > 0
    call.capture.set_paused(True, START + call.sent)
    call.send(4.0)
    call.capture.set_paused(False, START + call.sent)
    assert call.piece().spoiled == "the recording was paused (the file leaves it out)"
    call.send(8.0)
    result, ahead_file = call.end()
    _, whole_file = call.whole()

    assert result.reused == 0 and ahead_file == whole_file
    assert result.samples == 16 * SECOND  # pause_behavior skip: the paused 4 s are not in the file
    assert len(mpg123(ahead_file, 2)) == 16 * SECOND


def test_a_piece_with_little_new_audio_waits_and_changes_nothing(tmp_path: Path) -> None:
    call = Call(tmp_path, 10.0)
    call.send(2.5)  # written to the capture: 2 s (once a second), settled: nothing yet (the margin is 2 s)
    assert call.piece().frames == 0 and not Path(call.job.output).exists()
    call.send(5.0)
    ahead = call.piece()
    assert ahead.frames > 0
    size = Path(call.job.output).stat().st_size
    assert call.piece() == ahead and Path(call.job.output).stat().st_size == size  # nothing new settled
    call.send(2.0)
    result, ahead_file = call.end()
    assert result.reused == ahead.frames and ahead_file == call.whole()[1]


def test_pieces_of_calls_taking_turns_on_warm_encoders_hold_only_their_own_audio(tmp_path: Path) -> None:
    """One after another on one warm encoder, and at once in two threads (as without an encoder pool)."""
    calls = [Call(tmp_path / name, 16.0) for name in "abcd"]
    for call in calls[1::2]:
        call.said, call.heard = call.heard, call.said  # other audio
    with ThreadPoolExecutor(2) as threads:
        for _ in range(3):
            for pair in (calls[:2], calls[2:]):
                for call in pair:
                    call.send(5.0)
                list(threads.map(Call.piece, pair))
    for call in calls:
        call.send(1.0)
        result, ahead_file = call.end()
        assert result.reused > 0 and ahead_file == call.whole()[1]


def test_the_final_encode_ends_its_file_with_silence_and_leaves_the_warm_encoder_to_the_next(tmp_path: Path) -> None:
    """Not flushed (a flush ends an encoder): the next call's file goes on with the same encoder, and both files are
    still the bytes of a whole encode."""
    first, second = Call(tmp_path / "a", 12.0), Call(tmp_path / "b", 12.0)
    for _ in range(2):
        for call in (first, second):
            call.pieces(1)
    warm = _WarmEncoder.of(2).encoder
    first.send(1.7)
    assert first.end()[1] == first.whole()[1]
    second.send(1.3)
    result, second_file = second.end()
    assert _WarmEncoder.of(2).encoder is warm
    assert result.reused > 0 and second_file == second.whole()[1]


def test_a_frame_a_minute_late_is_left_out_as_a_whole_encode_leaves_it_out(tmp_path: Path) -> None:
    """No piece ran for 70 s (the encoders were busy): the first one meets a frame 66 s late, which a whole encode
    counts as too late; the file is made afresh so that it is the same."""
    call = Call(tmp_path, 72.0)
    held_back = 5 * SECOND
    call.send(70.0, skip={held_back})
    call.send(1.0, late=[held_back])
    assert call.piece().spoiled == "a frame came 66.0 s late"
    call.send(1.0)
    result, ahead_file = call.end()
    whole, whole_file = call.whole()
    assert result.reused == 0 and ahead_file == whole_file
    assert result.counts.left_out["too_late"] == whole.counts.left_out["too_late"] == 2  # both directions' frame


def test_seconds_held_back_and_sent_at_once_leave_the_pieces_whole(tmp_path: Path) -> None:
    """A phone on Wi-Fi: a second of audio held back and sent at once with the next, a piece between the two (the
    margin is 2 s: audio up to a second late never spoils what was encoded ahead)."""
    call = Call(tmp_path, 20.0)
    for second in range(20):
        held = {second * SECOND + offset for offset in range(0, SECOND, FRAME)} if second in (6, 11) else set()
        late = (
            sorted({(second - 1) * SECOND + offset for offset in range(0, SECOND, FRAME)}) if second in (7, 12) else []
        )
        call.send(1.0, skip=held, late=late, said_only=True)  # what the caller hears goes on meanwhile
        if second % 5 == 4 or second in (6, 11):
            assert not call.piece().spoiled
    result, ahead_file = call.end()
    _, whole_file = call.whole()
    assert result.reused > 0 and ahead_file == whole_file
    assert result.counts.written == result.counts.received == 2 * 20 * SECOND // FRAME
    assert_sweep_every_250_ms(mpg123(ahead_file, 2), call.hz)


@pytest.mark.parametrize("stretch", ["mask", "pause kept as silence"])
def test_a_mask_or_a_silent_pause_moves_nothing_and_keeps_the_pieces(tmp_path: Path, stretch: str) -> None:
    call = Call(tmp_path, 21.0)
    call.job = replace(call.job, cut_pauses=stretch == "mask")  # pause_behavior silence for the pause
    mark = call.capture.set_masked if stretch == "mask" else call.capture.set_paused
    call.send(6.0)
    assert call.piece().frames > 0
    mark(True, START + call.sent)
    call.send(4.0)
    assert not call.piece().spoiled
    mark(False, START + call.sent)
    call.send(6.0)
    assert not call.piece().spoiled
    call.send(5.0)
    result, ahead_file = call.end()
    whole, whole_file = call.whole()

    assert result.reused > 0 and ahead_file == whole_file
    assert result.samples == whole.samples == 21 * SECOND  # the stretch is silence in the file, not cut
    assert result.counts.as_document() == whole.counts.as_document()
    reason = "masked" if stretch == "mask" else "paused"
    assert result.counts.left_out[reason] == 2 * 4 * SECOND // FRAME
    assert (result.pauses, result.masks) == (whole.pauses, whole.masks)
    stretches = result.masks if stretch == "mask" else result.pauses
    assert stretches == [(6 * SECOND, 4 * SECOND)]
    pcm = mpg123(ahead_file, 2)
    quiet = pcm[7 * SECOND : 9 * SECOND, 0].astype(np.int32)
    assert np.abs(quiet).max() < 300  # silence where it was masked or paused
