"""Tenants' regular expressions: PCRE's syntax as Kazoo reads it, and a runaway pattern gives up in time."""

from __future__ import annotations

import time

from calltape.patterns import MATCH_SECONDS, is_valid, search


def test_pcre_named_groups_and_ascii_digits() -> None:
    match = search(r"^\+1(?<area>\d{3})", "+14155552671")
    assert match is not None and match.group("area") == "415"
    assert search(r"^\d+$", "٤١٥") is None  # \d is ASCII, as in PCRE
    assert is_valid(r"^(?<area>\d{3})") is None


def test_an_invalid_pattern_matches_nothing_and_says_why() -> None:
    assert search("(unclosed", "(unclosed") is None
    assert (is_valid("(unclosed") or "").startswith("not a regular expression")


def test_a_runaway_pattern_gives_up_within_its_time() -> None:
    started = time.monotonic()
    assert search(r"(1|11)+x", "1" * 60) is None  # exponential backtracking
    assert time.monotonic() - started < MATCH_SECONDS * 20
