"""``menu``: an IVR menu (``/menus``) as Kazoo's cf_menu runs it.

The greeting plays while digits are collected (the first key stops it; ``timeout`` ms for the first key,
``interdigit_timeout`` ms between keys, up to ``max_extension_length`` digits, ``#`` ends early). The digits run
the child with that key; else, with ``hunt``, the account's callflow for that number (an extension) if
``hunt_allow`` matches and ``hunt_deny`` does not; else the invalid-entry prompt plays and the caller tries again.
No key: the ``timeout`` child, else another try. After ``retries`` tries: the exit prompt, then the
``max_retries`` child, else ``_`` (after the transfer prompt), else goodbye. Prompts (``media.greeting``,
``invalid_media``, ``transfer_media``, ``exit_media``) are media ids, URLs or ``tts://text``; ``false`` plays none.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from pydantic import Field

from calltape.callflow.call_api import CallContext, Keys, Playback
from calltape.callflow.module import Branch, Jump, Module, ModuleData, register
from calltape.patterns import search


class MenuCall(CallContext, Playback, Keys, Protocol):
    """What this module uses of a call."""


log = logging.getLogger(__name__)

TIMEOUT_MS = 10000  # Kazoo's defaults
INTERDIGIT_MS = 2000
DEFAULT_PROMPTS = {  # what Kazoo's system prompts say, spoken
    "greeting": "tts://Please enter the extension you wish to reach.",
    "invalid_media": "tts://Invalid entry.",
    "transfer_media": "tts://Please hold while your call is transferred.",
    "exit_media": "tts://Too many attempts.",
}
GOODBYE = "Goodbye."


class MenuData(ModuleData):
    """Which menu (its id in ``/menus``); ``interdigit_timeout`` (ms) may also be set here."""

    id: str = Field(min_length=1)
    interdigit_timeout: int | None = Field(None, ge=1, le=10000)


async def run(call: MenuCall, data: MenuData) -> Branch:
    """Run the menu until a key's child, an extension, a time-out child, or the tries run out."""
    menu = await call.documents.get(call.account_id, "menus", data.id)
    if menu is None:
        log.warning("call-id %s: menu %s not found", call.call_id, data.id)
        menu = {}
    await call.answer()
    timeout = int(menu.get("timeout") or TIMEOUT_MS) / 1000
    interdigit = int(menu.get("interdigit_timeout") or data.interdigit_timeout or INTERDIGIT_MS) / 1000
    max_digits = int(menu.get("max_extension_length") or 4)
    for _ in range(int(menu.get("retries") or 3)):
        digits = await call.collect_during(_prompt(menu, "greeting"), max_digits, timeout, interdigit)
        if not digits:
            if "timeout" in call.children:
                return "timeout"
            continue
        if digits in call.children:
            return digits
        callflow_id = await _hunt(call, menu, digits)
        if callflow_id is not None:
            await _play(call, _prompt(menu, "transfer_media"))
            return Jump(callflow_id)
        await _play(call, _prompt(menu, "invalid_media"))
    await _play(call, _prompt(menu, "exit_media"))
    if "max_retries" in call.children:
        return "max_retries"
    if "_" not in call.children:
        await call.say(GOODBYE)
        return None
    await _play(call, _prompt(menu, "transfer_media"))
    return None


async def _hunt(call: MenuCall, menu: dict[str, Any], digits: str) -> str | None:
    """The callflow of the extension the caller dialled, if the menu lets callers dial extensions."""
    if menu.get("hunt") is False:
        return None
    allow, deny = menu.get("hunt_allow"), menu.get("hunt_deny")
    if allow and not _matches(allow, digits):
        return None
    if deny and _matches(deny, digits):
        return None
    return await call.documents.callflow_for(call.account_id, digits)


def _matches(pattern: str, digits: str) -> bool:
    return search(pattern, digits) is not None


def _prompt(menu: dict[str, Any], name: str) -> str | None:
    """The menu's prompt *name*: its own, none if it is ``false``, else the default."""
    value = (menu.get("media") or {}).get(name)
    if value is False:
        return None
    return value if isinstance(value, str) and value else DEFAULT_PROMPTS[name]


async def _play(call: MenuCall, prompt: str | None) -> None:
    if prompt:
        await call.play_prompt(prompt)


MODULE = register(Module("menu", MenuData, run))
