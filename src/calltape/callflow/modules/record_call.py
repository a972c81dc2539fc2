"""``record_call``: record what the caller says and hears, from ``start`` until ``stop``, the time limit or hangup.

Kazoo's data (KAZOO-COMPAT.md): format, url, method, time_limit (default 3600, at least 5, capped by
system_config media ``max_recording_time_limit``), record_min_sec, record_on_answer, record_on_bridge,
record_sample_rate, label, media_name; calltape adds ``channels`` (stereo — caller left, the other
party right — or mono). ``stop`` ends every recording of the call; ``mask``/``unmask`` write silence
instead of the call's audio while masked (card numbers); ``pause``/``resume`` capture nothing meanwhile, and the
file leaves that time out (``pause_behavior: skip``, the default) or keeps it silent (``silence``); ``toggle``
starts or stops.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from calltape.callflow.call_api import Recorder
from calltape.callflow.module import Branch, Module, ModuleData, register
from calltape.recording.options import RecordingOptions


class RecordCallData(ModuleData, RecordingOptions):
    """Kazoo's ``record_call`` data."""

    action: Literal["start", "stop", "mask", "unmask", "pause", "resume", "toggle"] = "start"
    channels: Literal["stereo", "mono"] = "stereo"
    label: str | None = None
    media_name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")
    should_follow_transfer: bool = True


async def run(call: Recorder, data: RecordCallData) -> Branch:
    """Start, stop, mask or unmask; the flow goes on at once either way."""
    if data.action == "start" or (data.action == "toggle" and not call.recording):
        await call.record_call(
            data.request(
                label=data.label,
                stereo=data.channels == "stereo",
                media_name=data.media_name,
                follow_transfer=data.should_follow_transfer,
            ),
            on_answer=data.record_on_answer,
            on_bridge=data.record_on_bridge,
        )
    elif data.action in ("stop", "toggle"):
        await call.stop_recordings()
    elif data.action in ("pause", "resume"):
        call.pause_recordings(data.action == "pause")
    else:
        call.mask_recordings(data.action == "mask")
    return None


MODULE = register(Module("record_call", RecordCallData, run))
