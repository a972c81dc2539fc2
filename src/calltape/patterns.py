"""Regular expressions that tenants write — callflow ``patterns``, a menu's ``hunt_allow`` / ``hunt_deny``,
carriers' ``rules`` and ``cid_rules`` — compiled as Kazoo's PCRE reads them (ASCII ``\\d``, ``(?<name>…)``) and
matched with a time limit: Python's ``re`` cannot be stopped, and one runaway pattern would stall every call
on the node. A pattern that does not compile, or runs out of time, matches nothing (and says so in the log)."""

from __future__ import annotations

import logging
from functools import lru_cache

import regex

from calltape.logs import throttle

log = logging.getLogger(__name__)

MATCH_SECONDS = 0.05  # far beyond any sane pattern on a phone number, short enough not to stall the calls


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> regex.Pattern[str] | None:
    """*pattern* compiled (None if it is not a valid regular expression)."""
    try:
        return regex.compile(pattern, regex.ASCII | regex.VERSION0)
    except (regex.error, RecursionError, OverflowError, ValueError):
        return None


def is_valid(pattern: str) -> str | None:
    """None if *pattern* compiles, else why not (for a 400 that names the field)."""
    try:
        regex.compile(pattern, regex.ASCII | regex.VERSION0)
    except (regex.error, RecursionError, OverflowError, ValueError) as exc:
        return f"not a regular expression: {exc}"
    return None


def search(pattern: str | regex.Pattern[str] | None, text: str) -> regex.Match[str] | None:
    """The first match of *pattern* in *text*, or None (also when the pattern is invalid or too slow)."""
    compiled = compile_pattern(pattern) if isinstance(pattern, str) else pattern
    if compiled is None:
        return None
    try:
        return compiled.search(text, timeout=MATCH_SECONDS)
    except TimeoutError:
        throttle.log(
            log,
            logging.WARNING,
            ("slow pattern", compiled.pattern),
            "pattern %r took more than %s s on %r: taken as no match",
            compiled.pattern,
            MATCH_SECONDS,
            text,
        )
        return None
