"""Lint warnings for a valid callflow: things that save and run, but probably not as the author meant.

- a ``record_call`` still recording when a ``voicemail`` (compose) runs, in a format other than the message's
  (MP3: a box's default ``media_extension``; followed through ``callflow`` jumps): the call is kept in two formats;
- a ``user``, ``device``, ``voicemail``, ``menu``, ``play`` (media id) or ``callflow`` node, a ``ring_group``
  member or a ``temporal_route`` rule or rule set naming an id the account does not have;
- a ``time_limit`` above system_config media ``max_recording_time_limit`` (the recording stops there);
- a ``url`` with a ``{placeholder}`` calltape does not fill in (it stays in the URL as written).

The callflow must already have passed :func:`calltape.callflow.validation.validate_callflow`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calltape.callflow.validation import child_nodes
from calltape.delivery.addresses import PLACEHOLDERS
from calltape.media.library import MEDIA_ID

VOICEMAIL_FORMAT = "mp3"  # a box's media_extension unless it says otherwise
_BRACES = re.compile(r"\{([^{}/?&]*)\}")


@dataclass(frozen=True)
class AccountIds:
    """What an account holds, for checking the ids a callflow names."""

    users: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    vmboxes: frozenset[str] = frozenset()
    media: frozenset[str] = frozenset()
    menus: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    temporal_rules: frozenset[str] = frozenset()
    temporal_rules_sets: frozenset[str] = frozenset()
    callflows: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # id → document


@dataclass(frozen=True)
class LintLimits:
    """The system_config media values the lints compare against."""

    max_recording_time_limit: float = 10800.0
    default_format: str = "mp3"  # call_recording.extension


@dataclass(frozen=True)
class Finding:
    """One warning: where in the document, and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def lint_callflow(doc: dict[str, Any], ids: AccountIds, limits: LintLimits) -> list[Finding]:
    """Every warning for *doc* (a callflow of the account *ids* describes), in document order."""
    findings: list[Finding] = []
    nodes: list[tuple[str, Any]] = [("flow", doc.get("flow"))]
    while nodes:
        path, node = nodes.pop()
        if not isinstance(node, dict):
            continue
        data = node.get("data") or {}
        if not data.get("skip_module"):
            findings.extend(_node_findings(path, str(node.get("module")), data, ids, limits))
        nodes.extend(_children(path, node))
    findings.extend(_recording_into_voicemail(doc, ids, limits))
    return findings


def _node_findings(path: str, module: str, data: dict[str, Any], ids: AccountIds, limits: LintLimits) -> list[Finding]:
    found: list[Finding] = []
    target = data.get("id")
    known = {
        "user": ids.users,
        "device": ids.devices,
        "voicemail": ids.vmboxes,
        "callflow": ids.callflows.keys(),
        "menu": ids.menus,
    }
    if module in known and isinstance(target, str) and target not in known[module]:
        found.append(Finding(f"{path}.data.id", f"{module} {target!r} does not exist in the account"))
    if module == "ring_group":
        members = {"user": ids.users, "device": ids.devices, "group": ids.groups}
        for index, member in enumerate(data.get("endpoints") or []):
            kind = member.get("endpoint_type", "device") if isinstance(member, dict) else None
            member_id = member.get("id") if isinstance(member, dict) else None
            if kind in members and isinstance(member_id, str) and member_id not in members[kind]:
                where = f"{path}.data.endpoints.{index}.id"
                found.append(Finding(where, f"{kind} {member_id!r} does not exist in the account"))
    if module == "temporal_route":
        rules = [r for r in data.get("rules") or [] if isinstance(r, str)]
        for index, rule in enumerate(rules):
            if rule not in ids.temporal_rules and rule not in ids.temporal_rules_sets:
                found.append(Finding(f"{path}.data.rules.{index}", f"temporal rule {rule!r} does not exist"))
        rule_set = data.get("rule_set")
        if isinstance(rule_set, str) and rule_set not in ids.temporal_rules_sets:
            found.append(Finding(f"{path}.data.rule_set", f"temporal rule set {rule_set!r} does not exist"))
    if module == "play" and isinstance(target, str) and MEDIA_ID.match(target) and target not in ids.media:
        found.append(Finding(f"{path}.data.id", f"media {target!r} does not exist in the account"))
    if module in ("record_call", "record_caller") and data.get("action", "start") in ("start", "toggle"):
        limit = data.get("time_limit")
        if isinstance(limit, int | float) and limit > limits.max_recording_time_limit:
            found.append(
                Finding(
                    f"{path}.data.time_limit",
                    f"{limit:g} s is above system_config media max_recording_time_limit "
                    f"({limits.max_recording_time_limit:g} s): the recording stops there",
                )
            )
        url = data.get("url")
        for name in _BRACES.findall(url) if isinstance(url, str) else []:
            if name.lower() not in PLACEHOLDERS:
                found.append(
                    Finding(
                        f"{path}.data.url",
                        f"{{{name}}} is not filled in (calltape fills "
                        + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                        + ")",
                    )
                )
    return found


def _recording_into_voicemail(doc: dict[str, Any], ids: AccountIds, limits: LintLimits) -> list[Finding]:
    """Walk every path of the flow (and the callflows it jumps to) with the formats being recorded."""
    findings: list[Finding] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    # (path shown, node, formats recording, where the recording started)
    stack: list[tuple[str, Any, tuple[str, ...], str]] = [("flow", doc.get("flow"), (), "")]
    while stack:
        path, node, formats, started = stack.pop()
        if not isinstance(node, dict):
            continue
        module, data = node.get("module"), node.get("data") or {}
        if not data.get("skip_module"):
            action = data.get("action", "start")
            if module == "record_call" and (action == "start" or (action == "toggle" and not formats)):
                fmt = str(data.get("format") or limits.default_format).lower()
                formats, started = (*formats, fmt), started or path
            elif module == "record_call" and action in ("stop", "toggle"):
                formats, started = (), ""
            elif module == "voicemail" and data.get("action", "compose") == "compose":
                other = sorted({f for f in formats if f != VOICEMAIL_FORMAT})
                if other:
                    findings.append(
                        Finding(
                            path,
                            f"voicemail runs while the record_call at {started} is still recording in "
                            f"{'/'.join(other)}; the message is kept as {VOICEMAIL_FORMAT} unless its box's "
                            f"media_extension says otherwise (stop the recording first, or record in "
                            f"{VOICEMAIL_FORMAT})",
                        )
                    )
                continue  # voicemail ends the call: its children never run
            elif module == "callflow":  # a jump: the node's children never run
                target = ids.callflows.get(str(data.get("id")))
                key = (str(data.get("id")), formats)
                if formats and target is not None and key not in seen:
                    seen.add(key)
                    stack.append((f"{path} -> callflow {data.get('id')}: flow", target.get("flow"), formats, started))
                continue
        stack.extend((child_path, child, formats, started) for child_path, child in _children(path, node))
    return findings


def _children(path: str, node: dict[str, Any]) -> list[tuple[str, Any]]:
    """A node's (path, child) pairs, last branch first (for a stack that visits them in order)."""
    bare = "module" in (node.get("children") or {})
    return [
        (f"{path}.children" if bare else f"{path}.children.{branch}", child)
        for branch, child in reversed(child_nodes(node).items())
    ]
