"""Recording files written as the audio arrives: WAV, or MP3 encoded by LAME at quality 7.

Audio given to a spool is gathered and written about once a second (one write per batch), so a
recording is on disk within a second of its audio. Closing writes the rest and patches the header
(WAV sizes, the MP3's Info frame). A file a crash left open is finished by :func:`repair`, which
keeps every whole frame that reached the disk.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from calltape.at_rest.keyring import Seal
from calltape.at_rest.sealed import create_file, open_file
from calltape.media.sources import wav_to_pcm
from calltape.recording import mp3_frames
from calltape.recording.lame import LameEncoder

FORMATS = ("mp3", "wav")
#: MP3 work runs off the event loop: LAME releases the GIL, so it uses another core. Each spool keeps to one
#: single-thread lane, which keeps its batches in order.
_LANES = [ThreadPoolExecutor(1, thread_name_prefix=f"mp3-{i}") for i in range(max(1, (os.cpu_count() or 2) - 1))]
_next_lane = itertools.cycle(_LANES)
_lane_thread = threading.local()  # .busy is True while a lane runs a job
_WAV = struct.Struct("<4sI4s4sIHHIIHH4sI")  # RIFF and its size, WAVE, the fmt chunk, data and its size
_WAV_HEADER = _WAV.size
_HASH_CHUNK = 1 << 16


@dataclass(frozen=True)
class SpoolFacts:
    """A finished file: its length in samples per channel, size and SHA-256."""

    samples: int
    size: int
    sha256: str  # hex


class AudioSpool:
    """Interleaved 16-bit PCM at *rate* Hz with *channels* channels into *path*."""

    extension = ""

    def __init__(self, path: Path, rate: int, channels: int, seal: Seal | None = None) -> None:
        self.path = path
        self.rate = rate
        self.channels = channels
        self.samples = 0  # per channel, given so far
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._batch = 2 * rate * channels  # one second
        self.error: OSError | None = None  # a write that failed off the loop (the next write raises it)
        self.seal = seal  # the file is sealed at rest with it

    def write(self, pcm: bytes) -> None:
        """Add audio; it reaches the file within about a second."""
        if self.error is not None:
            raise self.error
        self._pending.append(pcm)
        self._pending_bytes += len(pcm)
        self.samples += len(pcm) // (2 * self.channels)
        if self._pending_bytes >= self._batch:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered (one write)."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending, self._pending_bytes = [], 0
            self._write_batch(data)

    def write_channels(self, left: bytes, right: bytes | None) -> None:
        """Add a block of one channel (*right* None) or two, each 16-bit PCM."""
        if right is None:
            self.write(left)
        else:  # interleaved
            both = np.stack((np.frombuffer(left, dtype=np.int16), np.frombuffer(right, dtype=np.int16)))
            self.write(both.T.tobytes())

    def submit(self, work: Callable[[], None]) -> None:
        """Run *work* (which writes to this spool) where the spool writes: here, at once."""
        work()

    def settle(self) -> None:
        """Block until every batch written so far is on disk."""

    @property
    def seconds(self) -> float:
        """How much audio has been given so far."""
        return self.samples / self.rate

    def close(self) -> SpoolFacts:
        """Write the rest and patch the header (blocking: run it in a thread for long files)."""
        self._finish()
        if self.error is not None:
            raise self.error
        return file_facts(self.path, self.samples, self.seal)

    def abandon(self) -> None:
        """Close the file unfinished (an error elsewhere): nothing more is written, resources are freed."""
        with contextlib.suppress(Exception):
            self._finish()

    def _write_batch(self, data: bytes) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError


class WavSpool(AudioSpool):
    """16-bit PCM WAV: the header first (sizes 0), one write per batch, the sizes patched on close."""

    extension = "wav"

    def __init__(self, path: Path, rate: int = 8000, channels: int = 1, seal: Seal | None = None) -> None:
        super().__init__(path, rate, channels, seal)
        self._file = create_file(path, seal)  # each batch is one write, at once: a crash keeps it
        self._data = 0  # bytes of samples written
        self._open = True
        try:
            self._append(wav_header(rate, channels, 0))  # the header is on disk from the start
        except BaseException:
            self._close_file()
            raise

    def _write_batch(self, data: bytes) -> None:
        try:
            self._append(data)
        except OSError:
            with contextlib.suppress(OSError):  # a short write's part is cut off: later batches follow whole ones
                self._file.truncate(_WAV_HEADER + self._data)
                self._file.seek(_WAV_HEADER + self._data)
            raise
        self._data += len(data)

    def _append(self, data: bytes) -> None:
        if self._file.write(data) != len(data):
            raise OSError(errno.ENOSPC, "No space left on device (short write)", str(self.path))

    def _finish(self) -> None:
        try:
            self.flush()
            if self._open:
                self._file.seek(0)
                self._append(wav_header(self.rate, self.channels, self._data))
        finally:
            self._close_file()

    def _close_file(self) -> None:
        if self._open:
            self._open = False
            self._file.close()


def wav_header(rate: int, channels: int, data: int) -> bytes:
    """The 44-byte header of a 16-bit PCM WAV holding *data* bytes of samples."""
    block = 2 * channels
    fmt = (16, 1, channels, rate, rate * block, block, 16)  # its size, PCM, channels, rate, bytes/s, block, bits
    return _WAV.pack(b"RIFF", 36 + data, b"WAVE", b"fmt ", *fmt, b"data", data)


class Mp3Spool(AudioSpool):
    """Constant-bitrate MP3 with a gapless Info frame first (a placeholder until close).

    Batches are encoded and written on the spool's encoder lane (another thread), in order; ``close``
    waits for them. ``threaded=False`` (in an encoder process) encodes where it is called."""

    extension = "mp3"

    def __init__(
        self,
        path: Path,
        rate: int = 8000,
        channels: int = 1,
        quality: int = 7,
        *,
        threaded: bool = True,
        seal: Seal | None = None,
        create: bool = True,
        encoder: LameEncoder | None = None,
    ) -> None:
        super().__init__(path, rate, channels, seal)
        self._owns_encoder = encoder is None  # else it is lent (and closed by its owner)
        self._encoder = encoder or LameEncoder(rate, channels, mp3_frames.bitrate_for(rate, channels), quality)
        self._file: BinaryIO | None = create_file(path, seal) if create else None  # one write per batch, at once
        self._tag_size = 0
        self._lane = next(_next_lane) if threaded else None
        self._first: mp3_frames.FrameHeader | None = None
        self._frames = 0  # whole frames written (counted as they go: closing needs no re-read)
        self._unscanned = bytearray()
        self._bytes = 0
        self._skip = 0  # frames the encoder gives that the file already holds (see ``resumed``)
        self.emitted = 0  # frames the encoder gave (those skipped included)
        self.padding = 0  # samples of silence that ended the file on a lent encoder (see ``_end_with_silence``)

    @classmethod
    def resumed(
        cls,
        path: Path,
        channels: int,
        *,
        size: int,
        frames: int,
        samples: int,
        skip: int,
        encoder: LameEncoder | None = None,
        seal: Seal | None = None,
    ) -> Mp3Spool:
        """Go on with a file of 8 kHz audio encoded ahead (``ahead.py``): its first *size* bytes (the Info frame's
        place and *frames* frames) are kept, the audio given from now on starts at sample *samples*, and the
        first *skip* frames the encoder gives are left out (they are on disk already)."""
        spool = cls(path, 8000, channels, threaded=False, seal=seal, create=False, encoder=encoder)
        spool._file = open_file(path, "r+b", seal)
        try:
            if spool._file.seek(0, os.SEEK_END) < size:
                raise ValueError(f"{path.name} is shorter than what was encoded ahead")
            spool._file.truncate(size)
            spool._file.seek(0)
            placeholder = mp3_frames.parse_header(spool._file.read(4))
            if placeholder is not None:
                spool._file.seek(placeholder.size)
            first = mp3_frames.parse_header(spool._file.read(4)) if placeholder is not None else None
            if placeholder is None or first is None:
                raise ValueError(f"{path.name}: not an MP3 encoded ahead")
            spool._file.seek(size)
        except BaseException:
            spool._file.close()
            spool._close_encoder()
            raise
        spool._first, spool._tag_size, spool._frames, spool._bytes = first, placeholder.size, frames, size
        spool.samples, spool._skip = samples, skip
        return spool

    def set_aside(self) -> tuple[int, int]:
        """Encode what was given and close the file without finishing it (the encoder's last frames wait for
        audio to come: another spool goes on with it later, see ``resumed``): (frames, bytes) in the file."""
        self._on_lane(self.flush)
        self._close_encoder()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.error is not None:
            raise self.error
        return self._frames, self._bytes

    def submit(self, work: Callable[[], None]) -> None:
        """Run *work* on this spool's encoder lane, after what was queued before it; a write error it meets is
        kept in ``error`` (the next write raises it)."""
        if self._lane is None:
            self._on_lane(work)
        else:
            self._lane.submit(self._on_lane, work)

    def _on_lane(self, work: Callable[[], None]) -> None:
        _lane_thread.busy = True
        try:
            work()
        except OSError as exc:
            self.error = exc
        finally:
            _lane_thread.busy = False

    def write_channels(self, left: bytes, right: bytes | None) -> None:
        """A block of one or two channels, encoded as it is (LAME takes the channels apart)."""
        if self.error is not None:
            raise self.error
        self.samples += len(left) // 2
        if self._lane is None or getattr(_lane_thread, "busy", False):
            self._write(self._encoder.encode_channels(left, right))
        else:
            self.submit(lambda: self._write(self._encoder.encode_channels(left, right)))

    def _write_batch(self, data: bytes) -> None:
        if self._lane is None or getattr(_lane_thread, "busy", False):  # already on the lane: now, so the order stays
            self._write(self._encoder.encode(data))
        else:
            self.submit(lambda: self._write(self._encoder.encode(data)))

    def _write(self, encoded: bytes) -> None:
        if not encoded or self._file is None or self.error is not None:
            return
        encoded = self._count_frames(encoded)
        if not encoded:
            return
        if not self._tag_size and self._first is not None:  # the Info frame's place is kept from the first write
            placeholder = mp3_frames.info_frame(self._first, 0, 0, 0)
            self._tag_size = len(placeholder)
            encoded = placeholder + encoded
        rest = memoryview(encoded)
        while rest:  # an unbuffered write may take only part (a disk filling up): the next one says why
            rest = rest[self._file.write(rest) :]
        self._bytes += len(encoded)

    def _end_with_silence(self) -> None:
        """End the file without flushing its lent encoder (a flush ends an encoder, and a new one costs ~0.4 ms):
        silence, in whole frames, until the file holds the frames a flush gives. They are the very bytes a flush
        gives (measured: LAME's flush pads with silence)."""
        assert self._first is not None  # a lent encoder goes on with a file that has frames (``resumed``)
        frame, wanted = self._first.samples, mp3_frames.frames_after_flush(self.samples, self._first)
        silence = bytes(2 * self.channels * (-self.samples % frame))  # to a whole frame first
        for _ in range(wanted - self._frames + 2):  # one frame comes out per frame of silence in
            if self._frames >= wanted or self.error is not None:
                return
            self.padding += len(silence) // (2 * self.channels)
            self._write(self._encoder.encode(silence))
            silence = bytes(2 * self.channels * frame)
        raise OSError(f"{self.path.name}: LAME gave {self._frames} frames where {wanted} were due")

    def _close_encoder(self) -> None:
        if self._owns_encoder:
            self._encoder.close()

    def _count_frames(self, encoded: bytes) -> bytes:
        """Count the whole frames of *encoded*; what of it goes to the file (all but frames to skip)."""
        scan = self._unscanned
        scan += encoded
        at = skipped = 0
        while (header := mp3_frames.parse_header(scan, at)) is not None and len(scan) - at >= header.size:
            self._first = self._first or header
            self.emitted += 1
            if self._skip:
                self._skip -= 1
                skipped += header.size
            else:
                self._frames += 1
            at += header.size
        del scan[:at]
        return encoded[skipped:]

    def settle(self) -> None:
        """Block until the batches written so far are encoded and on disk."""
        if self._lane is not None:
            self._lane.submit(lambda: None).result()

    def _finish(self) -> None:
        """Encode the rest after everything queued on the lane, then patch the Info frame (blocking)."""
        if self._lane is None:
            self._on_lane(self._finish_on_lane)
        else:
            self._lane.submit(self._on_lane, self._finish_on_lane).result()

    def _finish_on_lane(self) -> None:
        if self._file is None:
            return
        try:
            self.flush()  # on the lane: encoded now, after every block queued before
            if self.samples and self.error is None:
                if self._owns_encoder:
                    self._write(self._encoder.flush())
                else:
                    self._end_with_silence()
            if self._first is not None and self.error is None and not self._unscanned:
                self._file.seek(0)
                self._file.write(mp3_frames.info_frame(self._first, self._frames, self._bytes, self.samples))
        finally:
            self._close_encoder()
            self._file.close()
            self._file = None
        if self._tag_size and self.error is None and self._unscanned:  # the counting lost its way: read the file
            repair_mp3(self.path, self.samples, self.seal)


def open_spool(
    fmt: str, path: Path, rate: int, channels: int, *, threaded: bool = True, seal: Seal | None = None
) -> AudioSpool:
    """A spool of format *fmt* (``mp3`` or ``wav``), sealed with *seal* if given; ``threaded=False`` encodes MP3
    where it is written."""
    if fmt == "mp3":
        return Mp3Spool(path, rate, channels, threaded=threaded, seal=seal)
    if fmt == "wav":
        return WavSpool(path, rate, channels, seal)
    raise ValueError(f"unknown recording format {fmt!r}")


def wav_to_mp3_file(wav: Path) -> Path:
    """An 8 kHz mono WAV of calltape's (a voicemail message) as a gapless MP3 beside it; the WAV goes once the
    MP3 is whole on disk."""
    pcm = wav_to_pcm(wav.read_bytes())
    target = wav.with_suffix(".mp3")
    partial = target.with_name(f".{target.name}.partial")
    try:
        spool = Mp3Spool(partial, 8000, 1, threaded=False)
        second = 2 * 8000
        for start in range(0, len(pcm), second):
            spool.write(pcm[start : start + second])
        spool.close()
        with partial.open("rb") as done:
            os.fsync(done.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)  # a failed encode leaves the WAV, and nothing else
    wav.unlink()
    return target


def file_facts(path: Path, samples: int, seal: Seal | None = None) -> SpoolFacts:
    """Size and SHA-256 of a finished file (read once; of its plain audio if it is sealed)."""
    sha256 = hashlib.sha256()
    size = 0
    with open_file(path, seal=seal) as fh:
        while chunk := fh.read(_HASH_CHUNK):
            sha256.update(chunk)
            size += len(chunk)
    return SpoolFacts(samples, size, sha256.hexdigest())


# ---- finishing files a crash left open ---------------------------------------------------------------


def repair(path: Path) -> tuple[int, int, int]:
    """Finish a spool file a crash left open: (samples per channel, sample rate, channels) it holds."""
    if path.suffix == ".wav":
        return repair_wav(path)
    return repair_mp3(path, None)


def repair_wav(path: Path) -> tuple[int, int, int]:
    """Patch a WAV's sizes from what is on disk (a torn last frame is cut off)."""
    with open_file(path, "r+b") as fh:
        header = fh.read(_WAV_HEADER)
        if len(header) < _WAV_HEADER:
            raise ValueError(f"{path.name}: no WAV header")
        riff, _, _, _, _, _, channels, rate, _, _, _, data_tag, _ = _WAV.unpack(header)  # as wav_header lays it out
        if riff != b"RIFF" or data_tag != b"data":
            raise ValueError(f"{path.name}: no WAV header")
        block = 2 * channels
        data = (fh.seek(0, os.SEEK_END) - _WAV_HEADER) // block * block
        fh.truncate(_WAV_HEADER + data)
        fh.seek(0)
        fh.write(wav_header(rate, channels, data))
    return data // block, rate, channels


def repair_mp3(path: Path, samples: int | None, seal: Seal | None = None) -> tuple[int, int, int]:
    """Write the Info frame for the whole frames on disk (a torn last frame is cut off). *samples* is what was
    encoded, if known; after a crash it is what the frames hold less the delays (the encoder's tail never came)."""
    with open_file(path, "r+b", seal) as fh:
        placeholder = mp3_frames.parse_header(fh.read(4))
        if placeholder is None:
            raise ValueError(f"{path.name}: no MP3 frame at the start")
        frames, length, first = mp3_frames.scan_frames(fh, placeholder.size)
        if first is None:
            raise ValueError(f"{path.name}: no audio frames")
        if mp3_frames.info_frame_size(first) != placeholder.size:
            raise ValueError(f"{path.name}: the first frame is not calltape's Info frame")
        if samples is None:
            samples = max(0, frames * first.samples - mp3_frames.ENCODER_DELAY - mp3_frames.DECODER_DELAY)
        total = placeholder.size + length
        fh.truncate(total)
        fh.seek(0)
        fh.write(mp3_frames.info_frame(first, frames, total, samples))
    return samples, first.sample_rate, 1 if first.mono else 2
