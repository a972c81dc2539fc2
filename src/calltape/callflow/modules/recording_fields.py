"""The fields ``record_call`` and ``record_caller`` share, checked when a callflow is saved."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from calltape.callflow.module import ModuleData

URL_SCHEMES = ("http", "https", "ftp", "ftps")
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)  # what MP3 can hold
MIN_TIME_LIMIT = 5


class RecordingData(ModuleData):
    """Where a recording goes and how it is made."""

    format: Literal["mp3", "wav"] | None = None
    url: str | None = None
    method: Literal["put", "post"] = "put"
    time_limit: float | None = Field(None, ge=MIN_TIME_LIMIT)

    @field_validator("format", "method", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() not in URL_SCHEMES:
            raise ValueError(f"must be an http, https, ftp or ftps URL, not {parts.scheme or 'a relative'!r} one")
        if not parts.hostname:
            raise ValueError("must name a host")
        return value
