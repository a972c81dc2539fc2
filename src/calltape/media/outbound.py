"""What a leg sends: one source at a time, each a small class with the same interface.

Every 20 ms the media clock asks the leg's source for the next frame: the encoded payload for the
leg's codec (taps get that too, and decode in batches what they keep).
Adding a way to feed a leg is a new class here, never a branch in the send loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from calltape.media.g711 import FRAME_BYTES, G711

RELAY_DEPTH = 5  # frames a relay may fall behind before the oldest is dropped (100 ms): latency stays bounded

Frame = bytes  # one 20 ms payload in the leg's codec


class Source(Protocol):
    """Gives a leg its next 20 ms of audio."""

    def next_frame(self, codec: G711) -> Frame: ...


class Silence:
    """Comfort: silence, encoded once per codec."""

    def next_frame(self, codec: G711) -> Frame:
        """A silent frame."""
        return codec.silence


class Player:
    """Plays queued PCM (prompts, tones, speech), then silence; each play's future completes when it has gone out."""

    def __init__(self) -> None:
        self._queue: deque[tuple[bytes, asyncio.Future[None]]] = deque()
        self._current: tuple[memoryview, int, asyncio.Future[None]] | None = None

    def play(self, pcm: bytes) -> asyncio.Future[None]:
        """Queue 8 kHz mono PCM; the future completes when its last frame has been sent."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((pcm, future))
        return future

    def stop(self) -> None:
        """Drop what is playing and queued (their futures complete)."""
        if self._current is not None:
            _finish(self._current[2])
            self._current = None
        while self._queue:
            _finish(self._queue.popleft()[1])

    def next_frame(self, codec: G711) -> Frame:
        """The next frame of what is playing, or silence."""
        if self._current is None:
            if not self._queue:
                return codec.silence
            pcm, future = self._queue.popleft()
            self._current = (memoryview(pcm), 0, future)
        view, offset, future = self._current
        frame = bytes(view[offset : offset + FRAME_BYTES]).ljust(FRAME_BYTES, b"\x00")
        offset += FRAME_BYTES
        if offset >= len(view):
            _finish(future)
            self._current = None
        else:
            self._current = (view, offset, future)
        return codec.encode(frame)


class RelayBuffer:
    """In-order payloads received on a leg, kept for a relay to send on (a bounded queue)."""

    def __init__(self, codec: G711) -> None:
        self.codec = codec  # the codec of the leg the payloads came from
        self.payloads: deque[bytes] = deque(maxlen=RELAY_DEPTH)


class Relay:
    """Sends what another leg (or, for echo, the same leg) receives: payloads as they came when the codecs
    match, transcoded PCMU↔PCMA when they differ; silence when nothing has arrived."""

    def __init__(self, buffer: RelayBuffer) -> None:
        self.buffer = buffer

    def next_frame(self, codec: G711) -> Frame:
        """The oldest payload waiting, in *codec*."""
        payloads = self.buffer.payloads
        if not payloads:
            return codec.silence
        payload = payloads.popleft()
        source = self.buffer.codec
        if source is codec or source.name == codec.name:
            return payload
        return codec.encode(source.decode(payload))


def _finish(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
