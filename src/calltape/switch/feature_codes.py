"""Kazoo's metaflows (konami) for recording control on a bridged call: the account's ``metaflows`` name codes that,
pressed after the binding digit (``*``), run a ``record_call`` action — Kazoo's start, stop, toggle, mask and unmask,
and calltape's pause and resume — e.g. ``{"binding_digit": "*", "numbers": {"2": {"module": "record_call",
"data": {"action": "pause"}}}}``.

The digits of a code reach neither the other party nor the recording: while a call has metaflows, its bridge
re-sends each digit itself (RFC 4733) instead of relaying it, and holds back the binding digit and what follows
until it is clear whether they make a code. What makes no code (a digit that no code begins with, or nothing more
within ``digit_timeout``) is passed on to the other party, in order, as it would have been.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from calltape.callflow.modules.record_call import RecordCallData

log = logging.getLogger(__name__)

DEFAULT_DIGIT_TIMEOUT_MS = 3000


class Metaflow(BaseModel):
    """One code's flow: a ``record_call`` action (the only metaflow module calltape has)."""

    model_config = ConfigDict(extra="forbid")

    module: Literal["record_call"]
    data: RecordCallData = Field(default_factory=lambda: RecordCallData(action="toggle"))


class Metaflows(BaseModel):
    """An account's ``metaflows``, as Kazoo's metaflows.json (``patterns`` are not supported)."""

    model_config = ConfigDict(extra="allow")

    binding_digit: Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"] = "*"
    digit_timeout: int = Field(DEFAULT_DIGIT_TIMEOUT_MS, ge=0, le=60_000)  # ms between presses
    listen_on: Literal["both", "self", "peer"] = "both"  # self: the caller's leg; peer: the other one
    numbers: dict[str, Metaflow] = Field(default_factory=dict)

    @field_validator("numbers")
    @classmethod
    def _codes_are_digits(cls, numbers: dict[str, Metaflow]) -> dict[str, Metaflow]:
        bad = [code for code in numbers if not code.isdigit()]
        if bad:
            raise ValueError(f"codes are digits (Kazoo's ^[0-9]+$): {', '.join(sorted(bad))}")
        return numbers

    @model_validator(mode="after")
    def _no_patterns(self) -> Metaflows:
        if (self.model_extra or {}).get("patterns"):
            raise ValueError("metaflow patterns are not supported: give the codes in numbers")
        return self


class DigitGate:
    """One leg's digits on their way to the other party: codes are taken out, the rest passed on in order."""

    def __init__(
        self,
        flows: Metaflows,
        run: Callable[[RecordCallData], None],
        pass_on: Callable[[str], None],
    ) -> None:
        self.flows = flows
        self.run = run  # a code was pressed: its action
        self.pass_on = pass_on  # a digit that is no code's, to the other party
        self._held = ""  # the binding digit and what followed it so far
        self._timer: asyncio.TimerHandle | None = None

    def press(self, digit: str) -> None:
        """A digit came from this leg."""
        if not self._held:
            if digit == self.flows.binding_digit and self.flows.numbers:
                self._held = digit
                self._wait()
            else:
                self.pass_on(digit)
            return
        self._held += digit
        code = self._held[1:]
        flow = self.flows.numbers.get(code)
        if flow is not None:
            self._clear()
            log.info("metaflow %s%s: record_call %s", self.flows.binding_digit, code, flow.data.action)
            self.run(flow.data)
        elif any(known.startswith(code) for known in self.flows.numbers):
            self._wait()
        else:
            self._release()

    def _wait(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.flows.digit_timeout / 1000, self._release)

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
    """A call's metaflows and what runs a code's action; a bridge asks it for a gate per leg it listens on."""

    def __init__(self, flows: Metaflows, run: Callable[[RecordCallData], None]) -> None:
        self.flows = flows
        self.run = run

    def gate(self, side: Literal["self", "peer"], pass_on: Callable[[str], None]) -> DigitGate | None:
        """A gate for the digits of the caller's leg (``self``) or the other one (``peer``), if listened on."""
        if self.flows.listen_on not in ("both", side):
            return None
        return DigitGate(self.flows, self.run, pass_on)


def feature_codes_of(account: dict[str, Any] | None, run: Callable[[RecordCallData], None]) -> FeatureCodes | None:
    """The account's metaflows (None without codes, or if the stored ones do not check: logged)."""
    stored = (account or {}).get("metaflows")
    if not stored:
        return None
    try:
        flows = Metaflows.model_validate(stored)
    except ValueError as exc:
        log.error("account %s: metaflows ignored: %s", (account or {}).get("id"), exc)
        return None
    return FeatureCodes(flows, run) if flows.numbers else None
