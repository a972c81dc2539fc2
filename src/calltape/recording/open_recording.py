"""One recording being made: its file, where it goes, what asked for it, and the call as it was when it started."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from calltape.at_rest.keyring import Seal
from calltape.delivery.targets import Target
from calltape.recording.ahead_runs import AheadRun
from calltape.recording.capture_file import CaptureWriter
from calltape.recording.metadata import CallFacts
from calltape.recording.request import RecordingRequest
from calltape.recording.spool import AudioSpool


class RecordingError(Exception):
    """A recording could not be started (the call goes on without it)."""


@dataclass(eq=False)
class Recording:
    """One recording being made."""

    id: str
    name: str
    fmt: str
    path: Path  # the finished file
    channels: int
    rate: int
    spool: AudioSpool | None  # what the caller says: written as it comes
    capture: CaptureWriter | None  # a record_call: captured raw, encoded when it ends
    target: Target
    request: RecordingRequest
    facts: CallFacts  # as the call was when the recording started
    limit_seconds: float
    min_seconds: float
    source_type: str
    created: asyncio.Task[None] | None = field(default=None, repr=False)
    stretches: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # pauses and masks in the file
    told: asyncio.Future[None] | None = field(default=None, repr=False)  # the last status event, once told
    seal: Seal | None = field(default=None, repr=False)  # sealed at rest with it (the account's key)
    unsealed: str = ""  # why the account asked for encryption and did not get it
    ahead: AheadRun | None = field(default=None, repr=False)  # its file encoded while the call goes on
