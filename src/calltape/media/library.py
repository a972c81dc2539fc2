"""Uploaded media (converted to 8 kHz mono WAV once, on upload, and kept in the shared store for the other nodes)
and http(s) prompts fetched once and cached."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from typing import Protocol

from calltape.http_client import HTTP_ERRORS, request_once
from calltape.media.formats import SNIFF_BYTES, looks_like
from calltape.media.sources import MediaError, load_pcm, mp3_to_pcm, pcm_to_wav, wav_to_pcm

log = logging.getLogger(__name__)

MAX_FETCH = 50 * 1024 * 1024
FETCH_TIMEOUT = 30.0  # seconds a prompt has to arrive in (a caller is waiting)
MEDIA_ID = re.compile(r"^[0-9a-fA-F]{32}$")


def to_pcm(data: bytes, content_type: str = "") -> bytes:
    """WAV or MP3 bytes (told apart by their first bytes) → 8 kHz mono PCM."""
    if looks_like("wav", data[:SNIFF_BYTES]):
        return wav_to_pcm(data)
    if looks_like("mp3", data[:SNIFF_BYTES]) or "mpeg" in content_type:
        return mp3_to_pcm(data)
    raise MediaError("expected a WAV or MP3 file")


class SharedCopies(Protocol):
    """The store's copies of files every node needs (``store/shared_files.py``)."""

    async def keep(self, path: Path, account_id: str) -> None: ...
    async def local(self, path: Path, *, now: bool = False) -> bool: ...
    async def forget(self, *paths: Path) -> None: ...
    async def share_what_is_here(self, *folders: str) -> int: ...


class MediaLibrary:
    """Where media files live under the data directory."""

    def __init__(self, data_dir: Path, files: SharedCopies | None = None) -> None:
        self.root = data_dir / "media"
        self.cache = data_dir / "media-cache"
        self.files = files  # the store's copies, for the other nodes (None: this node's disk only)

    def path(self, account_id: str, media_id: str) -> Path:
        """The converted file of an uploaded media."""
        return self.root / account_id / f"{media_id}.wav"

    async def store_upload(self, account_id: str, media_id: str, data: bytes, content_type: str) -> float:
        """Convert and keep an upload; returns its duration in seconds."""
        pcm = await asyncio.to_thread(to_pcm, data, content_type)
        path = self.path(account_id, media_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pcm_to_wav(pcm))
        tmp.replace(path)
        if self.files is not None:
            await self.files.keep(path, account_id)
        return len(pcm) / 16000

    async def local_path(self, account_id: str, media_id: str, *, now: bool = False) -> Path | None:
        """An uploaded media's file on this node (fetched if it was uploaded through another; *now*: checked
        with the store now, not a few seconds ago), or None."""
        path = self.path(account_id, media_id)
        if self.files is not None:
            return path if await self.files.local(path, now=now) else None
        return path if path.exists() else None

    async def forget(self, account_id: str, media_id: str) -> None:
        """An uploaded media's file goes (and the store's copy)."""
        path = self.path(account_id, media_id)
        if self.files is not None:
            await self.files.forget(path)
        path.unlink(missing_ok=True)

    async def pcm(self, account_id: str, media: str) -> bytes | None:
        """PCM of a media id or URL; None if there is no such media."""
        if MEDIA_ID.match(media):
            path = await self.local_path(account_id, media)
            return await asyncio.to_thread(load_pcm, path) if path is not None else None
        if media.startswith(("http://", "https://")):
            return await self._fetched(media)
        return None

    async def _fetched(self, url: str) -> bytes | None:
        path = self.cache / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}.wav"
        if not path.exists():
            try:
                answer = await request_once("GET", url, timeout=FETCH_TIMEOUT, redirects=True, read=MAX_FETCH)
                if not answer.ok:
                    raise MediaError(f"answered {answer.status}")
                pcm = await asyncio.to_thread(to_pcm, answer.body, answer.headers.get("content-type", ""))
            except (*HTTP_ERRORS, MediaError) as exc:
                log.warning("cannot fetch prompt %s: %s", url, exc)
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pcm_to_wav(pcm))
            tmp.replace(path)
        return await asyncio.to_thread(load_pcm, path)
