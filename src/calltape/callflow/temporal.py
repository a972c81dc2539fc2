"""Which Kazoo temporal rules are active at a moment, as Kazoo 4.3's ``cf_temporal_route`` decides it.

Pure functions, no I/O. The recurrence arithmetic follows ``cf_temporal_route:next_rule_date/2`` clause by clause,
quirks included (they are listed in the docstrings below, with the Erlang function they come from), so that a
callflow migrated from Kazoo takes the same branch at the same moment.

How Kazoo decides (``process_rules/3``): for each rule in order, a rule whose ``start_date`` is after today is left
out (``maybe_build_rule/8``); ``enabled`` true wins at once, false skips the rule; a rule without a ``cycle`` is
skipped; otherwise Kazoo computes the rule's next occurrence after *yesterday* (on or after *today* for ``weekly``,
whose search includes the day searched from), and the rule is active when the local time is within
``[occurrence + time_window_start, occurrence + time_window_stop]``, both ends included, in whole seconds of local
wall-clock time. The first active rule's id picks the branch; none active means the default (``_``) branch.

Where this differs from Kazoo: a document without ``start_date`` starts on the local date of the evaluation (Kazoo
defaults it to the local time's Gregorian seconds and converts those *again* from UTC to the zone, so east of UTC
such a rule starts "tomorrow" late in the evening and is dropped); and where Kazoo crashes or loops for ever on a
rule, :func:`is_active` raises :class:`UnsupportedRuleError` and :func:`first_active` returns None, the branch
Kazoo's call then takes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import dropwhile
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calltape.callflow.kazoo_json import json_bool, json_int, json_list, json_optional_int, to_int
from calltape.callflow.kz_date import (
    UnsupportedRuleError,
    erl_div,
    erl_rem,
    iso_week_difference,
    last_weekday,
    monday_of_iso_week,
    next_weekday,
    normalize,
    ordinal_weekday,
    trunc_div,
)

log = logging.getLogger(__name__)

#: Kazoo's timezone when neither the callflow data nor the account names one (``kzd_accounts:default_timezone/0``).
DEFAULT_TIMEZONE: Final = "America/Los_Angeles"

SECONDS_IN_DAY: Final = 86_400
#: Gregorian seconds (Erlang's ``calendar``, counted from 0000-01-01) of the Unix epoch.
GREGORIAN_UNIX_EPOCH: Final = 62_167_219_200

CYCLES: Final = ("date", "daily", "weekly", "monthly", "yearly")
ORDINALS: Final = ("every", "first", "second", "third", "fourth", "fifth", "last")
#: ISO day numbers of the weekday names Kazoo accepts (``kz_date:wday_to_dow/1``), its misspelling included.
WDAY_NUMBERS: Final[Mapping[str, int]] = {
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "wensday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
    "sunday": 7,
}
_ALL_WDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: The Gregorian calendar repeats every 400 years, so a yearly search that has not landed by then never will.
_MAX_YEARLY_STEPS: Final = 400


@dataclass(frozen=True)
class TemporalRule:
    """A Kazoo ``temporal_rules`` document, with the defaults ``cf_temporal_route.hrl`` gives missing keys.

    ``start_date`` None is Kazoo's default for a document without one: the day the rule is evaluated.
    ``enabled`` None means "computed from the recurrence"; True / False force the rule active / inactive.
    ``days`` and ``wdays`` are kept in the order given (Kazoo sorts ``wdays`` itself, but not ``days``).
    """

    id: str
    name: str = "no_name"
    cycle: str = ""
    interval: int = 1
    days: Sequence[int] = ()
    wdays: Sequence[str] = ()
    ordinal: str = "first"
    month: int = 1
    start_date: date | None = None
    time_window_start: int = 0
    time_window_stop: int = SECONDS_IN_DAY
    enabled: bool | None = None

    def __post_init__(self) -> None:
        # Frozen and hashable: sequences are stored as tuples whatever was passed.
        object.__setattr__(self, "days", tuple(self.days))
        object.__setattr__(self, "wdays", tuple(self.wdays))

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], timezone: str = DEFAULT_TIMEZONE) -> TemporalRule:
        """Read a Kazoo temporal rule document (``id`` or ``_id``), casting values as ``kz_json`` does.

        ``start_date`` is Gregorian seconds of a UTC instant; Kazoo takes its date in the account's zone
        (``kz_date:from_gregorian_seconds/2``), so pass the zone the rule will be evaluated in.
        Raises ValueError for what makes Kazoo's ``build_rule/4`` crash (an unknown weekday name, a day that is not
        an integer), for a missing id and for an unknown *timezone*.
        """
        _zone(timezone)
        rule_id = doc.get("id") or doc.get("_id")
        if not isinstance(rule_id, str) or not rule_id:
            raise ValueError("a temporal rule document needs an 'id' or '_id'")
        name = doc.get("name")
        cycle = doc.get("cycle")
        ordinal = doc.get("ordinal")
        raw_start = json_optional_int(doc.get("start_date"))
        return cls(
            id=rule_id,
            name=name if isinstance(name, str) else "no_name",
            cycle="" if cycle is None else str(cycle),
            interval=json_int(doc.get("interval"), 1),
            days=[_day_of_doc(day) for day in json_list(doc.get("days"))],
            wdays=[_wday_of_doc(wday) for wday in json_list(doc.get("wdays"))],
            ordinal="first" if ordinal is None else str(ordinal),
            month=json_int(doc.get("month"), 1),
            start_date=None if raw_start is None else date_of_gregorian_seconds(raw_start, timezone),
            time_window_start=json_int(doc.get("time_window_start"), 0),
            time_window_stop=json_int(doc.get("time_window_stop"), SECONDS_IN_DAY),
            enabled=json_bool(doc.get("enabled")),
        )


def date_of_gregorian_seconds(seconds: int, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The date, in *timezone*, of the UTC instant *seconds* Gregorian seconds after 0000-01-01T00:00:00Z."""
    zone = _zone(timezone)
    try:
        instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds - GREGORIAN_UNIX_EPOCH)
    except OverflowError as exc:
        raise ValueError(f"start_date {seconds} is not a representable Gregorian-seconds instant") from exc
    return instant.astimezone(zone).date()


