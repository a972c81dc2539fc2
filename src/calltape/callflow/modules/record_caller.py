"""``record_caller``: answer and record only the caller — until any key, silence, the time limit or hangup.

The file goes to ``url/<CALL_ID>.<EXT>`` with no query string, as Kazoo sends it, through the same
durable delivery as ``record_call`` (Kazoo's own record_caller upload is never retried). The flow
then goes on to the ``_`` child.
"""

from __future__ import annotations

from pydantic import Field

from calltape.callflow.call_api import Recorder
from calltape.callflow.module import Branch, Module, ModuleData, register
from calltape.recording.options import RecordingTarget
from calltape.recording.request import RecordingRequest


class RecordCallerData(ModuleData, RecordingTarget):
    """Kazoo's ``record_caller`` data, plus what counts as silence."""

    silence_seconds: float | None = Field(5.0, gt=0, le=600)  # null: silence never ends it
    silence_threshold: int = Field(300, ge=0, le=32767)  # peak amplitude below which a frame is silent


async def run(call: Recorder, data: RecordCallerData) -> Branch:
    """Record; then the ``_`` child runs."""
    request = RecordingRequest(
        format=data.format, url=data.url, method=data.method, time_limit=data.time_limit, stereo=False
    )
    await call.record_caller_to(request, data.silence_seconds, data.silence_threshold)
    return None


MODULE = register(Module("record_caller", RecordCallerData, run))
