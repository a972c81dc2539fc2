"""What listens to a call's audio: taps, the frames they are given, and a call's list of them.

A tap is given every frame of a leg with its place on the call's timeline. Frames our own clock sends, and
received packets off the usual path (a new source, DTMF, reordering), come one at a time (``__call__``);
received packets on the usual path are kept as they came by their leg and handed on about once a second as a
:class:`FrameBatch` (``frames``), so the event loop does per packet what a bare relay does (read, send,
append the bytes) and places the second's frames in one go.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from calltape.media.g711 import G711


class TapDirection(StrEnum):
    """Which way a tapped frame went: what the leg's far end says, or what it hears."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Frames received one after another: their places on the call's timeline, their payload lengths, and their
    payloads end to end (*codec*'s bytes, as sent on the wire)."""

    positions: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.uint16]
    payloads: bytes

    def __len__(self) -> int:
        return len(self.positions)

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """Each frame as (position, payload), for a tap that takes them one by one."""
        start = 0
        for position, length in zip(self.positions.tolist(), self.lengths.tolist(), strict=True):
            yield position, self.payloads[start : start + length]
            start += length


class Tap(Protocol):
    """Receives every 20 ms frame of a leg as sent on the wire (*codec*'s bytes: a tap decodes what it keeps, in
    batches), with its position on the call's timeline — late and reordered frames come after others but carry
    their own place. Must not block."""

    def __call__(self, direction: TapDirection, payload: bytes, position: int, codec: G711) -> None: ...

    def frames(self, direction: TapDirection, batch: FrameBatch, codec: G711) -> None:
        """A batch of received frames (see :class:`FrameBatch`)."""


class Feeder(Protocol):
    """A leg whose received frames wait to be handed on to taps (``hand_on``)."""

    def hand_on(self) -> None: ...


class Taps(list["Tap"]):
    """A call's taps (a list, so that the media path's ``if taps:`` stays a plain check) and the legs that feed
    them. Before a tap comes or goes — and before anyone reads a tap's state that must be current (a recording's
    flush, its mask, its end) — ``settle()`` hands on what the legs hold, so each frame reaches exactly the taps
    there were when it arrived."""

    def __init__(self, taps: Iterable[Tap] = ()) -> None:
        super().__init__(taps)
        self.feeders: list[Feeder] = []

    def settle(self) -> None:
        """Hand every waiting frame on to the taps."""
        for feeder in self.feeders:
            feeder.hand_on()

    def append(self, tap: Tap) -> None:
        self.settle()
        super().append(tap)

    def remove(self, tap: Tap) -> None:
        self.settle()
        super().remove(tap)

    def feed_from(self, feeder: Feeder) -> None:
        """*feeder*'s frames reach these taps."""
        if feeder not in self.feeders:
            self.feeders.append(feeder)

    def stop_feeding(self, feeder: Feeder) -> None:
        """*feeder* no longer feeds these taps (it handed on what it held)."""
        if feeder in self.feeders:
            self.feeders.remove(feeder)
