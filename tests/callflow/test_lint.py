"""Lint warnings on valid callflows: recording into voicemail across jumps, stops, skipped nodes."""

from __future__ import annotations

from typing import Any

from calltape.callflow.lint import AccountIds, LintLimits, lint_callflow
from calltape.callflow.validation import validate_callflow

JUMP_TARGET = "ab" * 16
BOX = "cd" * 16


def _node(module: str, data: dict[str, Any] | None = None, child: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"module": module, "data": data or {}, "children": {"_": child} if child else {}}


def _lint(flow: dict[str, Any], callflows: dict[str, Any] | None = None, fmt: str = "mp3") -> list[str]:
    doc = {"numbers": ["1"], "flow": flow}
    validate_callflow(doc)
    ids = AccountIds(vmboxes=frozenset({BOX}), callflows=callflows or {})
    return [str(f) for f in lint_callflow(doc, ids, LintLimits(default_format=fmt))]


VOICEMAIL = _node("voicemail", {"id": BOX})


def test_default_format_comes_from_system_config() -> None:
    assert len(_lint(_node("record_call", {}, VOICEMAIL), fmt="wav")) == 1
    assert _lint(_node("record_call", {}, VOICEMAIL)) == []  # MP3, as a box keeps its messages by default


def test_stop_before_voicemail_is_clean_and_skipped_stop_is_not() -> None:
    wav = {"format": "wav"}
    assert _lint(_node("record_call", wav, _node("record_call", {"action": "stop"}, VOICEMAIL))) == []
    skipped_stop = _node("record_call", {"action": "stop", "skip_module": True}, VOICEMAIL)
    assert len(_lint(_node("record_call", wav, skipped_stop))) == 1
    assert _lint(_node("record_call", {**wav, "skip_module": True}, VOICEMAIL)) == []


def test_check_action_records_nothing() -> None:
    assert _lint(_node("record_call", {}, _node("voicemail", {"id": BOX, "action": "check"}))) == []


def test_followed_through_a_jump_that_loops() -> None:
    target = {"numbers": ["2"], "flow": _node("say", {"text": "hi"}, _node("callflow", {"id": JUMP_TARGET}, None))}
    target["flow"]["children"]["_"]["children"] = {}
    target["flow"]["children"]["1"] = VOICEMAIL
    recording = _node("record_call", {"format": "wav"}, _node("callflow", {"id": JUMP_TARGET}))
    found = _lint(recording, {JUMP_TARGET: target})
    assert found == [
        f"flow.children._ -> callflow {JUMP_TARGET}: flow.children.1: voicemail runs while the record_call at flow "
        "is still recording in wav; the message is kept as mp3 unless its box's media_extension says otherwise "
        "(stop the recording first, or record in mp3)"
    ]


def test_missing_ids() -> None:
    flow = _node("play", {"id": "ef" * 16}, _node("callflow", {"id": "01" * 16}, None))
    assert _lint(flow) == [
        f"flow.data.id: media '{'ef' * 16}' does not exist in the account",
        f"flow.children._.data.id: callflow '{'01' * 16}' does not exist in the account",
    ]
    assert _lint(_node("play", {"id": "https://example.com/a.wav"})) == []


def test_missing_ids_of_routing_modules() -> None:
    group, rule = "12" * 16, "34" * 16
    flow = _node(
        "menu",
        {"id": "56" * 16},
        _node(
            "ring_group",
            {"endpoints": [{"id": BOX, "endpoint_type": "group"}, {"id": group, "endpoint_type": "user"}]},
            _node("temporal_route", {"rules": [rule], "rule_set": "78" * 16}),
        ),
    )
    assert _lint(flow) == [
        f"flow.data.id: menu '{'56' * 16}' does not exist in the account",
        f"flow.children._.data.endpoints.0.id: group '{BOX}' does not exist in the account",
        f"flow.children._.data.endpoints.1.id: user '{group}' does not exist in the account",
        f"flow.children._.children._.data.rules.0: temporal rule '{rule}' does not exist",
        f"flow.children._.children._.data.rule_set: temporal rule set '{'78' * 16}' does not exist",
    ]
