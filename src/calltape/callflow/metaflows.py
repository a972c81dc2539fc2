"""Kazoo's metaflows (konami) for recording control on a bridged call: the account's ``metaflows`` name codes that,
pressed after the binding digit (``*``), run a ``record_call`` action — Kazoo's start, stop, toggle, mask and unmask,
and calltape's pause and resume — e.g. ``{"binding_digit": "*", "numbers": {"2": {"module": "record_call",
"data": {"action": "pause"}}}}``. The bridge's side of it (which digits are held back) is ``switch/feature_codes.py``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from calltape.callflow.modules.record_call import RecordCallData
from calltape.switch.feature_codes import CodeTable, FeatureCodes

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
    if not flows.numbers:
        return None
    actions = {code: functools.partial(run, flow.data) for code, flow in flows.numbers.items()}
    return FeatureCodes(CodeTable(flows.binding_digit, flows.digit_timeout / 1000, flows.listen_on, actions))
