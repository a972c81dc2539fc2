"""What the softphone says and hears: a looping source for its leg, and a tap that keeps what it hears."""

from __future__ import annotations

import audioop
from pathlib import Path

import numpy as np

from calltape.media.g711 import FRAME_BYTES, FRAME_SAMPLES, G711
from calltape.media.sources import RATE, MediaError, mp3_to_pcm, pcm_to_wav, tone, wav_to_pcm
from calltape.media.taps import FrameBatch, TapDirection


def load_audio(play: Path | None, tone_hz: list[float] | None) -> bytes:
    """8 kHz mono PCM from ``--play FILE`` (WAV or MP3) or ``--tone HZ[,HZ]`` (one second, looped); b"" for none."""
    if play is not None:
        try:
            data = play.read_bytes()
        except OSError as exc:
            raise MediaError(f"cannot read {play}: {exc.strerror}") from None
        return mp3_to_pcm(data) if play.suffix.lower() == ".mp3" else wav_to_pcm(data)
    if tone_hz:
        return tone(tuple(tone_hz), 1.0)
    return b""


class Looping:
    """A leg source that plays PCM over and over (encoded once per codec), or silence when there is none."""

    def __init__(self, pcm: bytes, loop: bool = True) -> None:
        self.pcm = pcm[: len(pcm) - len(pcm) % FRAME_BYTES] if loop else pcm
        self.loop = loop
        self._frames: dict[str, list[bytes]] = {}
        self._next = 0

    def next_frame(self, codec: G711) -> bytes:
        """The next 20 ms of the audio in *codec*."""
        frames = self._frames.get(codec.name)
        if frames is None:
            encoded = codec.encode(self.pcm.ljust(-(-len(self.pcm) // FRAME_BYTES) * FRAME_BYTES, b"\x00"))
            frames = [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]
            self._frames[codec.name] = frames
        if not frames or (not self.loop and self._next >= len(frames)):
            return codec.silence
        frame = frames[self._next % len(frames)]
        self._next += 1
        return frame


class Listener:
    """A media tap that keeps every frame the phone hears at its place on the call's timeline."""

    def __init__(self) -> None:
        self._frames: list[tuple[int, bytes, G711]] = []

    def __call__(self, direction: TapDirection, payload: bytes, position: int, codec: G711) -> None:
        if direction is TapDirection.IN:
            self._frames.append((position, payload, codec))

    def frames(self, direction: TapDirection, batch: FrameBatch, codec: G711) -> None:
        if direction is TapDirection.IN:
            self._frames.extend((position, payload, codec) for position, payload in batch.frames())

    def pcm(self) -> bytes:
        """What was heard as 8 kHz mono PCM, from the first frame heard; gaps are silence."""
        if not self._frames:
            return b""
        start = min(position for position, _, _ in self._frames)
        end = max(position for position, _, _ in self._frames) + FRAME_SAMPLES
        out = bytearray(2 * (end - start))
        for position, payload, codec in self._frames:
            at = 2 * (position - start)
            out[at : at + 2 * len(payload)] = codec.decode(payload)
        return bytes(out)

    def write_wav(self, path: Path) -> None:
        """Save what was heard as a 16-bit 8 kHz mono WAV."""
        path.write_bytes(pcm_to_wav(self.pcm()))


def describe(pcm: bytes) -> dict[str, float]:
    """Seconds, level (RMS, 0–32767) and strongest frequency of *pcm*: what a person would check by ear."""
    if len(pcm) < 2 * FRAME_SAMPLES:
        return {"seconds": round(len(pcm) / 2 / RATE, 3), "rms": 0.0, "dominant_hz": 0.0}
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    peak = float(np.argmax(spectrum[1:]) + 1) * RATE / len(samples)
    return {"seconds": round(len(samples) / RATE, 3), "rms": float(audioop.rms(pcm, 2)), "dominant_hz": round(peak, 1)}