def is_active(rule: TemporalRule, now: datetime) -> bool:
    """Whether *rule* is active at *now*, the local time in the account's zone (only its wall clock is read).

    Like Kazoo: a rule starting after today is never active (not even when ``enabled`` is True); ``enabled``
    True / False decides; a rule without a cycle is inactive; otherwise today must be a day of the recurrence and
    the local time (whole seconds) must be within ``[time_window_start, time_window_stop]`` of that day, both ends
    included. A window with stop < start is never open; the windows are not clipped to the day, so a ``date`` rule's
    default window (0..86400) is still open at 00:00:00 the next day.
    Raises UnsupportedRuleError for a rule Kazoo cannot evaluate.
    """
    local = now.replace(tzinfo=None, microsecond=0)
    today = local.date()
    start = rule.start_date if rule.start_date is not None else today
    if start > today:
        return False  # maybe_build_rule/8: "rule is in the future discarding"
    _check_weekday_names(rule)  # build_rule/4 -> sort_wdays/1 crashes on an unknown name
    if rule.enabled is not None:
        return rule.enabled
    if not rule.cycle:
        return False  # process_rules/3: "time based rule is invalid, skipping"
    search = today if rule.cycle == "weekly" else today - timedelta(days=1)
    base = datetime.combine(_next_rule_date(rule, start, search), time())
    return base + timedelta(seconds=rule.time_window_start) <= local <= base + timedelta(seconds=rule.time_window_stop)


def first_active(rules: Sequence[TemporalRule], now_utc: datetime, timezone: str) -> str | None:
    """The id of the first rule of *rules* active at *now_utc* in *timezone*, else None (Kazoo's default branch).

    *now_utc* may be in any zone (a naive one is read as UTC). Where Kazoo would crash on a rule (an unknown weekday
    name in any rule it loads, or an unevaluable rule reached before an active one), Kazoo's call takes the default
    branch, and so None is returned. Raises ValueError for an unknown *timezone*.
    """
    zone = _zone(timezone)
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=UTC)
    now = now_utc.astimezone(zone)
    today = now.date()
    try:
        # Kazoo builds every rule that does not start in the future before testing any (get_temporal_rules/2).
        for rule in rules:
            if rule.start_date is None or rule.start_date <= today:
                _check_weekday_names(rule)
        for rule in rules:
            if is_active(rule, now):
                return rule.id
    except UnsupportedRuleError as exc:
        log.warning("temporal rules: Kazoo cannot evaluate %s; taking the default branch", exc)
    return None


