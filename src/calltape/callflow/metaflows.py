"""Kazoo's metaflows (konami) on a bridged call: the account's ``metaflows`` name codes that, pressed after the
binding digit (``*``), run a ``record_call`` action — Kazoo's start, stop, toggle, mask and unmask, and calltape's
pause and resume — or a ``transfer`` (konami's attended transfer by DTMF, ``switch/dtmf_transfer.py``), e.g.
``{"numbers": {"2": {"module": "record_call", "data": {"action": "pause"}}}, "patterns": {"^3(\\d+)$":
{"module": "transfer"}}}``. The bridge's side of it (which digits are held back) is ``switch/feature_codes.py``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from calltape.callflow.module import ModuleData
from calltape.callflow.modules.record_call import RecordCallData
from calltape.patterns import compile_pattern, is_valid
from calltape.switch.feature_codes import CodeTable, FeatureCodes, Pressed

log = logging.getLogger(__name__)

DEFAULT_DIGIT_TIMEOUT_MS = 3000
DTMF = r"^[0-9*#]+$"


class RecordCallFlow(BaseModel):
    """A code that runs a ``record_call`` action."""

    model_config = ConfigDict(extra="forbid")

    module: Literal["record_call"]
    data: RecordCallData = Field(default_factory=lambda: RecordCallData(action="toggle"))


class TransferData(ModuleData):
    """Konami's ``transfer`` data: where to (``target``, unless a pattern captures it), what the transferee hears
    meanwhile (``moh``, a media id; else the transferor's music on hold), and the transferor's ``takeback_dtmf``."""

    target: str | None = Field(None, pattern=r"^\+?[0-9*#]{1,35}$")
    takeback_dtmf: str = Field("*1", pattern=DTMF, max_length=10)
    moh: str | None = Field(None, min_length=1, max_length=128)
    ringback: str | None = None  # Kazoo's tone stream: accepted, the transferor hears the usual ringback


class TransferFlow(BaseModel):
    """A code that transfers the other party (attended: the presser talks to the target first, if it answers)."""

    model_config = ConfigDict(extra="forbid")

    module: Literal["transfer"]
    data: TransferData = Field(default_factory=TransferData)


Metaflow = Annotated[RecordCallFlow | TransferFlow, Field(discriminator="module")]


class Metaflows(BaseModel):
    """An account's ``metaflows``, as Kazoo's metaflows.json."""

    model_config = ConfigDict(extra="allow")

    binding_digit: Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"] = "*"
    digit_timeout: int = Field(DEFAULT_DIGIT_TIMEOUT_MS, ge=0, le=60_000)  # ms between presses
    listen_on: Literal["both", "self", "peer"] = "both"  # self: the caller's leg; peer: the other one
    numbers: dict[str, Metaflow] = Field(default_factory=dict)
    patterns: dict[str, Metaflow] = Field(default_factory=dict)  # regular expressions over the digits pressed

    @field_validator("numbers")
    @classmethod
    def _codes_are_digits(cls, numbers: dict[str, Metaflow]) -> dict[str, Metaflow]:
        bad = [code for code in numbers if not code.isdigit()]
        if bad:
            raise ValueError(f"codes are digits (Kazoo's ^[0-9]+$): {', '.join(sorted(bad))}")
        return numbers

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, Metaflow]) -> dict[str, Metaflow]:
        for text in patterns:
            problem = is_valid(text)
            if problem is not None:
                raise ValueError(f"pattern {text!r}: {problem}")
        return patterns

    @model_validator(mode="after")
    def _transfers_have_targets(self) -> Metaflows:
        for code, flow in self.numbers.items():
            if isinstance(flow, TransferFlow) and flow.data.target is None:
                raise ValueError(f"numbers.{code}: a transfer code needs data.target (or a pattern that captures it)")
        for text, flow in self.patterns.items():
            compiled = compile_pattern(text)
            if isinstance(flow, TransferFlow) and flow.data.target is None and compiled and compiled.groups == 0:
                raise ValueError(f"patterns.{text}: a transfer pattern needs a group that captures the number")
        return self


RunFlow = Callable[[RecordCallFlow | TransferFlow, Pressed], None]


def feature_codes_of(account: dict[str, Any] | None, run: RunFlow) -> FeatureCodes | None:
    """The account's metaflows, each code running ``run(flow, pressed)`` (None without codes, or if the stored ones
    do not check: logged)."""
    stored = (account or {}).get("metaflows")
    if not stored:
        return None
    try:
        flows = Metaflows.model_validate(stored)
    except ValueError as exc:
        log.error("account %s: metaflows ignored: %s", (account or {}).get("id"), exc)
        return None
    if not (flows.numbers or flows.patterns):
        return None
    actions = {code: functools.partial(run, flow) for code, flow in flows.numbers.items()}
    patterns = tuple(
        (compiled, functools.partial(run, flow))
        for text, flow in flows.patterns.items()
        if (compiled := compile_pattern(text)) is not None
    )
    return FeatureCodes(CodeTable(flows.binding_digit, flows.digit_timeout / 1000, flows.listen_on, actions, patterns))
