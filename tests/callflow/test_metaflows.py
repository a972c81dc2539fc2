"""Metaflows on a bridged call: a code's digits are taken out and its action run; what makes no code is passed on
in order — at once, when the next digit or the digit timeout shows it is none. Patterns (konami's transfer) are
decided once the digits stop, with what they capture, numbers first, as Kazoo's konami does."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from calltape.callflow.metaflows import Metaflows, RecordCallFlow, TransferFlow, feature_codes_of
from calltape.switch.feature_codes import Pressed

FLOWS = {
    "binding_digit": "*",
    "digit_timeout": 200,
    "numbers": {
        "2": {"module": "record_call", "data": {"action": "pause"}},
        "3": {"module": "record_call", "data": {"action": "resume"}},
        "41": {"module": "record_call", "data": {"action": "mask"}},
    },
}


async def _press(
    keys: str, flows: dict[str, object] = FLOWS, wait: float = 0.0, side: str = "self"
) -> tuple[list[str], list[str]]:
    """What pressing *keys* ran (a record_call's action, or ``transfer:<side>:<number>``) and passed on."""
    ran: list[str] = []
    passed: list[str] = []

    def run(flow: RecordCallFlow | TransferFlow, pressed: Pressed) -> None:
        if isinstance(flow, TransferFlow):
            ran.append(f"transfer:{pressed.side}:{(pressed.captures or (flow.data.target,))[0]}")
        else:
            ran.append(flow.data.action)

    codes = feature_codes_of({"metaflows": flows}, run)
    assert codes is not None
    gate = codes.gate("self" if side == "self" else "peer", passed.append)
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
    codes = feature_codes_of({"metaflows": {**FLOWS, "listen_on": "peer"}}, lambda flow, pressed: None)
    assert codes is not None
    assert codes.gate("self", print) is None and codes.gate("peer", print) is not None


@pytest.mark.parametrize(
    ("flows", "problem"),
    [
        ({"numbers": {"a1": {"module": "record_call"}}}, "digits"),
        ({"numbers": {"1": {"module": "park"}}}, "record_call"),
        ({"numbers": {"1": {"module": "transfer"}}}, "needs data.target"),
        ({"patterns": {"^1\\d+$": {"module": "transfer"}}}, "captures the number"),
        ({"patterns": {"^1(\\d+$": {"module": "transfer"}}}, "not a regular expression"),
        ({"numbers": {"1": {"module": "transfer", "data": {"target": "1x"}}}}, "target"),
        ({"numbers": {"1": {"module": "transfer", "data": {"target": "1", "takeback_dtmf": "*a"}}}}, "takeback"),
        ({"numbers": {"1": {"module": "record_call", "data": {"action": "rewind"}}}}, "action"),
        ({"binding_digit": "**"}, "binding_digit"),
    ],
)
def test_metaflows_that_cannot_run_are_refused(flows: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Metaflows.model_validate(flows)


TRANSFERS = {
    "digit_timeout": 200,
    "numbers": {
        "2": {"module": "record_call", "data": {"action": "pause"}},
        "9": {"module": "transfer", "data": {"target": "2600"}},
    },
    "patterns": {"^3(\\d+)$": {"module": "transfer"}},
}


@pytest.mark.parametrize(
    ("keys", "side", "ran", "passed"),
    [
        ("*32600", "peer", ["transfer:peer:2600"], []),  # the pattern's capture, from the side that pressed
        ("*32600", "self", ["transfer:self:2600"], []),
        ("*9", "self", ["transfer:self:2600"], []),  # a number with a fixed target
        ("*2", "self", ["pause"], []),  # numbers still run, once the digits stop
        ("*3", "self", [], ["*", "3"]),  # the pattern wants digits after the 3: nothing runs, all goes on
        ("*4", "self", [], ["*", "4"]),
    ],
)
async def test_patterns_run_once_the_digits_stop_with_what_they_capture(
    keys: str, side: str, ran: list[str], passed: list[str]
) -> None:
    assert await _press(keys, TRANSFERS, side=side) == ([], [])  # nothing decided while digits may follow
    assert await _press(keys, TRANSFERS, wait=0.5, side=side) == (ran, passed)
