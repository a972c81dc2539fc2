"""Text to speech with espeak-ng, rendered once per (text, voice, language) and kept in the data dir."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

from calltape.media.sources import MediaError, fix_streamed_wav_header, load_pcm, pcm_to_wav, wav_to_pcm


class TtsCache:
    """``render()`` returns 8 kHz mono PCM; the first call for a phrase runs espeak-ng, later ones read the cache."""

    def __init__(self, directory: Path, binary: str = "espeak-ng") -> None:
        self.directory = directory
        self.binary = binary
        self._pending: dict[str, asyncio.Future[Path]] = {}

    def path_for(self, text: str, voice: str, language: str) -> Path:
        """Where the render of this phrase is kept."""
        key = hashlib.sha256(f"{voice}\0{language}\0{text}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.wav"

    async def render(self, text: str, voice: str = "female", language: str = "en-us") -> bytes:
        """The phrase as PCM (concurrent requests for one phrase share a single espeak-ng run)."""
        path = self.path_for(text, voice, language)
        if not path.exists():
            key = str(path)
            if key not in self._pending:
                self._pending[key] = asyncio.ensure_future(self._synthesise(text, voice, language, path))
            try:
                await asyncio.shield(self._pending[key])
            finally:
                self._pending.pop(key, None)
        return await asyncio.to_thread(load_pcm, path)

    async def _synthesise(self, text: str, voice: str, language: str, path: Path) -> Path:
        binary = shutil.which(self.binary)
        if binary is None:
            raise MediaError("espeak-ng is not installed (Debian package espeak-ng)")
        espeak_voice = language + ("+f3" if voice.lower() == "female" else "")
        proc = await asyncio.create_subprocess_exec(
            binary,
            "--stdout",
            "-v",
            espeak_voice,
            "--",
            text,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0 or not out:
            raise MediaError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
        pcm = await asyncio.to_thread(wav_to_pcm, fix_streamed_wav_header(out))
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pcm_to_wav(pcm))
        tmp.replace(path)
        return path
