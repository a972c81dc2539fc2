"""Spool files: exact lengths after an independent decoder (mpg123 honours the Info frame), repair after a crash."""

from __future__ import annotations

import errno
import gc
import shutil
import subprocess
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest

from calltape.recording import mp3_frames
from calltape.recording.spool import Mp3Spool, WavSpool, open_spool, repair, wav_to_mp3_file


def _tone(hz: float, samples: int, rate: int) -> np.ndarray:
    return (np.sin(2 * np.pi * hz * np.arange(samples) / rate) * 8000).astype("<i2")


def _write(spool: Mp3Spool | WavSpool, seconds: float, channels: int) -> int:
    rate = spool.rate
    samples = int(rate * seconds)
    left, right = _tone(440, samples, rate), _tone(1000, samples, rate)
    pcm = np.stack([left, right], 1).reshape(-1) if channels == 2 else left
    step = rate // 50 * channels  # 20 ms frames, as calls give them
    for i in range(0, len(pcm), step):
        spool.write(pcm[i : i + step].tobytes())
    return samples


def _mpg123(path: Path, channels: int) -> np.ndarray:
    raw = subprocess.run(["mpg123", "-q", "-s", str(path)], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").reshape(-1, channels)


def test_the_tag_crc_is_lames_crc16() -> None:
    assert mp3_frames._crc16(b"123456789") == 0xBB3D  # CRC-16/ARC check value


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (8000, 2), (16000, 2), (44100, 1)])
def test_an_mp3_decodes_to_exactly_the_samples_given(tmp_path: Path, rate: int, channels: int) -> None:
    path = tmp_path / "r.mp3"
    spool = Mp3Spool(path, rate, channels)
    samples = _write(spool, 3.37, channels)
    facts = spool.close()
    pcm = _mpg123(path, channels)
    assert len(pcm) == samples == facts.samples
    assert facts.size == path.stat().st_size


def test_a_wav_holds_exactly_the_samples_given_as_the_stdlib_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    spool = WavSpool(path, 8000, 2)
    samples = _write(spool, 2.5, 2)
    facts = spool.close()
    with wave.open(str(path)) as wav:
        assert (wav.getnframes(), wav.getnchannels(), wav.getframerate()) == (samples, 2, 8000)
        pcm = wav.readframes(samples)
    stdlib = tmp_path / "stdlib.wav"
    with wave.open(str(stdlib), "wb") as wav:  # an independent writer: the same bytes, header and all
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm)
    assert path.read_bytes() == stdlib.read_bytes()
    assert (facts.samples, facts.size) == (samples, path.stat().st_size)


def test_a_wav_whose_header_cannot_be_written_leaves_no_file_open() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OSError) as failed:
            WavSpool(Path("/dev/full"), 8000, 2)  # every write: ENOSPC
        del failed
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_wav_cut_short_by_a_full_disk_ends_on_its_last_whole_batch(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(small)], check=True)
    try:
        path = small / "r.wav"
        spool = WavSpool(path, 8000, 2)
        second = _tone(440, 16000, 8000).tobytes()  # a second of stereo audio: one batch of 32,000 bytes
        spool.write(second)  # fits
        with pytest.raises(OSError) as full:
            spool.write(second)  # 48 kB of room: a short write, then nothing
        assert full.value.errno == errno.ENOSPC
        spool.abandon()
        assert path.stat().st_size == 44 + 32000  # what the short write left was cut off
        with wave.open(str(path)) as wav:
            assert wav.getnframes() == 8000 and wav.readframes(8000) == second
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_audio_is_on_disk_within_a_second_and_a_torn_file_is_repaired(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"live.{fmt}"
    spool = open_spool(fmt, path, 8000, 2)
    _write(spool, 5.0, 2)  # never closed: as if the process died now
    spool.settle()
    crashed = tmp_path / f"crashed.{fmt}"
    shutil.copy(path, crashed)
    with crashed.open("ab") as fh:
        fh.write(b"\xff\xe3\x48")  # a torn last write
    samples, rate, channels = repair(crashed)
    assert (rate, channels) == (8000, 2)
    if fmt == "mp3":
        decoded = len(_mpg123(crashed, 2))
        assert decoded == samples
        assert samples >= 8000 * 3.8  # every whole second written reached the disk (less the encoder's lag)
    else:
        with wave.open(str(crashed)) as wav:
            assert wav.getnframes() == samples == 8000 * 5
    spool.close()


def test_a_voicemail_wav_becomes_a_gapless_mp3_and_the_wav_goes(tmp_path: Path) -> None:
    wav = tmp_path / "message.wav"
    spoken = _tone(440, 8000 * 3 + 123, 8000)  # not a whole number of MP3 frames
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(spoken.tobytes())
    mp3 = wav_to_mp3_file(wav)
    assert (mp3.name, wav.exists(), [p.name for p in tmp_path.iterdir()]) == ("message.mp3", False, ["message.mp3"])
    decoded = subprocess.run(["mpg123", "-q", "-s", str(mp3)], capture_output=True, check=True).stdout
    pcm = np.frombuffer(decoded, "<i2")
    assert len(pcm) == len(spoken)  # to the sample: the Info frame tells mpg123 the delay and the padding
    spectrum = np.abs(np.fft.rfft(pcm[8000:16000]))
    assert abs(np.argmax(spectrum) * 8000 / 8000 - 440) <= 2
