"""The recording keys of system_config ``media``, read with Kazoo's names and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MediaSettings:
    """The recording keys of system_config ``media`` (Kazoo's names and defaults)."""

    max_recording_time_limit: float = 10800.0
    store_recordings: bool = False
    record_min_sec: float = 0.0
    extension: str = "mp3"
    storage_retry_times: int = 5

    @classmethod
    def from_document(cls, doc: dict[str, Any] | None) -> MediaSettings:
        """Read a system_config ``media`` document (missing or bad keys keep their defaults)."""
        doc = doc or {}
        recording = doc.get("call_recording")
        recording = recording if isinstance(recording, dict) else {}
        defaults = cls()
        extension = str(recording.get("extension", defaults.extension)).lower()
        return cls(
            max_recording_time_limit=_number(doc, "max_recording_time_limit", defaults.max_recording_time_limit),
            store_recordings=doc.get("store_recordings") is True,
            record_min_sec=_number(doc, "record_min_sec", defaults.record_min_sec),
            extension=extension if extension in ("mp3", "wav") else defaults.extension,
            storage_retry_times=int(
                _number(  # Kazoo's key is under call_recording; calltape read it at the top level before
                    recording,
                    "storage_retry_times",
                    _number(doc, "storage_retry_times", defaults.storage_retry_times),
                )
            ),
        )


def _number(doc: dict[str, Any], key: str, default: float) -> float:
    value = doc.get(key, default)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else default
