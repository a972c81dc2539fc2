"""Kazoo's date helpers (``kz_date`` and ``cf_temporal_route``'s) and Erlang's integer arithmetic, on Python dates:
what :mod:`calltape.callflow.temporal` computes recurrences with, exactly as Kazoo does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Final

ORDINAL_POSITIONS: Final[Mapping[str, int]] = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4}


class UnsupportedRuleError(ValueError):
    """A rule Kazoo cannot evaluate: its ``cf_temporal_route`` crashes on it (or loops for ever), and the call then
    continues on the default branch."""


def normalize(year: int, month: int, day: int) -> date:
    """``kz_date:normalize/1``: month 0 is the previous December, day 0 the previous month's last day, months past 12
    and days past the month's end carry over. Negative values crash in Kazoo."""
    if month < 0 or day < 0:
        raise UnsupportedRuleError(f"{year}-{month}-{day} cannot be normalised")
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1) + timedelta(days=day - 1)


def next_weekday(after: date, dow: int) -> date:
    """``kz_date:find_next_weekday/2``: the first *dow* strictly after *after*."""
    return after + timedelta(days=(dow - after.isoweekday() - 1) % 7 + 1)


def ordinal_weekday(year: int, month: int, dow: int, ordinal: str) -> date:
    """``find_ordinal_weekday/4``: the month's first *dow*, plus a week per ordinal position. A "fifth" the month
    lacks is not an error: it lands in the next month. Months past 12 carry into the next years; a month below 1
    makes Kazoo's date_of_dow/4 crash and retry with the next month, up to January."""
    position = ORDINAL_POSITIONS.get(ordinal)
    if position is None:
        raise UnsupportedRuleError(f"unknown ordinal {ordinal!r}")
    first = normalize(year, max(month, 1), 1)
    return first + timedelta(days=(dow - first.isoweekday()) % 7 + 7 * position)


def last_weekday(year: int, month: int, dow: int) -> date:
    """``find_last_weekday/2``: the fifth *dow* if the month has one, else the fourth."""
    if month < 1:
        raise UnsupportedRuleError(f"month {month} of {year} has no last weekday")
    fifth = ordinal_weekday(year, month, dow, "fifth")
    first = normalize(year, month, 1)
    return fifth if fifth.month == first.month else fifth - timedelta(weeks=1)


def monday_of_iso_week(iso_year: int, week: int) -> date:
    """``kz_date:from_iso_week/1``, for any week number (past 52/53 it runs into the next years)."""
    jan4 = date(iso_year, 1, 4)
    return jan4 - timedelta(days=jan4.isoweekday() - 1) + timedelta(weeks=week - 1)


def iso_week_difference(first: date, second: date) -> int:
    """``iso_week_difference/2``: whole weeks between the Mondays of the two dates' ISO weeks (never negative)."""
    monday0 = first - timedelta(days=first.isoweekday() - 1)
    monday1 = second - timedelta(days=second.isoweekday() - 1)
    return abs((monday0 - monday1).days) // 7


def trunc_div(dividend: int, divisor: int) -> int:
    """Erlang's ``trunc(A / B)``: the quotient rounded toward zero; B = 0 crashes Kazoo (badarith)."""
    if divisor == 0:
        raise UnsupportedRuleError("interval 0")
    quotient = abs(dividend) // abs(divisor)
    return quotient if (dividend >= 0) == (divisor > 0) else -quotient


def erl_div(dividend: int, divisor: int) -> int:
    """Erlang's ``div``: integer division truncating toward zero."""
    return trunc_div(dividend, divisor)


def erl_rem(dividend: int, divisor: int) -> int:
    """Erlang's ``rem``: the remainder with the dividend's sign."""
    return dividend - divisor * erl_div(dividend, divisor)
