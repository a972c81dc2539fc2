"""The recording fields Kazoo's documents share — ``record_call``, ``record_caller`` and automatic
``call_recording`` settings — checked when the document is saved, so a bad one is a 400 with its path."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from calltape.recording.names import MAX_TIME_LIMIT, MIN_TIME_LIMIT, SAMPLE_RATES, check_url
from calltape.recording.request import RecordingRequest


class RecordingTarget(BaseModel):
    """Where a recording goes, in what format, for how long at most."""

    format: Literal["mp3", "wav"] | None = None
    url: str | None = None
    method: Literal["put", "post"] = "put"
    time_limit: float | None = Field(None, ge=MIN_TIME_LIMIT, le=MAX_TIME_LIMIT)

    @field_validator("format", "method", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value) if value else None


class RecordingOptions(RecordingTarget):
    """A whole call's recording: the target, plus when it starts, the shortest kept and the sample rate."""

    record_min_sec: float | None = Field(None, ge=0)
    record_on_answer: bool = False
    record_on_bridge: bool = False
    record_sample_rate: int = 8000
    pause_behavior: Literal["skip", "silence"] = "skip"  # calltape's: a pause is cut out of the file, or silent
    announce: str | None = Field(None, min_length=1, max_length=2000)  # consent: a media id, URL or tts://text
    beep_interval: float | None = Field(None, ge=1, le=3600)  # consent: a beep every so many seconds, heard by all

    @field_validator("record_sample_rate")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value not in SAMPLE_RATES:
            raise ValueError(f"must be one of {', '.join(map(str, SAMPLE_RATES))}")
        return value

    def request(
        self,
        *,
        label: str | None = None,
        origin: str | None = None,
        stereo: bool = True,
        media_name: str | None = None,
        follow_transfer: bool = True,
    ) -> RecordingRequest:
        """What the call is asked to record."""
        return RecordingRequest(
            format=self.format,
            url=self.url,
            method=self.method,
            time_limit=self.time_limit,
            record_min_sec=self.record_min_sec,
            sample_rate=self.record_sample_rate,
            stereo=stereo,
            label=label,
            origin=origin,
            media_name=media_name,
            follow_transfer=follow_transfer,
            pause_behavior=self.pause_behavior,
            announce=self.announce,
            beep_interval=self.beep_interval,
        )
