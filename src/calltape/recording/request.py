"""What a callflow asks a recording to be: the checked fields of ``record_call``, ``record_caller`` or the
automatic ``call_recording`` settings, before system defaults fill in what is left open."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordingRequest:
    """What ``record_call`` or ``record_caller`` asked for (Kazoo's data, already checked)."""

    format: str | None = None  # None: system_config media ``call_recording.extension``
    url: str | None = None
    method: str = "put"
    time_limit: float | None = None  # None: 3600 s; always capped at ``max_recording_time_limit``
    record_min_sec: float | None = None  # None: system_config media ``record_min_sec``
    sample_rate: int = 8000
    stereo: bool = True
    label: str | None = None  # record_call's: the origin is ``callflow : <label>``
    origin: str | None = None  # an automatic rule's name (``inbound from offnet to account``), as the origin
    media_name: str | None = None
    follow_transfer: bool = True  # record_call's should_follow_transfer: false ends the file at a transfer
    pause_behavior: str = "skip"  # skip: a pause is left out of the file; silence: it is kept, silent
    announce: str | None = None  # consent: played to the call's parties before the recording starts (once a call)
    beep_interval: float | None = None  # consent: a beep to every party this often while a recording runs
