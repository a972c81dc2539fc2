"""The fields ``record_call`` and ``record_caller`` share, checked when a callflow is saved."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from calltape.callflow.module import ModuleData
from calltape.recording.names import MIN_TIME_LIMIT, check_url


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
        return check_url(value) if value else None