def next_rule_date(rule: TemporalRule, search: date) -> date:
    """Kazoo's ``next_rule_date/2``: the rule's next occurrence after *search* (on or after it for ``weekly``).

    Kazoo returns some dates unnormalised (a yearly "February 30"); they are normalised here as ``process_rules/3``
    does (to March 2, or March 1 in a leap year). ``start_date`` None counts as *search*.
    Raises UnsupportedRuleError for a rule Kazoo cannot evaluate.
    """
    _check_weekday_names(rule)
    return _next_rule_date(rule, rule.start_date if rule.start_date is not None else search, search)


def _next_rule_date(rule: TemporalRule, start: date, search: date) -> date:
    try:
        match rule.cycle:
            case "date":
                return start
            case "daily":
                return _next_daily(rule, start, search)
            case "weekly":
                return _next_weekly(rule, start, search)
            case "monthly":
                return _next_monthly(rule, start, search)
            case "yearly":
                return _next_yearly(rule, start, search)
            case _:
                raise UnsupportedRuleError(f"rule {rule.id!r} has an unknown cycle {rule.cycle!r}")
    except UnsupportedRuleError:
        raise
    except (ValueError, OverflowError) as exc:  # an impossible date: Kazoo's calendar calls crash the same way
        raise UnsupportedRuleError(f"rule {rule.id!r}: {exc}") from exc


def _next_daily(rule: TemporalRule, start: date, search: date) -> date:
    offset = trunc_div((search - start).days, rule.interval) * rule.interval
    # Quirk: from a search date before the start (the start day itself, searched from yesterday), an interval > 1
    # truncates the offset to 0 and lands on start + interval: the start day is skipped.
    return normalize(start.year, start.month, start.day + offset + rule.interval)


def _next_weekly(rule: TemporalRule, start: date, search: date) -> date:
    dows = _sorted_dows(rule.wdays)
    dow0 = search.isoweekday()
    distance = iso_week_difference(start, search)
    offset = trunc_div(distance, rule.interval) * rule.interval
    later = [dow for dow in dows if dow >= dow0]
    if later and distance == offset:
        if search < start:
            return _next_weekly(rule, start, start)
        return search + timedelta(days=later[0] - dow0)
    # Not an active week, or no rule day left in it: the first rule day of the next active week.
    iso_year, iso_week, _ = start.isocalendar()
    return monday_of_iso_week(iso_year, iso_week + offset + rule.interval) + timedelta(days=dows[0] - 1)


def _next_monthly(rule: TemporalRule, start: date, search: date) -> date:
    interval = rule.interval
    distance = (search.year - start.year) * 12 - start.month + search.month
    offset = trunc_div(distance, interval) * interval
    y0, m0 = start.year, start.month
    y1, m1, d1 = search.year, search.month, search.day
    if rule.days:
        later = [day for day in rule.days if day > d1]  # in the order given: Kazoo does not sort days
        month = m0 + offset if later and distance == offset else m0 + offset + interval
        day = later[0] if later and distance == offset else rule.days[0]
        return normalize(y0 + erl_div(month, 12), erl_rem(month, 12), day)
    dow = _single_dow(rule)
    if rule.ordinal == "every":
        if distance == offset:
            found = next_weekday(search, dow)
            if (found.year, found.month) == (y1, m1) or interval == 1:
                return found
        return ordinal_weekday(y0, m0 + offset + interval, dow, "first")
    if rule.ordinal == "last":
        if distance == offset:
            last = last_weekday(y1, m1, dow)
            if d1 < last.day:
                return last
        return last_weekday(y0, m0 + offset + interval, dow)
    if distance == offset:
        found = ordinal_weekday(y1, m1, dow, rule.ordinal)
        if interval > 1 and found.month == m1 and d1 < found.day:
            return found
        # Quirk: with interval 1 a "fifth" that the month lacks spills into the next month (5 weeks after the first
        # occurrence, i.e. the next month's first such weekday) and is kept because that month is later.
        if interval == 1 and (d1 < found.day or m1 < found.month):
            return found
    return ordinal_weekday(y0, m0 + offset + interval, dow, rule.ordinal)


