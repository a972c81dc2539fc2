"""``temporal_route``: business hours — the child of the first temporal rule active now, else ``_`` (Kazoo's
cf_temporal_route).

The rules come, in order, from ``data.rules``, then the node's own child keys, then ``data.rule_set``'s rules;
a rule set named by a rule id or child key stands for its rules. The child a rule leads to is the key it came
by: its own id, the set's id, or ``rule_set``. Time is the account's (``data.timezone``, else the account's
``timezone``, else the node's). ``action`` ``enable`` / ``disable`` / ``reset`` force the listed rules on or off
or back to their calendar (``menu`` asks the caller which: 1, 2 or 3), then ``_`` runs.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from calltape.callflow.call_api import CallContext, Keys, Playback
from calltape.callflow.module import Branch, Module, ModuleData, register
from calltape.callflow.temporal import TemporalRule, first_active


class TemporalCall(CallContext, Playback, Keys, Protocol):
    """What this module uses of a call."""


log = logging.getLogger(__name__)

RULES, SETS = "temporal_rules", "temporal_rules_sets"
SAID = {
    "enable": "Time of day routes enabled.",
    "disable": "Time of day routes disabled.",
    "reset": "Time of day routes reset.",
}
MENU_KEYS = {"1": "enable", "2": "disable", "3": "reset"}
MENU_PROMPT = "Press 1 to enable, 2 to disable, or 3 to reset the time of day routes."


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}: an IANA name such as Europe/Paris") from exc
    return name


class TemporalRouteData(ModuleData):
    """Kazoo's ``temporal_route`` data (callflows.temporal_route.json)."""

    rules: list[str] = Field(default_factory=list)
    rule_set: str | None = None
    timezone: Annotated[str, AfterValidator(_known_zone)] | None = None
    action: Literal["menu", "enable", "disable", "reset"] | None = None
    interdigit_timeout: int | None = Field(None, ge=1, le=60000)


async def run(call: TemporalCall, data: TemporalRouteData) -> Branch:
    """The child of the first active rule; or, with an ``action``, change the rules and go on with ``_``."""
    if data.action is not None:
        action: str | None = data.action
        if action == "menu":
            interdigit = (data.interdigit_timeout or 2000) / 1000
            action = MENU_KEYS.get(await call.collect_during(f"tts://{MENU_PROMPT}", 1, 5.0, interdigit))
        if action is not None:
            await _set_enabled(call, data.rules, action)
            await call.say(SAID[action])
        return None
    timezone = data.timezone or await call.documents.timezone(call.account_id)
    try:
        rules = []
        for rule_id, key in await _routes(call, data):
            doc = await call.documents.get(call.account_id, RULES, rule_id)
            if doc is not None:
                rules.append(dataclasses.replace(TemporalRule.from_doc(doc, timezone), id=key))
        return first_active(rules, datetime.fromtimestamp(call.now(), UTC), timezone)
    except ValueError as exc:  # an unknown timezone (the account's): the default branch, as Kazoo's crash takes
        log.error("call-id %s: temporal_route: %s", call.call_id, exc)
        return None


async def _routes(call: TemporalCall, data: TemporalRouteData) -> list[tuple[str, str]]:
    """(rule id, child key) in Kazoo's order, rule sets opened."""
    named = [*data.rules, *(key for key in call.children if key != "_")]
    routes: list[tuple[str, str]] = []
    if data.rule_set:
        routes += [(rule_id, "rule_set") for rule_id in await _set_rules(call, data.rule_set)]
    opened: list[tuple[str, str]] = []
    for key in named:
        members = await _set_rules(call, key)
        opened += [(rule_id, key) for rule_id in members] if members else [(key, key)]
    return opened + routes


async def _set_rules(call: TemporalCall, set_id: str) -> list[str]:
    rule_set = await call.documents.get(call.account_id, SETS, set_id)
    return [str(rule) for rule in (rule_set or {}).get("temporal_rules") or []]


async def _set_enabled(call: TemporalCall, rule_ids: list[str], action: str) -> None:
    for rule_id in rule_ids:
        doc = await call.documents.get(call.account_id, RULES, rule_id)
        if doc is None:
            continue
        doc.pop("enabled", None)
        if action != "reset":
            doc["enabled"] = action == "enable"
        await call.documents.save(call.account_id, RULES, doc)


MODULE = register(Module("temporal_route", TemporalRouteData, run))
