"""Feature codes on a bridged call (Kazoo's metaflows, read in ``callflow/metaflows.py``): a code pressed after the
binding digit (``*``) runs its action — a number at once, a pattern (a regular expression, e.g. ``^2(\\d+)$``: a
transfer to the digits it captures) once no digit has come for the digit timeout, as Kazoo's konami decides.
Patterns run under ``calltape.patterns``' time limit, and at most ``MAX_HELD`` digits are held.

The digits of a code reach neither the other party nor the recording: while a call has codes, its bridge re-sends
each digit itself (RFC 4733) instead of relaying it, and holds back the binding digit and what follows until it is
clear whether they make a code. What makes no code (a digit that no code begins with, or nothing more within the
digit timeout) is passed on to the other party, in order, as it would have been.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import regex

from calltape.patterns import search

MAX_HELD = 40  # digits held back after the binding digit: beyond, they go on (no code is that long)

Side = Literal["self", "peer"]  # self: the caller's leg; peer: the other one


@dataclass(frozen=True)
class Pressed:
    """A code as pressed: on which side of the bridge, and what a pattern captured (Kazoo's ``captures``)."""

    side: Side
    captures: tuple[str, ...] = ()


Action = Callable[[Pressed], None]


@dataclass(frozen=True)
class CodeTable:
    """A call's codes: the binding digit, how long to wait between presses, whose digits count, each number's
    action and each pattern's (in order: the first that matches wins)."""

    binding_digit: str
    digit_timeout: float  # seconds
    listen_on: Literal["both", "self", "peer"]
    actions: Mapping[str, Action]
    patterns: tuple[tuple[regex.Pattern[str], Action], ...] = ()

    @property
    def any(self) -> bool:
        """Whether there is a code at all."""
        return bool(self.actions or self.patterns)

    def decide(self, code: str) -> tuple[Action, tuple[str, ...]] | None:
        """What *code* (the digits after the binding digit) runs: a number's action, else the first pattern found
        in it (unanchored, as Kazoo's ``re:run``) with its captures; None if nothing."""
        action = self.actions.get(code)
        if action is not None:
            return action, ()
        for pattern, pattern_action in self.patterns if code else ():
            found = search(pattern, code)
            if found is not None:
                return pattern_action, tuple(group or "" for group in found.groups())
        return None


class DigitGate:
    """One leg's digits on their way to the other party: codes are taken out, the rest passed on in order."""

    def __init__(self, table: CodeTable, side: Side, pass_on: Callable[[str], None]) -> None:
        self.table = table
        self.side = side
        self.pass_on = pass_on  # a digit that is no code's, to the other party
        self._held = ""  # the binding digit and what followed it so far
        self._timer: asyncio.TimerHandle | None = None

    def press(self, digit: str) -> None:
        """A digit came from this leg."""
        if not self._held:
            if digit == self.table.binding_digit and self.table.any:
                self._held = digit
                self._wait()
            else:
                self.pass_on(digit)
            return
        self._held += digit
        code = self._held[1:]
        if len(code) > MAX_HELD:  # no code is that long
            self._release()
            return
        if self.table.patterns:  # a pattern may want more digits: decided once they stop coming
            self._wait()
            return
        action = self.table.actions.get(code)
        if action is not None:
            self._clear()
            action(Pressed(self.side))
        elif any(known.startswith(code) for known in self.table.actions):
            self._wait()
        else:
            self._release()

    def _wait(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.table.digit_timeout, self._timed_out)

    def _timed_out(self) -> None:
        """No digit for the timeout: what was held runs its code, or goes on to the other party."""
        decided = self.table.decide(self._held[1:])
        if decided is None:
            self._release()
            return
        self._clear()
        action, captures = decided
        action(Pressed(self.side, captures))

    def _release(self) -> None:
        held = self._held
        self._clear()
        for digit in held:
            self.pass_on(digit)

    def _clear(self) -> None:
        self._held = ""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """The bridge ends: what is held goes nowhere."""
        self._clear()


class FeatureCodes:
    """A call's codes; a bridge asks it for a gate per leg it listens on."""

    def __init__(self, table: CodeTable) -> None:
        self.table = table

    def gate(self, side: Side, pass_on: Callable[[str], None]) -> DigitGate | None:
        """A gate for the digits of the caller's leg (``self``) or the other one (``peer``), if listened on."""
        if self.table.listen_on not in ("both", side):
            return None
        return DigitGate(self.table, side, pass_on)