def _next_yearly(rule: TemporalRule, start: date, search: date) -> date:
    interval, month = rule.interval, rule.month
    y0 = start.year
    y1, m1, d1 = search.year, search.month, search.day
    distance = y1 - y0
    offset = trunc_div(distance, interval) * interval
    next_year = y0 + offset + interval
    if rule.days:
        # Kazoo returns {Year, Month, Day} without checking the day exists; normalising it moves a February 29 to
        # March 1 in common years (and a day 31 of a 30-day month to the 1st of the next).
        first = rule.days[0]
        if distance != offset or m1 > month:
            return normalize(next_year, month, first)
        if m1 < month:
            return normalize(y1, month, first)
        rest = list(dropwhile(lambda day: d1 >= day, rule.days))
        return normalize(y1, month, rest[0]) if rest else normalize(next_year, month, first)
    dow = _single_dow(rule)
    if rule.ordinal == "every":
        if distance == offset:
            # Quirk: Kazoo looks for the weekday after day d1 *of the rule's month*; that date does not exist when
            # d1 is past the month's end (Kazoo crashes: UnsupportedRuleError), and from the previous month it
            # lands after the 1st, so the month's first day is never active.
            found = next_weekday(date(y1, month, d1), dow)
            if (found.year, found.month) == (y1, month) and (m1 < month or (m1 == month and d1 < found.day)):
                return found
        return ordinal_weekday(next_year, month, dow, "first")
    if rule.ordinal == "last":
        if distance == offset:
            last = last_weekday(y1, month, dow)
            if last.year == y1 and (m1 < month or (m1 == month and d1 < last.day)):
                return last
        return last_weekday(next_year, month, dow)
    if distance == offset:
        found = ordinal_weekday(y1, month, dow, rule.ordinal)
        if (found.year, found.month) == (y1, month) and (m1 < month or (m1 == month and d1 < found.day)):
            return found
    # find_next_yearly_ordinal_weekday/5: step by the interval until the month has that occurrence.
    year = next_year
    for _ in range(_MAX_YEARLY_STEPS):
        found = ordinal_weekday(year, month, dow, rule.ordinal)
        if found.month == month:
            return found
        year += interval
    raise UnsupportedRuleError(f"rule {rule.id!r}: no {rule.ordinal} {rule.wdays[0]} in month {month} ever recurs")


def _single_dow(rule: TemporalRule) -> int:
    """The one weekday a monthly/yearly weekday rule names; Kazoo's clauses match no other shape."""
    dows = _sorted_dows(rule.wdays)
    if len(dows) != 1:
        raise UnsupportedRuleError(f"rule {rule.id!r}: a {rule.cycle} rule without days needs exactly one weekday")
    if rule.ordinal not in ORDINALS:  # Kazoo's find_ordinal_weekday/4 retries for ever on an unknown ordinal
        raise UnsupportedRuleError(f"rule {rule.id!r} has an unknown ordinal {rule.ordinal!r}")
    return dows[0]


def _sorted_dows(wdays: Sequence[str]) -> list[int]:
    """``sort_wdays/1``: weekday numbers in week order, duplicates kept; no weekday at all means all seven."""
    return sorted(WDAY_NUMBERS[wday] for wday in (wdays or _ALL_WDAYS))


def _check_weekday_names(rule: TemporalRule) -> None:
    unknown = [wday for wday in rule.wdays if wday not in WDAY_NUMBERS]
    if unknown:
        raise UnsupportedRuleError(f"rule {rule.id!r} has unknown weekdays {unknown!r}")


# ---- reading documents and zones ----


def _zone(timezone: str) -> ZoneInfo:
    if not isinstance(timezone, str) or not timezone:
        raise ValueError(f"unknown timezone {timezone!r}: give an IANA zone name such as {DEFAULT_TIMEZONE!r}")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}: give an IANA zone name such as {DEFAULT_TIMEZONE!r}") from exc


def _day_of_doc(value: Any) -> int:
    try:
        return to_int(value)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"temporal rule day {value!r} is not an integer") from exc


def _wday_of_doc(value: Any) -> str:
    if not isinstance(value, str) or value not in WDAY_NUMBERS:
        raise ValueError(f"unknown weekday {value!r}: one of {', '.join(WDAY_NUMBERS)}")
    return value
