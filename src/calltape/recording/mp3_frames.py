"""MPEG audio Layer III frame headers, and the Info (Xing + LAME) frame that makes an MP3 gapless.

An encoder adds 576 samples of delay at the start and pads the end to a whole frame; a decoder adds
529 more. Without being told, a player hears ~0.1–0.2 s too much at 8 kHz. The Info frame at the start
of the file says how many frames follow, the encoder delay and the padding, so decoders that honour it
(mpg123, ffmpeg, browsers) give back exactly the samples that were recorded — and know the duration
without reading the whole file.

Layouts: ISO/IEC 11172-3 and 13818-3 (frame header), the Xing VBR header, and LAME's tag (its
"mp3 info tag" specification, revision 1): the tag's CRC-16 covers the first 190 bytes of the frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import BinaryIO

ENCODER_DELAY = 576  # LAME's, as written in the tag
DECODER_DELAY = 529  # a Layer III decoder's own (decoders add it themselves)
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 Layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5 Layer III
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits
_INFO_FLAGS = 0x0F  # frames, bytes, TOC and quality present
_TAG_CRC_SPAN = 190


@dataclass(frozen=True)
class FrameHeader:
    """The fields of one 4-byte Layer III frame header that size and place the frame."""

    raw: int
    version_bits: int  # 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
    bitrate_kbps: int
    sample_rate: int
    padding: int
    mono: bool

    @property
    def mpeg1(self) -> bool:
        return self.version_bits == 3

    @property
    def samples(self) -> int:
        """Samples per channel in one frame."""
        return 1152 if self.mpeg1 else 576

    @cached_property
    def size(self) -> int:
        """Bytes in the frame, header included."""
        return (144 if self.mpeg1 else 72) * self.bitrate_kbps * 1000 // self.sample_rate + self.padding

    @property
    def side_info_size(self) -> int:
        if self.mpeg1:
            return 17 if self.mono else 32
        return 9 if self.mono else 17


def parse_header(data: bytes | bytearray | memoryview, offset: int = 0) -> FrameHeader | None:
    """The Layer III frame header at *offset*, or None if there is none (or a free-format one)."""
    if len(data) < offset + 4:
        return None
    return _header(int.from_bytes(data[offset : offset + 4], "big"))


@lru_cache(maxsize=256)
def _header(raw: int) -> FrameHeader | None:
    """The header *raw* read apart (once: every frame of a file has one of a few headers)."""
    version_bits = (raw >> 19) & 3
    if raw >> 21 != 0x7FF or version_bits == 1 or (raw >> 17) & 3 != 1:
        return None
    bitrate_index, rate_index = (raw >> 12) & 0xF, (raw >> 10) & 3
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    return FrameHeader(
        raw=raw,
        version_bits=version_bits,
        bitrate_kbps=_BITRATES[1 if version_bits == 3 else 2][bitrate_index],
        sample_rate=_SAMPLE_RATES[version_bits][rate_index],
        padding=(raw >> 9) & 1,
        mono=(raw >> 6) & 3 == 3,
    )


def bitrate_for(sample_rate: int, channels: int) -> int:
    """A bitrate that keeps telephone audio intact: ~2 bits per sample and channel, the nearest allowed above."""
    table = _BITRATES[1 if sample_rate >= 32000 else 2]
    wanted = 2 * sample_rate * channels // 1000
    return next((b for b in table[1:] if b >= wanted), table[-1])


def frames_after_flush(samples: int, frame: FrameHeader) -> int:
    """The audio frames like *frame* LAME gives for *samples* per channel once flushed, its delay and padding
    included: two frames more than the samples fill, rounded up (measured at 8 kHz, without the bit reservoir)."""
    return -(-(samples + 2 * frame.samples) // frame.samples)


def info_frame(first: FrameHeader, frames: int, total_bytes: int, samples: int) -> bytes:
    """The Info frame for a constant-bitrate file of *frames* audio frames after this one, *total_bytes* long
    (this frame included), holding *samples* samples per channel. *frames* = 0 gives an empty placeholder."""
    size, header = _tag_frame_header(first)
    frame = bytearray(size)
    frame[:4] = header.to_bytes(4, "big")
    at = 4 + first.side_info_size
    if frames == 0:
        frame[at : at + 8] = b"Info" + bytes(4)  # no fields yet: decoders skip it
        return bytes(frame)
    toc = bytes(i * 256 // 100 for i in range(100))
    frame[at : at + 120] = b"Info" + struct.pack(">III", _INFO_FLAGS, frames, total_bytes) + toc + bytes(4)
    at += 120
    padding = max(0, frames * first.samples - samples - ENCODER_DELAY)
    delays = (min(ENCODER_DELAY, 0xFFF) << 12) | min(padding, 0xFFF)
    lame = bytearray(36)
    lame[0:9] = b"LAME3.100"
    lame[9] = 0x01  # tag revision 0, constant bitrate
    lame[10] = first.sample_rate // 2 // 100  # lowpass, in hundreds of Hz
    lame[20] = min(first.bitrate_kbps, 255)
    lame[21:24] = delays.to_bytes(3, "big")
    struct.pack_into(">I", lame, 28, total_bytes)  # music length
    frame[at : at + 36] = lame
    struct.pack_into(">H", frame, _TAG_CRC_SPAN, _crc16(bytes(frame[:_TAG_CRC_SPAN])))
    return bytes(frame)


def info_frame_size(first: FrameHeader) -> int:
    """How many bytes the Info frame for a stream of frames like *first* takes."""
    return _tag_frame_header(first)[0]


def _tag_frame_header(first: FrameHeader) -> tuple[int, int]:
    """The smallest frame of the stream's version and rate that holds the tag and its CRC (no padding bit)."""
    table = _BITRATES[1 if first.mpeg1 else 2]
    needed = _TAG_CRC_SPAN + 2
    for index, kbps in enumerate(table[1:], start=1):
        size = (144 if first.mpeg1 else 72) * kbps * 1000 // first.sample_rate
        if size >= needed:
            header = (first.raw & ~(0xF << 12) & ~(1 << 9)) | (index << 12) | (1 << 16)  # no CRC in the tag frame
            return size, header
    raise ValueError("no frame size holds the Info tag")  # cannot happen for Layer III rates


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16 = _crc16_table()


def _crc16(data: bytes) -> int:
    """CRC-16 (polynomial 0x8005, reflected, initial 0) as LAME's tag uses: a byte at a time, from a table."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _CRC16[(crc ^ byte) & 0xFF]
    return crc


def scan_frames(fh: BinaryIO, start: int) -> tuple[int, int, FrameHeader | None]:
    """Walk whole frames of the file from *start* (reading only their headers): (frames, bytes, first header)."""
    end = fh.seek(0, 2)
    offset, frames = start, 0
    first: FrameHeader | None = None
    while True:
        fh.seek(offset)
        header = parse_header(fh.read(4))
        if header is None or offset + header.size > end:
            return frames, offset - start, first
        first = first or header
        frames += 1
        offset += header.size
