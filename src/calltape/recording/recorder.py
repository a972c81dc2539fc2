"""The call recorder: a tap that lays both directions of a call on its timeline and writes them a second at a time.

Frames land, still G.711-encoded (a byte a sample), in two-second buffers at their place on the call's
media timeline — what the caller says (left), what the caller hears (right) — so loss, pauses and late
packets keep their place. Once the timeline is a quarter second past a whole second, that second is
copied out and handed to the spool, which decodes, mixes (mono), resamples if asked and encodes it where
it writes (an MP3 spool: on its encoder thread). Per frame the work is one bytearray slice assignment;
everything else happens once a second, at a moment that differs per call.
"""

from __future__ import annotations

import audioop
import time
from collections.abc import Callable
from typing import Any

from calltape.media.g711 import G711
from calltape.recording.spool import AudioSpool

RATE = 8000  # the timeline's rate
BLOCK = RATE  # one second: the unit of mixing, encoding and writing
LATE = RATE // 4  # a frame may arrive this long after its place (reordering, jitter) and still be kept


class CallRecorder:
    """``recorder(direction, pcm, position)`` for every frame of the call; ``finish(position)`` at the end."""

    def __init__(
        self,
        spool: AudioSpool,
        *,
        stereo: bool,
        limit_samples: int,
        on_stop: Callable[[str], None],
        start: int | None = None,
    ) -> None:
        self.spool = spool
        self.stereo = stereo
        self.limit_samples = limit_samples
        self.on_stop = on_stop  # called once if the recorder stops by itself: "time_limit" or a write error
        self.started_at: float | None = None  # Unix time of the first sample
        self.start: int | None = None  # its timeline position
        self.end: int | None = None  # where the time limit falls
        self.finished = False
        self.masked = False  # while True, frames are not kept: the recording holds silence
        self.error = ""
        self.late_frames = 0
        self._codec: G711 | None = None  # the law the buffers hold (the A-leg's)
        self._said = bytearray(2 * BLOCK)  # what the caller says
        self._heard = bytearray(2 * BLOCK)  # what the caller hears
        self._silence = b""
        self._base = 0  # timeline position of the buffer's first sample
        self._flush_at = BLOCK + LATE  # offset from _base at which the first second is written
        self._rate_state: list[Any] = [None, None]  # audioop.ratecv's state per channel
        if start is not None:
            self._begin(start)

    def _begin(self, position: int) -> None:
        self.start = self._base = position
        self.end = position + self.limit_samples
        self.started_at = time.time()

    def __call__(self, direction: str, payload: bytes, position: int, codec: G711) -> None:
        if self.finished:
            return
        if codec is not self._codec:
            self._adopt(codec)
        if self.start is None:
            self._begin(position)  # the media began after the recording was asked for
        offset = position - self._base
        if offset >= self._flush_at:
            self.advance(position)
            if self.finished:
                return
            offset = position - self._base
        if self.masked:
            return
        size = len(payload)
        if offset < 0:  # its place was written already: keep what is still open
            if offset + size <= 0:
                self.late_frames += 1
                return
            payload, size, offset = payload[-offset:], size + offset, 0
        buffer = self._said if direction == "in" else self._heard
        buffer[offset : offset + size] = payload

    def _adopt(self, codec: G711) -> None:
        """The first frame, or a change of law (a re-INVITE): the buffers are kept in the law frames come in."""
        old, self._codec = self._codec, codec
        self._silence = codec.silence[:1] * BLOCK
        for buffer in (self._said, self._heard):
            if old is None or old.name == codec.name:
                if old is None:
                    buffer[:] = self._silence * 2
            else:
                buffer[:] = codec.encode(old.decode(bytes(buffer)))

    def advance(self, position: int) -> None:
        """Write every second the timeline has left behind by *position* (called per frame, and once a second)."""
        if self.start is None or self.finished:
            return
        assert self.end is not None
        target = min(position - LATE, self.end)
        while self._base + BLOCK <= target and not self.finished:
            self._write(BLOCK)
        if self._base >= self.end and not self.finished:
            self.finished = True
            self.on_stop("time_limit")

    def finish(self, position: int) -> int:
        """Write everything up to *position* (or the limit); the number of samples recorded."""
        if self.start is None:
            self.finished = True
            return 0
        assert self.end is not None
        stop = min(max(position, self._base), self.end)
        while self._base < stop and not self.error:
            self._write(min(BLOCK, stop - self._base))
        self.finished = True
        return self.written

    @property
    def written(self) -> int:
        """Samples handed to the spool so far."""
        return 0 if self.start is None else self._base - self.start

    def _write(self, samples: int) -> None:
        """Hand a block to the spool: copied here, decoded, mixed or interleaved and written where the spool
        writes (an MP3 spool's encoder thread), so the event loop only copies two buffers a second."""
        try:
            if self.spool.error is not None:
                raise self.spool.error
            said, heard = bytes(self._said[:samples]), bytes(self._heard[:samples])
            self.spool.submit(lambda: self._convert(said, heard, self._codec))
        except OSError as exc:  # a full disk: what was written stays, the call goes on
            self.error = f"writing failed: {exc}"
            if not self.finished:
                self.finished = True
                self.on_stop(self.error)
            return
        if samples == BLOCK and self._codec is not None:
            for buffer in (self._said, self._heard):
                buffer[:BLOCK] = buffer[BLOCK:]
                buffer[BLOCK:] = self._silence
        self._base += samples

    def _convert(self, said: bytes, heard: bytes, codec: G711 | None) -> None:
        """Decode a block and write it as the file wants it (runs where the spool writes)."""
        left, heard_pcm = _decode(said, codec), _decode(heard, codec)
        right: bytes | None = heard_pcm
        if not self.stereo:
            left, right = audioop.add(left, heard_pcm, 2), None  # saturating
        rate = self.spool.rate
        if rate != RATE:  # linear, with its state carried from block to block
            left, self._rate_state[0] = audioop.ratecv(left, 2, 1, RATE, rate, self._rate_state[0])
            if right is not None:
                right, self._rate_state[1] = audioop.ratecv(right, 2, 1, RATE, rate, self._rate_state[1])
        self.spool.write_channels(left, right)


def _decode(block: bytes, codec: G711 | None) -> bytes:
    return bytes(2 * len(block)) if codec is None else codec.decode(block)  # no frame yet: silence
