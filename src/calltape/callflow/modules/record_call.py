"""``record_call``: record what the caller says and hears, from ``start`` until ``stop``, the time limit or hangup.

Kazoo's data (KAZOO-COMPAT.md): format, url, method, time_limit (default 3600, at least 5, capped by
system_config media ``max_recording_time_limit``), record_min_sec, record_on_answer, record_on_bridge,
record_sample_rate, label, media_name; calltape adds ``channels`` (stereo — caller left, the other
party right — or mono). ``stop`` ends every recording of the call; ``mask``/``unmask`` write silence
instead of the call's audio while masked (card numbers), ``toggle`` starts or stops.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from calltape.callflow.call_api import CallApi, RecordingRequest
from calltape.callflow.module import Branch, Module, register
from calltape.callflow.modules.recording_fields import RecordingData
from calltape.recording.names import SAMPLE_RATES


class RecordCallData(RecordingData):
    """Kazoo's ``record_call`` data."""

    action: Literal["start", "stop", "mask", "unmask", "toggle"] = "start"
    record_min_sec: float | None = Field(None, ge=0)
    record_on_answer: bool = False
    record_on_bridge: bool = False
    record_sample_rate: int = 8000
    channels: Literal["stereo", "mono"] = "stereo"
    label: str | None = None
    media_name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")
    should_follow_transfer: bool = True

    @field_validator("record_sample_rate")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value not in SAMPLE_RATES:
            raise ValueError(f"must be one of {', '.join(map(str, SAMPLE_RATES))}")
        return value

    def request(self) -> RecordingRequest:
        """What the call is asked to record."""
        return RecordingRequest(
            format=self.format,
            url=self.url,
            method=self.method,
            time_limit=self.time_limit,
            record_min_sec=self.record_min_sec,
            sample_rate=self.record_sample_rate,
            stereo=self.channels == "stereo",
            label=self.label,
            media_name=self.media_name,
        )


async def run(call: CallApi, data: RecordCallData) -> Branch:
    """Start, stop, mask or unmask; the flow goes on at once either way."""
    if data.action == "start" or (data.action == "toggle" and not call.recording):
        await call.record_call(data.request(), on_answer=data.record_on_answer, on_bridge=data.record_on_bridge)
    elif data.action in ("stop", "toggle"):
        await call.stop_recordings()
    else:
        call.mask_recordings(data.action == "mask")
    return None


MODULE = register(Module("record_call", RecordCallData, run))
