"""LAME, the system's libmp3lame (Debian ``libmp3lame0``), called through ctypes.

Why not the ``lameenc`` wheel: measured on this machine (2026-11-28) for 8 kHz stereo at quality 7, the
system library with plain stereo (no mid/side decision) encodes a second of audio in 0.70 ms against
lameenc's 0.90 ms (joint stereo, which it does not let us change); and a ctypes call releases the GIL, so
encoding runs on another core while the event loop carries the calls — lameenc holds the GIL throughout
(two threads encoding took longer than one doing both jobs in turn).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

_MODE_STEREO, _MODE_MONO = 0, 3
_MAX_SAMPLES = 48000  # per call: a second at the highest rate we encode


class LameError(RuntimeError):
    """libmp3lame is missing or refused the settings."""


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("mp3lame") or "libmp3lame.so.0"
    try:
        lib = ctypes.CDLL(name)  # CDLL (not PyDLL): the GIL is released during each call
    except OSError as exc:
        raise LameError(f"libmp3lame not found ({exc}); install Debian's libmp3lame0") from None
    lib.lame_init.restype = ctypes.c_void_p
    lib.lame_init.argtypes = []
    for setter in (
        "lame_set_in_samplerate",
        "lame_set_out_samplerate",
        "lame_set_num_channels",
        "lame_set_quality",
        "lame_set_brate",
        "lame_set_mode",
        "lame_set_bWriteVbrTag",
        "lame_set_disable_reservoir",
    ):
        getattr(lib, setter).argtypes = [ctypes.c_void_p, ctypes.c_int]
        getattr(lib, setter).restype = ctypes.c_int
    lib.lame_init_params.argtypes = [ctypes.c_void_p]
    lib.lame_encode_buffer_interleaved.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_int,
    ]
    lib.lame_encode_buffer.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_int,
    ]
    lib.lame_encode_flush.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.lame_close.argtypes = [ctypes.c_void_p]
    return lib


_lib: ctypes.CDLL | None = None
_per_thread = threading.local()


def _output_buffer() -> ctypes.Array[ctypes.c_char]:
    """Room for LAME's worst case output of one call: one per thread, not one per encoder (67 KB each)."""
    buffer: ctypes.Array[ctypes.c_char] | None = getattr(_per_thread, "buffer", None)
    if buffer is None:
        buffer = _per_thread.buffer = ctypes.create_string_buffer(_MAX_SAMPLES * 5 // 4 + 7200)
    return buffer


def library() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


class LameEncoder:
    """One MP3 stream: constant bitrate, 16-bit interleaved PCM in, whole frames out."""

    def __init__(self, rate: int, channels: int, kbps: int, quality: int = 7) -> None:
        lib = library()
        self._lib = lib
        self.channels = channels
        handle = lib.lame_init()
        if not handle:
            raise LameError("lame_init failed")
        self._handle: int | None = handle
        lib.lame_set_in_samplerate(handle, rate)
        lib.lame_set_out_samplerate(handle, rate)
        lib.lame_set_num_channels(handle, channels)
        lib.lame_set_mode(handle, _MODE_MONO if channels == 1 else _MODE_STEREO)
        lib.lame_set_quality(handle, quality)
        lib.lame_set_brate(handle, kbps)
        lib.lame_set_bWriteVbrTag(handle, 0)  # the Info frame is ours (written on close and by recovery)
        # Each frame holds its own bits (no reservoir lent between frames): an encoder started on a frame boundary
        # a few frames early then gives the same bytes as one that ran from the start, so a recording can be
        # encoded ahead in pieces while its call goes on (``ahead.py``). Measured: the same signal-to-noise ratio.
        lib.lame_set_disable_reservoir(handle, 1)
        if lib.lame_init_params(handle) < 0:
            self.close()
            raise LameError(f"LAME refused {rate} Hz, {channels} channel(s), {kbps} kb/s")

    def encode_channels(self, left: bytes, right: bytes | None) -> bytes:
        """Encode one channel (mono: *right* None) or two, each 16-bit PCM; no interleaving needed."""
        assert self._handle is not None
        out = _output_buffer()
        size = self._lib.lame_encode_buffer(self._handle, left, right or left, len(left) // 2, out, len(out))
        if size < 0:
            raise LameError(f"lame_encode_buffer failed ({size})")
        return out.raw[:size]

    def encode(self, pcm: bytes) -> bytes:
        """Encode interleaved samples (at most a second's worth per call); the frames that are complete."""
        assert self._handle is not None
        samples = len(pcm) // (2 * self.channels)
        out = _output_buffer()
        if self.channels == 2:
            size = self._lib.lame_encode_buffer_interleaved(self._handle, pcm, samples, out, len(out))
        else:
            size = self._lib.lame_encode_buffer(self._handle, pcm, pcm, samples, out, len(out))
        if size < 0:
            raise LameError(f"lame_encode_buffer failed ({size})")
        return out.raw[:size]

    def flush(self) -> bytes:
        """The last frames (the encoder's delay and the padding to a whole frame)."""
        assert self._handle is not None
        out = _output_buffer()
        size = self._lib.lame_encode_flush(self._handle, out, len(out))
        return out.raw[: max(size, 0)]

    def close(self) -> None:
        """Free the encoder."""
        if self._handle is not None:
            self._lib.lame_close(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
