"""Audio file formats: content types, and checking that bytes are what their name says (a .mp3 is an MP3)."""

from __future__ import annotations

from pathlib import PurePath

CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/x-wav"}
SNIFF_BYTES = 12


def format_of(path: PurePath) -> str:
    """A file's format by its name (``mp3`` or ``wav``; WAV when the name says neither)."""
    kind = path.suffix.lstrip(".").lower()
    return kind if kind in CONTENT_TYPES else "wav"


def looks_like(ext: str, head: bytes) -> bool:
    """True if *head* (the first bytes of the body) starts like a file of format *ext*."""
    if ext == "mp3":
        if head.startswith(b"ID3"):
            return True
        return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0
    if ext == "wav":
        return len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"
    return False
