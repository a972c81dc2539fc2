"""Dialled numbers as Kazoo 4.3's number manager sees them: E.164 conversion, classification, NANP formats.

Facts from ``core/kazoo_number_manager/src/converters/knm_converter_regex.erl`` and ``knm_converters.erl``:

- A number that starts with ``+`` is already E.164 and is returned untouched; otherwise the converters are tried
  in order and the first whose regex matches (a search, not a full match) rewrites the number. Kazoo's converter
  is ``prefix`` + *the last capture group that took part in the match* (the whole match if none did) + ``suffix``;
  here a converter is a regex and a Python replacement template (``match.expand``), so the same thing is written
  ``+1\\2`` or ``+\\1\\2`` (an unmatched group expands to ""). Only the expansion is kept: text outside the match
  is dropped, as in Kazoo. No converter matching leaves the number as it is.
- Kazoo strips nothing: no spaces, dashes or dots are removed before or after conversion, so ``"415-555-2671"``
  stays as dialled (no converter matches it).
- ``classify`` normalises first, then returns the name of the first classifier (in order) whose regex matches.
  The default "unknown" classifier matches everything, so with the defaults every number has a class.
- ``to_npan`` / ``to_1npan`` only rewrite NANP numbers (``[+][1]NXXNXXXXXX``); anything else, international
  numbers included, comes back unchanged (``to_1npan`` does not add a ``1`` to a non-NANP number).

Regexes are PCRE in Kazoo; they are compiled by :func:`calltape.patterns.compile_pattern` (ASCII ``\\d``,
``(?<name>…)`` accepted, a time limit on matching). An invalid regex is skipped, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import regex

from calltape.patterns import search

DEFAULT_E164_CONVERTERS: dict[str, str] = {
    # knm_converter_regex ?DEFAULT_E164_CONVERTERS, same order; {"prefix": "+1"} on group 2 (the NPA-NXX-XXXX).
    r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$": r"+1\2",
    # {"prefix": "+"} on whichever of the two groups matched (011 from North America, 00 elsewhere).
    r"^011(\d{5,})$|^00(\d{5,})$": r"+\1\2",
    # {"prefix": "+"} on the whole number: 8+ digits not starting with 0 or 1 are taken as country code + number.
    r"^[2-9]\d{7,}$": r"+\g<0>",
}

NANP_REGEX = r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$"


@dataclass(frozen=True)
class Classifier:
    """One number class: the regex an E.164 number must match, and whether the class is emergency services."""

    regex: str
    friendly_name: str
    emergency: bool = False


DEFAULT_CLASSIFIERS: dict[str, Classifier] = {
    # knm_converters ?DEFAULT_CLASSIFIERS, in its order (the first match wins, so order matters: "+18005550100"
    # is tollfree_us, not did_us; "+18765550100" is caribbean, not did_us). The system_config schema lists the
    # same classifiers alphabetically, which would classify toll-free numbers as did_us: the code's order is used.
    "tollfree_us": Classifier(r"^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$", "US TollFree"),
    "toll_us": Classifier(r"^\+1(900\d{7})$", "US Toll"),
    "emergency": Classifier(r"^(911|922|933|988|833|811|711|999)$", "Emergency Dispatcher", emergency=True),
    "caribbean": Classifier(
        r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869|758|784|721|868"
        r"|649|340)\d{7})$",
        "Caribbean",
    ),
    "did_us": Classifier(r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$", "US DID"),
    "international": Classifier(r"^\+([2-9]\d{7,})$", "International"),
    "unknown": Classifier(r"^(.*)$", "Unknown"),
}


def to_e164(number: str, converters: Mapping[str, str] | None = None) -> str:
    """*number* in E.164 as Kazoo's regex converter makes it; unchanged if it starts with ``+`` or nothing matches."""
    if not number or number.startswith("+"):
        return number
    for rule, replacement in (DEFAULT_E164_CONVERTERS if converters is None else converters).items():
        match = search(rule, number)
        if match is None:
            continue
        try:
            return match.expand(replacement)
        except (regex.error, IndexError):
            continue  # a broken replacement: Kazoo's shape (prefix/suffix) cannot be broken, so try the next one
    return number


def classify(
    number: str,
    converters: Mapping[str, str] | None = None,
    classifiers: Mapping[str, Classifier] | None = None,
) -> str | None:
    """The class of *number* (normalised to E.164 first), e.g. "emergency", "did_us"; None if no classifier matches."""
    normalized = to_e164(number, converters)
    for name, classifier in (DEFAULT_CLASSIFIERS if classifiers is None else classifiers).items():
        if search(classifier.regex, normalized) is not None:
            return name
    return None


def is_emergency(
    number: str,
    converters: Mapping[str, str] | None = None,
    classifiers: Mapping[str, Classifier] | None = None,
) -> bool:
    """True if *number* falls in a classifier marked emergency (by default 911, 922, 933, 988, 833, 811, 711, 999)."""
    table = DEFAULT_CLASSIFIERS if classifiers is None else classifiers
    name = classify(number, converters, table)
    return name is not None and table[name].emergency


def npan(e164: str) -> str:
    """The 10-digit NPA-NXX-XXXX of a NANP number (``+1``, ``1`` or nothing before it); anything else unchanged."""
    match = re.match(NANP_REGEX, e164, re.ASCII)
    return match.group(2) if match else e164


def one_npan(e164: str) -> str:
    """``1`` + the NPA-NXX-XXXX of a NANP number; anything else (international numbers too) unchanged."""
    match = re.match(NANP_REGEX, e164, re.ASCII)
    return "1" + match.group(2) if match else e164


def in_format(
    number: str, invite_format: str, username: str | None = None, converters: Mapping[str, str] | None = None
) -> str:
    """*number* (E.164, or the part of it a carrier's rule picked) as an ``invite_format`` puts it in a
    Request-URI, a gateway's or a device's: ``e164``, ``npan``, ``1npan``, ``username`` (the given SIP username,
    else the number), else as it is."""
    if invite_format == "e164":
        return to_e164(number, converters)
    if invite_format == "npan":
        return npan(number)
    if invite_format == "1npan":
        return one_npan(number)
    if invite_format == "username":
        return username or number
    return number
