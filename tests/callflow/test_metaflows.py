"""Metaflows on a bridged call: a code's digits are taken out and its action run; what makes no code is passed on
in order — at once, when the next digit or the digit timeout shows it is none."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from calltape.callflow.metaflows import Metaflows, feature_codes_of
from calltape.callflow.modules.record_call import RecordCallData

FLOWS = {
    "binding_digit": "*",
    "digit_timeout": 200,
    "numbers": {
        "2": {"module": "record_call", "data": {"action": "pause"}},
        "3": {"module": "record_call", "data": {"action": "resume"}},
        "41": {"module": "record_call", "data": {"action": "mask"}},
    },
}


async def _press(keys: str, flows: dict[str, object] = FLOWS, wait: float = 0.0) -> tuple[list[str], list[str]]:
    ran: list[str] = []
    passed: list[str] = []

    def run(data: RecordCallData) -> None:
        ran.append(data.action)

    codes = feature_codes_of({"metaflows": flows}, run)
    assert codes is not None
    gate = codes.gate("self", passed.append)
    assert gate is not None
    for key in keys:
        gate.press(key)
    await asyncio.sleep(wait)
    return ran, passed


@pytest.mark.parametrize(
    ("keys", "ran", "passed"),
    [
        ("*2", ["pause"], []),
        ("*3*2", ["resume", "pause"], []),
        ("*41", ["mask"], []),
        ("5*2", ["pause"], ["5"]),  # a digit before the binding one goes on at once
        ("*9", [], ["*", "9"]),  # no code begins with 9: both go on, in order
        ("*45", [], ["*", "4", "5"]),  # 4 began a code, 5 ended the hope
        ("12#", [], ["1", "2", "#"]),
    ],
)
async def test_codes_are_taken_out_and_the_rest_passed_on_in_order(
    keys: str, ran: list[str], passed: list[str]
) -> None:
    assert await _press(keys) == (ran, passed)


async def test_a_binding_digit_left_alone_goes_on_after_the_digit_timeout() -> None:
    assert await _press("*4") == ([], [])  # held while a code may follow
    assert await _press("*4", wait=0.5) == ([], ["*", "4"])


async def test_listen_on_chooses_the_legs() -> None:
    codes = feature_codes_of({"metaflows": {**FLOWS, "listen_on": "peer"}}, lambda data: None)
    assert codes is not None
    assert codes.gate("self", print) is None and codes.gate("peer", print) is not None


@pytest.mark.parametrize(
    ("flows", "problem"),
    [
        ({"numbers": {"a1": {"module": "record_call"}}}, "digits"),
        ({"numbers": {"1": {"module": "transfer"}}}, "record_call"),
        ({"numbers": {"1": {"module": "record_call", "data": {"action": "rewind"}}}}, "action"),
        ({"binding_digit": "**"}, "binding_digit"),
        ({"patterns": {"^1(\\d+)$": {"module": "record_call"}}}, "patterns"),
    ],
)
def test_metaflows_that_cannot_run_are_refused(flows: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Metaflows.model_validate(flows)
