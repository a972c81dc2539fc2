"""What an encoder is given: the job (a capture to encode into a file), and what of the file was encoded ahead
while the call went on (``ahead.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from calltape.at_rest.keyring import Seal
from calltape.recording.placement import FrameCounts

FRAME_SAMPLES = 576  # an MPEG-2.5 Layer III frame at 8 kHz
PRE_ROLL = 4  # frames encoded again before the file's end (the same bytes after 2 on noise, 3 on speech: measured)


@dataclass(frozen=True)
class Ahead:
    """What a recording's file holds so far, encoded ahead: what the next piece, and the final encode, go on from.
    Positions are the recording's samples (per channel) from its start."""

    start: int  # the recording's first sample on the call's timeline
    end: int  # its time limit on the timeline
    law: str  # the G.711 law the audio was laid out in
    frames: int = 0  # audio frames in the file
    size: int = 0  # the file's length: the Info frame's place and the frames
    fed: int = 0  # the samples whose audio made those frames
    read_to: int = 0  # the capture's offset up to which every block was read and its frames counted
    resume: int = 0  # the capture's offset of the first block the next piece must read
    counts: FrameCounts = field(default_factory=FrameCounts)  # the frames of the blocks before read_to
    marks: tuple[tuple[int, int], ...] = ()  # (kind, position) of the pause and mask markers before read_to
    spoiled: str = ""  # why the whole capture must be encoded afresh when the call ends ("" if it need not)

    @property
    def restart(self) -> int:
        """The sample from which encoding goes on: ``PRE_ROLL`` frames before the file's end, on a frame boundary."""
        return max(0, self.frames - PRE_ROLL) * FRAME_SAMPLES


@dataclass(frozen=True)
class EncodeJob:
    """What to encode where. *received* and *not_captured* are the tap's counts (None after a crash)."""

    capture: str
    output: str
    fmt: str
    rate: int
    channels: int  # 1: both directions mixed; 2: caller left, callee right
    received: int | None = None
    not_captured: int = 0
    cut_pauses: bool = True  # pause_behavior skip: the file leaves paused time out; silence: it keeps it silent
    seal: Seal | None = None  # the recording is sealed at rest: its capture is, and its file will be
    ahead: Ahead | None = None  # what of the file was encoded while the call went on
