"""Tests for calltape.callflow.temporal: Kazoo 4.3's cf_temporal_route, day by day and second by second.

Every expectation below was worked out from a calendar (the weekdays are noted where they matter), and the
next_rule_date vectors at the end are Kazoo's own (applications/callflow/test/cf_temporal_route_tests.erl at 4.3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calltape.callflow.temporal import (
    DEFAULT_TIMEZONE,
    TemporalRule,
    UnsupportedRuleError,
    date_of_gregorian_seconds,
    first_active,
    is_active,
    next_rule_date,
)

HOUR = 3600
LA = ZoneInfo("America/Los_Angeles")


def at(day: date, hh: int = 12, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    """A local moment (the zone does not matter to is_active: only the wall clock is read)."""
    return datetime.combine(day, time(hh, mm, ss, us), UTC)


def active_days(rule: TemporalRule, first: date, last: date) -> list[date]:
    """The days from *first* to *last* on which *rule* is active at noon."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [day for day in days if is_active(rule, at(day))]


def rule(cycle: str, **fields: Any) -> TemporalRule:
    return TemporalRule(id=fields.pop("id", "r"), cycle=cycle, **fields)


D = date  # short, for the tables


# ---- cycle "date" -------------------------------------------------------------------------------------------------


def test_date_cycle_is_active_on_its_one_day_only() -> None:
    r = rule("date", start_date=D(2024, 3, 15))
    assert active_days(r, D(2024, 3, 1), D(2024, 4, 30)) == [D(2024, 3, 15)]


def test_date_cycle_default_window_still_open_at_midnight_after() -> None:
    # Kazoo compares local seconds with [day 00:00 + 0, day 00:00 + 86400], both ends included, and the base day of
    # a "date" rule never moves: the next day's 00:00:00 is the window's last second.
    r = rule("date", start_date=D(2024, 3, 15))
    assert is_active(r, at(D(2024, 3, 15), 0, 0, 0))
    assert is_active(r, at(D(2024, 3, 15), 23, 59, 59))
    assert is_active(r, at(D(2024, 3, 16), 0, 0, 0))
    assert not is_active(r, at(D(2024, 3, 16), 0, 0, 1))


# ---- cycle "daily" ------------------------------------------------------------------------------------------------


def test_daily_every_day() -> None:
    r = rule("daily", start_date=D(2024, 1, 1))
    feb = active_days(r, D(2024, 2, 1), D(2024, 3, 1))
    assert feb == [D(2024, 2, 1) + timedelta(days=n) for n in range(30)]  # Feb 1..29 (leap year) and Mar 1


def test_daily_interval_1_is_active_on_its_start_day() -> None:
    assert is_active(rule("daily", start_date=D(2024, 3, 1)), at(D(2024, 3, 1)))


def test_daily_every_third_day_from_a_past_start() -> None:
    # From Feb 1 2024: Feb 1 + 30 days = Mar 2 (February has 29 days), then every 3 days.
    r = rule("daily", interval=3, start_date=D(2024, 2, 1))
    assert active_days(r, D(2024, 3, 1), D(2024, 3, 31)) == [
        D(2024, 3, d) for d in (2, 5, 8, 11, 14, 17, 20, 23, 26, 29)
    ]


def test_daily_interval_above_1_skips_its_start_day() -> None:
    # Kazoo quirk (next_rule_date, daily): searched from the day before the start, trunc(-1 / 3) = 0, so the first
    # occurrence is start + 3; Mar 1 itself is never active.
    r = rule("daily", interval=3, start_date=D(2024, 3, 1))
    assert active_days(r, D(2024, 3, 1), D(2024, 3, 13)) == [
        D(2024, 3, 4),
        D(2024, 3, 7),
        D(2024, 3, 10),
        D(2024, 3, 13),
    ]


# ---- cycle "weekly" -----------------------------------------------------------------------------------------------


def test_weekly_working_days() -> None:
    # 2024-03-04 is a Monday.
    r = rule("weekly", wdays=["monday", "tuesday", "wednesday", "thursday", "friday"], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 3, 4), D(2024, 3, 10)) == [D(2024, 3, d) for d in (4, 5, 6, 7, 8)]


def test_weekly_every_second_week_with_the_wensday_spelling() -> None:
    # Start Monday 2024-01-01 (ISO week 1). Mondays of March 2024: 4 (63 days = 9 weeks later, odd: off),
    # 11 (10 weeks: on), 18 (11: off), 25 (12: on); Wednesdays are two days after.
    r = rule("weekly", interval=2, wdays=["wensday", "monday"], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 3, 1), D(2024, 3, 31)) == [
        D(2024, 3, 11),
        D(2024, 3, 13),
        D(2024, 3, 25),
        D(2024, 3, 27),
    ]


def test_weekly_wednesday_spellings_are_the_same_day() -> None:
    # 2024-03-06 is a Wednesday.
    for spelling in ("wednesday", "wensday"):
        r = rule("weekly", wdays=[spelling], start_date=D(2024, 1, 1))
        assert active_days(r, D(2024, 3, 4), D(2024, 3, 10)) == [D(2024, 3, 6)]


def test_weekly_without_wdays_is_every_day() -> None:
    # sort_wdays([]) is all seven days.
    r = rule("weekly", start_date=D(2024, 1, 1))
    assert len(active_days(r, D(2024, 3, 4), D(2024, 3, 10))) == 7


def test_weekly_window_is_not_open_at_the_next_midnight() -> None:
    # Unlike a "date" rule, the next day computes its own occurrence (next Monday), so Tuesday 00:00:00 is outside.
    r = rule("weekly", wdays=["monday"], start_date=D(2024, 1, 1))
    assert is_active(r, at(D(2024, 3, 4), 23, 59, 59))
    assert not is_active(r, at(D(2024, 3, 5), 0, 0, 0))


# ---- cycle "monthly" ----------------------------------------------------------------------------------------------


def test_monthly_days() -> None:
    r = rule("monthly", days=[1, 15], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 2, 25), D(2024, 4, 30)) == [
        D(2024, 3, 1),
        D(2024, 3, 15),
        D(2024, 4, 1),
        D(2024, 4, 15),
    ]


def test_monthly_every_three_months() -> None:
    # From January: January, April, July, October.
    r = rule("monthly", interval=3, days=[10], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 2, 1), D(2024, 10, 31)) == [D(2024, 4, 10), D(2024, 7, 10), D(2024, 10, 10)]


def test_monthly_day_31_fires_on_the_1st_after_a_30_day_month() -> None:
    # Kazoo quirk: searched from April 30, day 31 of April is {2024,4,31}, normalised to May 1.
    r = rule("monthly", days=[31], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 4, 1), D(2024, 5, 31)) == [D(2024, 5, 1), D(2024, 5, 31)]


def test_monthly_days_out_of_order_lose_occurrences() -> None:
    # Kazoo does not sort days ("GOTCHA!" in next_rule_date): after the 15th the next date is hd([15, 1]) = the 15th
    # of the next month, so the 1st never comes.
    r = rule("monthly", days=[15, 1], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 3, 1), D(2024, 4, 30)) == [D(2024, 3, 15), D(2024, 4, 15)]


def test_monthly_last_friday() -> None:
    # Fridays: February 2024 2, 9, 16, 23; March 2024 1, 8, 15, 22, 29.
    r = rule("monthly", ordinal="last", wdays=["friday"], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 2, 1), D(2024, 3, 31)) == [D(2024, 2, 23), D(2024, 3, 29)]


def test_monthly_second_tuesday() -> None:
    # Tuesdays: March 2024 5, 12, 19, 26; April 2024 2, 9, 16, 23, 30.
    r = rule("monthly", ordinal="second", wdays=["tuesday"], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 3, 1), D(2024, 4, 30)) == [D(2024, 3, 12), D(2024, 4, 9)]


@pytest.mark.parametrize(
    ("ordinal", "expected"),
    [
        # Thursdays of October 2024: 3, 10, 17, 24, 31 (September 2024's: 5, 12, 19, 26 - no fifth).
        ("first", [D(2024, 10, 3)]),
        ("second", [D(2024, 10, 10)]),
        ("third", [D(2024, 10, 17)]),
        ("fourth", [D(2024, 10, 24)]),
        # September has no fifth Thursday; Kazoo's computes it as Sep 5 + 4 weeks = Oct 3, but from October 2 on the
        # search is in October, whose fifth is Oct 31 (the spill only shows on a 1st: see the next test).
        ("fifth", [D(2024, 10, 31)]),
        ("last", [D(2024, 10, 31)]),
        ("every", [D(2024, 10, d) for d in (3, 10, 17, 24, 31)]),
    ],
)
def test_monthly_ordinals(ordinal: str, expected: list[date]) -> None:
    r = rule("monthly", ordinal=ordinal, wdays=["thursday"], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 10, 1), D(2024, 10, 31)) == expected


def test_monthly_fifth_monday_in_a_month_without_one() -> None:
    # Mondays: January 2021 4, 11, 18, 25 and February 2021 1, 8, 15, 22 (no fifth in either); March 2021 1, 8, 15,
    # 22, 29. Kazoo quirk (next_rule_date, monthly ordinal, interval 1): searched from the month's last day, a
    # missing "fifth Monday" is computed as first Monday + 4 weeks, which lands in the next month, and is kept
    # because that month is later. It is reached only when it falls on a 1st: Jan 4 + 4 weeks = Feb 1 and
    # Feb 1 + 4 weeks = Mar 1 fire (both first Mondays), besides the real fifth Monday, March 29.
    r = rule("monthly", ordinal="fifth", wdays=["monday"], start_date=D(2021, 1, 1))
    assert active_days(r, D(2021, 2, 1), D(2021, 3, 31)) == [D(2021, 2, 1), D(2021, 3, 1), D(2021, 3, 29)]
    # No other day of February.
    assert active_days(r, D(2021, 2, 2), D(2021, 2, 28)) == []


def test_monthly_every_tuesday_every_other_month() -> None:
    # From January: January, March, May. Tuesdays of March 2024: 5, 12, 19, 26.
    r = rule("monthly", interval=2, ordinal="every", wdays=["tuesday"], start_date=D(2024, 1, 1))
    assert active_days(r, D(2024, 2, 1), D(2024, 3, 31)) == [D(2024, 3, d) for d in (5, 12, 19, 26)]


def test_monthly_weekday_rule_needs_exactly_one_weekday() -> None:
    # Kazoo's monthly clauses match wdays=[Weekday] only: two weekdays (or none, i.e. all seven) crash it.
    for wdays in (["monday", "friday"], []):
        with pytest.raises(UnsupportedRuleError):
            is_active(rule("monthly", ordinal="first", wdays=wdays, start_date=D(2024, 1, 1)), at(D(2024, 3, 4)))


# ---- cycle "yearly" -----------------------------------------------------------------------------------------------


def test_yearly_month_and_days() -> None:
    r = rule("yearly", month=12, days=[25, 26], start_date=D(2020, 1, 1))
    assert active_days(r, D(2024, 12, 1), D(2025, 1, 2)) == [D(2024, 12, 25), D(2024, 12, 26)]


def test_yearly_every_other_year() -> None:
    r = rule("yearly", interval=2, month=7, days=[4], start_date=D(2023, 1, 1))
    assert is_active(r, at(D(2023, 7, 4)))
    assert not is_active(r, at(D(2024, 7, 4)))
    assert is_active(r, at(D(2025, 7, 4)))


def test_yearly_fourth_thursday_of_november() -> None:
    # Thursdays of November 2024: 7, 14, 21, 28.
    r = rule("yearly", month=11, ordinal="fourth", wdays=["thursday"], start_date=D(2020, 1, 1))
    assert active_days(r, D(2024, 11, 1), D(2024, 12, 31)) == [D(2024, 11, 28)]


def test_yearly_last_monday_of_may() -> None:
    # Mondays of May 2024: 6, 13, 20, 27.
    r = rule("yearly", month=5, ordinal="last", wdays=["monday"], start_date=D(2020, 1, 1))
    assert active_days(r, D(2024, 5, 1), D(2024, 6, 30)) == [D(2024, 5, 27)]


def test_yearly_every_friday_of_march_misses_march_1() -> None:
    # Fridays of March 2024: 1, 8, 15, 22, 29. Kazoo quirk (next_rule_date, yearly "every"): on March 1 it looks for
    # the Friday after {2024, 3, 29} (yesterday's day number in the rule's month), so March 1 is not found.
    r = rule("yearly", month=3, ordinal="every", wdays=["friday"], start_date=D(2020, 1, 1))
    assert active_days(r, D(2024, 3, 1), D(2024, 3, 31)) == [D(2024, 3, d) for d in (8, 15, 22, 29)]


def test_yearly_every_monday_of_april_crashes_kazoo_on_april_1() -> None:
    # Mondays of April 2024: 1, 8, 15, 22, 29. On April 1 Kazoo asks for the weekday of {2024, 4, 31}: calendar
    # crashes. The other Mondays work.
    r = rule("yearly", month=4, ordinal="every", wdays=["monday"], start_date=D(2020, 1, 1))
    with pytest.raises(UnsupportedRuleError):
        is_active(r, at(D(2024, 4, 1)))
    assert active_days(r, D(2024, 4, 2), D(2024, 4, 30)) == [D(2024, 4, d) for d in (8, 15, 22, 29)]


def test_yearly_february_29() -> None:
    r = rule("yearly", month=2, days=[29], start_date=D(2020, 1, 1))
    assert is_active(r, at(D(2024, 2, 29)))
    assert not is_active(r, at(D(2024, 3, 1)))
    assert not is_active(r, at(D(2023, 2, 28)))
    # Kazoo quirk: in a common year {2023, 2, 29} is normalised to March 1, which is then active.
    assert is_active(r, at(D(2023, 3, 1)))
    assert is_active(r, at(D(2025, 3, 1)))


def test_yearly_fifth_thursday_of_february_only_in_leap_years_starting_on_thursday() -> None:
    # February 2024 starts on a Thursday and has 29 days: Thursdays 1, 8, 15, 22, 29. February 2023's Thursdays are
    # 2, 9, 16, 23: no fifth, and unlike "monthly", "yearly" does not spill into March.
    r = rule("yearly", month=2, ordinal="fifth", wdays=["thursday"], start_date=D(2020, 1, 1))
    assert is_active(r, at(D(2024, 2, 29)))
    assert not is_active(r, at(D(2023, 3, 2)))
    assert active_days(r, D(2023, 2, 1), D(2023, 3, 31)) == []


# ---- time windows -------------------------------------------------------------------------------------------------

NINE_TO_FIVE = rule("daily", start_date=D(2024, 1, 1), time_window_start=9 * HOUR, time_window_stop=17 * HOUR)


@pytest.mark.parametrize(
    ("hms", "expected"),
    [
        ((8, 59, 59), False),  # one second before the start
        ((9, 0, 0), True),  # the start
        ((16, 59, 59), True),  # one second before the stop
        ((17, 0, 0), True),  # the stop itself: Kazoo's window includes it (process_rules: LSec > End is outside)
        ((17, 0, 1), False),
    ],
)
def test_time_window_edges(hms: tuple[int, int, int], expected: bool) -> None:
    assert is_active(NINE_TO_FIVE, at(D(2024, 3, 4), *hms)) is expected


def test_time_window_counts_whole_seconds() -> None:
    # Kazoo's clock has whole seconds: 17:00:00.9 is 17:00:00, 08:59:59.9 is 08:59:59.
    assert is_active(NINE_TO_FIVE, at(D(2024, 3, 4), 17, 0, 0, 900_000))
    assert not is_active(NINE_TO_FIVE, at(D(2024, 3, 4), 8, 59, 59, 900_000))


def test_default_window_is_the_whole_day() -> None:
    r = rule("daily", start_date=D(2024, 1, 1))
    assert is_active(r, at(D(2024, 3, 4), 0, 0, 0))
    assert is_active(r, at(D(2024, 3, 4), 23, 59, 59))


def test_window_ending_before_it_starts_is_never_open() -> None:
    # 22:00 -> 06:00 does not span midnight in Kazoo: start > stop can never hold both comparisons.
    r = rule("daily", start_date=D(2024, 1, 1), time_window_start=22 * HOUR, time_window_stop=6 * HOUR)
    for hh in (0, 3, 6, 12, 22, 23):
        assert not is_active(r, at(D(2024, 3, 4), hh))


def test_window_is_wall_clock_time_on_a_dst_day() -> None:
    # Los Angeles springs forward on 2024-03-10 at 02:00 PST -> 03:00 PDT; 10:00 UTC is 03:00 PDT, 2 hours after
    # midnight but 03:00 on the wall clock, which is what Kazoo compares.
    r = rule("daily", id="three", start_date=D(2024, 1, 1), time_window_start=3 * HOUR, time_window_stop=4 * HOUR)
    assert first_active([r], datetime(2024, 3, 10, 10, 0, tzinfo=UTC), "America/Los_Angeles") == "three"
    assert first_active([r], datetime(2024, 3, 10, 9, 59, 59, tzinfo=UTC), "America/Los_Angeles") is None


# ---- enabled, start date, invalid rules --------------------------------------------------------------------------


def test_enabled_true_forces_active() -> None:
    # 2024-03-09 is a Saturday; the cycle is not even needed.
    weekdays_only = rule("weekly", wdays=["monday", "friday"], start_date=D(2024, 1, 1), enabled=True)
    assert is_active(weekdays_only, at(D(2024, 3, 9)))
    assert is_active(TemporalRule(id="r", enabled=True, start_date=D(2024, 1, 1)), at(D(2024, 3, 9)))
    assert is_active(
        rule("daily", start_date=D(2024, 1, 1), time_window_start=0, time_window_stop=1, enabled=True),
        at(D(2024, 3, 9), 23),
    )


def test_enabled_false_forces_inactive() -> None:
    assert not is_active(rule("daily", start_date=D(2024, 1, 1), enabled=False), at(D(2024, 3, 9)))


def test_future_rule_is_never_active_even_when_enabled() -> None:
    # maybe_build_rule discards a rule whose start date is after today before looking at "enabled".
    tomorrow = rule("daily", start_date=D(2024, 3, 10), enabled=True)
    assert not is_active(tomorrow, at(D(2024, 3, 9), 23, 59, 59))
    assert is_active(tomorrow, at(D(2024, 3, 10), 0, 0, 0))


def test_missing_start_date_is_the_evaluation_day() -> None:
    # Daily, interval 1, starting "today": active today, whatever today is.
    assert is_active(rule("daily"), at(D(2024, 3, 9)))
    assert is_active(rule("weekly", wdays=["saturday"]), at(D(2024, 3, 9)))  # a Saturday


def test_rule_without_cycle_is_skipped() -> None:
    assert not is_active(TemporalRule(id="r", start_date=D(2024, 1, 1)), at(D(2024, 3, 9)))


def test_unknown_cycle_and_ordinal_and_interval_0_are_unsupported() -> None:
    bad = [
        rule("hourly", start_date=D(2024, 1, 1)),
        rule("monthly", ordinal="sixth", wdays=["monday"], start_date=D(2024, 1, 1)),
        rule("daily", interval=0, start_date=D(2024, 1, 1)),
        rule("weekly", wdays=["Monday"], start_date=D(2024, 1, 1)),
    ]
    for r in bad:
        with pytest.raises(UnsupportedRuleError):
            is_active(r, at(D(2024, 3, 9)))


# ---- first_active -------------------------------------------------------------------------------------------------


def test_first_active_returns_the_first_in_order() -> None:
    rules = [
        rule("weekly", id="weekend", wdays=["saturday", "sunday"], start_date=D(2024, 1, 1)),
        rule("daily", id="office", start_date=D(2024, 1, 1), time_window_start=9 * HOUR, time_window_stop=17 * HOUR),
        rule("daily", id="always", start_date=D(2024, 1, 1)),
    ]
    monday_noon_utc = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)  # a Monday
    assert first_active(rules, monday_noon_utc, "UTC") == "office"
    assert first_active(rules, datetime(2024, 3, 4, 20, 0, tzinfo=UTC), "UTC") == "always"
    assert first_active(rules, datetime(2024, 3, 9, 12, 0, tzinfo=UTC), "UTC") == "weekend"  # a Saturday
    assert first_active(rules[:2], datetime(2024, 3, 4, 20, 0, tzinfo=UTC), "UTC") is None
    assert first_active([], monday_noon_utc, "UTC") is None


def test_first_active_converts_to_the_zone() -> None:
    # 2024-03-04T05:00Z is Monday in UTC but Sunday 2024-03-03 21:00 PST in Los Angeles (DST starts March 10).
    rules = [
        rule("weekly", id="monday", wdays=["monday"], start_date=D(2024, 1, 1)),
        rule("weekly", id="sunday", wdays=["sunday"], start_date=D(2024, 1, 1)),
    ]
    instant = datetime(2024, 3, 4, 5, 0, tzinfo=UTC)
    assert first_active(rules, instant, "UTC") == "monday"
    assert first_active(rules, instant, "America/Los_Angeles") == "sunday"
    assert first_active(rules, instant, DEFAULT_TIMEZONE) == "sunday"
    # The same instant given in another zone, or naive (read as UTC).
    assert first_active(rules, instant.astimezone(ZoneInfo("Asia/Tokyo")), "America/Los_Angeles") == "sunday"
    assert first_active(rules, datetime(2024, 3, 4, 5, 0), "America/Los_Angeles") == "sunday"


def test_first_active_unknown_timezone() -> None:
    for name in ("Mars/Olympus_Mons", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown timezone"):
            first_active([], datetime(2024, 3, 4, tzinfo=UTC), name)


def test_first_active_takes_the_default_branch_where_kazoo_crashes() -> None:
    # An unevaluable rule before an active one: Kazoo's action crashes and cf_exe continues on "_".
    always = rule("daily", id="always", start_date=D(2024, 1, 1))
    broken = rule("hourly", id="broken", start_date=D(2024, 1, 1))
    now = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
    assert first_active([always, broken], now, "UTC") == "always"
    assert first_active([broken, always], now, "UTC") is None
    # An unknown weekday name crashes Kazoo while it loads the rules, wherever the rule is in the list...
    misspelt = rule("weekly", id="misspelt", wdays=["thurday"], start_date=D(2024, 1, 1))
    assert first_active([always, misspelt], now, "UTC") is None
    # ... unless that rule starts in the future (it is discarded before being built).
    assert first_active([always, rule("weekly", wdays=["thurday"], start_date=D(2025, 1, 1))], now, "UTC") == "always"


# ---- documents ----------------------------------------------------------------------------------------------------


def test_from_doc_defaults() -> None:
    r = TemporalRule.from_doc({"_id": "abc"})
    assert r == TemporalRule(
        id="abc",
        name="no_name",
        cycle="",
        interval=1,
        days=(),
        wdays=(),
        ordinal="first",
        month=1,
        start_date=None,
        time_window_start=0,
        time_window_stop=86400,
        enabled=None,
    )


def test_from_doc_reads_a_kazoo_document() -> None:
    doc = {
        "id": "office",
        "_id": "ignored",
        "name": "Office hours",
        "cycle": "weekly",
        "interval": "2",
        "days": ["1", 15.0],
        "wdays": ["monday", "wensday"],
        "ordinal": "last",
        "month": 12,
        "start_date": 62586115200,  # the schema's default: 1983-04-11T08:00:00Z, midnight PST
        "time_window_start": "32400",
        "time_window_stop": 61200,
        "enabled": "true",
    }
    r = TemporalRule.from_doc(doc)
    assert r == TemporalRule(
        id="office",
        name="Office hours",
        cycle="weekly",
        interval=2,
        days=(1, 15),
        wdays=("monday", "wensday"),
        ordinal="last",
        month=12,
        start_date=D(1983, 4, 11),
        time_window_start=32400,
        time_window_stop=61200,
        enabled=True,
    )


def test_from_doc_casts_like_kz_json() -> None:
    # Uncastable integers and booleans fall back to the defaults; floats are rounded half away from zero.
    r = TemporalRule.from_doc(
        {"id": "x", "interval": "often", "month": 2.5, "enabled": "yes", "time_window_stop": None}
    )
    assert (r.interval, r.month, r.enabled, r.time_window_stop) == (1, 3, None, 86400)
    assert TemporalRule.from_doc({"id": "x", "enabled": False}).enabled is False
    assert TemporalRule.from_doc({"id": "x", "enabled": "false"}).enabled is False


def test_from_doc_start_date_is_a_date_in_the_zone() -> None:
    # 63876729600 Gregorian seconds = 1709510400 Unix = 2024-03-04T00:00:00Z, which is March 3 16:00 in Los Angeles.
    doc = {"id": "x", "start_date": 63876729600}
    assert TemporalRule.from_doc(doc).start_date == D(2024, 3, 3)
    assert TemporalRule.from_doc(doc, "UTC").start_date == D(2024, 3, 4)
    assert TemporalRule.from_doc(doc, "Asia/Tokyo").start_date == D(2024, 3, 4)
    assert date_of_gregorian_seconds(62586115200) == D(1983, 4, 11)


def test_from_doc_rejects_what_kazoo_cannot_build() -> None:
    with pytest.raises(ValueError, match="id"):
        TemporalRule.from_doc({"cycle": "daily"})
    with pytest.raises(ValueError, match="weekday"):
        TemporalRule.from_doc({"id": "x", "wdays": ["Monday"]})
    with pytest.raises(ValueError, match="day"):
        TemporalRule.from_doc({"id": "x", "days": ["first"]})
    with pytest.raises(ValueError, match="unknown timezone"):
        TemporalRule.from_doc({"id": "x", "start_date": 63876729600}, "Nowhere/Special")


def test_rules_are_hashable_with_tuples() -> None:
    r = TemporalRule(id="x", days=[1, 2], wdays=["monday"])
    assert r.days == (1, 2)
    assert r.wdays == ("monday",)
    assert hash(r) == hash(TemporalRule(id="x", days=(1, 2), wdays=("monday",)))


# ---- next_rule_date: Kazoo's own vectors -------------------------------------------------------------------------


def test_next_rule_date_without_start_date_counts_from_the_search_date() -> None:
    # Daily interval 2 from "today" 2024-03-04: trunc(0 / 2) * 2 + 2 = 2 days on.
    assert next_rule_date(rule("daily", interval=2), D(2024, 3, 4)) == D(2024, 3, 6)


@pytest.mark.parametrize("day", range(1, 31))
def test_kazoo_monthly_date_basic_increment_january(day: int) -> None:
    # monthly_date_recurrence__basic_increment_test_: days=[D + 1] searched from D, for D in 1..30 (January) ...
    r = rule("monthly", days=[day + 1], start_date=D(2011, 1, 1))
    assert next_rule_date(r, D(2011, 1, day)) == D(2011, 1, day + 1)


@pytest.mark.parametrize("day", range(1, 30))
def test_kazoo_monthly_date_basic_increment_june(day: int) -> None:
    # ... and for D in 1..29 (June).
    r = rule("monthly", days=[day + 1], start_date=D(2011, 6, 1))
    assert next_rule_date(r, D(2011, 6, day)) == D(2011, 6, day + 1)


def _parse_vector(line: str) -> tuple[TemporalRule, date, date]:
    """``<cycle> [i=interval] [o=ordinal] [w=wday,..] [m=month] [d=day,..] s=start: search -> expected``."""
    spec, _, dates = line.partition(": ")
    search, expected = dates.split(" -> ")
    cycle, *pairs = spec.split()
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, value = pair.split("=")
        match key:
            case "i":
                fields["interval"] = int(value)
            case "o":
                fields["ordinal"] = value
            case "w":
                fields["wdays"] = value.split(",")
            case "m":
                fields["month"] = int(value)
            case "d":
                fields["days"] = [int(day) for day in value.split(",")]
            case "s":
                fields["start_date"] = date.fromisoformat(value)
    return rule(cycle, **fields), date.fromisoformat(search), date.fromisoformat(expected)


# Transcribed from applications/callflow/test/cf_temporal_route_tests.erl (Kazoo 4.3), one assertion a line, with
# Kazoo's section comments; the commented-out FIXME assertions are left out. Kazoo has no yearly "every"/"last"
# vectors (those tests are TODO there): they are covered by the hand-written tests above.
KAZOO_VECTORS = """
# daily_recurrence
#   basic increment
daily s=2011-01-01: 2011-01-01 -> 2011-01-02
daily s=2011-06-01: 2011-06-01 -> 2011-06-02
#   increment over month boundary
daily s=2011-01-01: 2011-01-31 -> 2011-02-01
daily s=2011-06-01: 2011-06-30 -> 2011-07-01
#   increment over year boundary
daily s=2010-01-01: 2010-12-31 -> 2011-01-01
daily s=2010-06-01: 2010-12-31 -> 2011-01-01
#   leap year (into)
daily s=2008-01-01: 2008-02-28 -> 2008-02-29
daily s=2008-01-01: 2008-02-28 -> 2008-02-29
#   leap year (over)
daily s=2008-01-01: 2008-02-29 -> 2008-03-01
daily s=2008-01-01: 2008-02-29 -> 2008-03-01
#   shift start date (no impact)
daily s=2008-01-01: 2011-01-01 -> 2011-01-02
daily s=2009-01-01: 2011-01-01 -> 2011-01-02
daily s=2010-01-01: 2011-01-01 -> 2011-01-02
#   even step (small)
daily i=4 s=2011-01-01: 2011-01-01 -> 2011-01-05
daily i=4 s=2011-01-01: 2011-01-29 -> 2011-02-02
daily i=4 s=2010-01-01: 2010-12-31 -> 2011-01-04
daily i=4 s=2011-06-01: 2011-06-01 -> 2011-06-05
daily i=4 s=2011-06-01: 2011-06-29 -> 2011-07-03
#   odd step (small)
daily i=7 s=2011-01-01: 2011-01-01 -> 2011-01-08
daily i=7 s=2011-01-01: 2011-01-29 -> 2011-02-05
daily i=7 s=2010-01-01: 2010-12-31 -> 2011-01-07
daily i=7 s=2011-06-01: 2011-06-01 -> 2011-06-08
daily i=7 s=2011-06-01: 2011-06-29 -> 2011-07-06
#   even step (large)
daily i=48 s=2011-01-01: 2011-01-01 -> 2011-02-18
daily i=48 s=2010-01-01: 2010-12-31 -> 2011-01-20
daily i=48 s=2011-06-01: 2011-06-01 -> 2011-07-19
#   odd step (large)
daily i=85 s=2011-01-01: 2011-01-01 -> 2011-03-27
daily i=85 s=2010-01-01: 2010-12-31 -> 2011-03-02
daily i=85 s=2011-06-01: 2011-06-01 -> 2011-08-25
#   current date on (interval)
daily i=4 s=2011-01-05: 2011-01-05 -> 2011-01-09
#   current date after (interval)
daily i=4 s=2011-01-05: 2011-01-06 -> 2011-01-09
#   shift start date
daily i=4 s=2011-02-01: 2011-02-03 -> 2011-02-05
daily i=4 s=2011-02-02: 2011-02-03 -> 2011-02-06
#   long span
daily i=4 s=1983-04-11: 2011-01-01 -> 2011-01-02
daily i=4 s=1983-04-11: 2011-04-11 -> 2011-04-12
# weekly_recurrence
#   basic increment
weekly w=monday s=2011-01-01: 2011-01-02 -> 2011-01-03
weekly w=tuesday s=2011-01-01: 2011-01-02 -> 2011-01-04
weekly w=wensday s=2011-01-01: 2011-01-02 -> 2011-01-05
weekly w=thursday s=2011-01-01: 2011-01-02 -> 2011-01-06
weekly w=friday s=2011-01-01: 2011-01-02 -> 2011-01-07
weekly w=saturday s=2011-01-01: 2011-01-02 -> 2011-01-08
weekly w=sunday s=2011-01-01: 2011-01-02 -> 2011-01-02
#   increment over month boundary
weekly w=monday s=2011-01-01: 2011-02-01 -> 2011-02-07
weekly w=tuesday s=2011-01-01: 2011-01-26 -> 2011-02-01
weekly w=wensday s=2011-01-01: 2011-01-27 -> 2011-02-02
weekly w=thursday s=2011-01-01: 2011-01-28 -> 2011-02-03
weekly w=friday s=2011-01-01: 2011-01-29 -> 2011-02-04
weekly w=saturday s=2011-01-01: 2011-01-30 -> 2011-02-05
weekly w=sunday s=2011-01-01: 2011-01-31 -> 2011-02-06
#   increment over year boundary
weekly w=monday s=2010-01-01: 2010-12-28 -> 2011-01-03
weekly w=tuesday s=2010-01-01: 2010-12-29 -> 2011-01-04
weekly w=wensday s=2010-01-01: 2010-12-30 -> 2011-01-05
weekly w=thursday s=2010-01-01: 2010-12-31 -> 2011-01-06
weekly w=friday s=2010-01-01: 2011-01-01 -> 2011-01-07
weekly w=saturday s=2010-01-01: 2010-12-26 -> 2011-01-01
weekly w=sunday s=2010-01-01: 2010-12-27 -> 2011-01-02
#   leap year (into)
weekly w=friday s=2008-01-01: 2008-02-28 -> 2008-02-29
#   leap year (over)
weekly w=saturday s=2008-01-01: 2008-02-28 -> 2008-03-01
weekly w=saturday s=2008-01-01: 2008-02-29 -> 2008-03-01
weekly w=friday s=2008-01-01: 2008-03-01 -> 2008-03-07
#   current date on (simple)
weekly w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
weekly w=monday s=2011-01-01: 2011-01-04 -> 2011-01-10
weekly w=tuesday s=2011-01-01: 2011-01-05 -> 2011-01-11
weekly w=wensday s=2011-01-01: 2011-01-06 -> 2011-01-12
weekly w=thursday s=2011-01-01: 2011-01-07 -> 2011-01-13
weekly w=friday s=2011-01-01: 2011-01-08 -> 2011-01-14
weekly w=saturday s=2011-01-01: 2011-01-02 -> 2011-01-08
weekly w=sunday s=2011-01-01: 2011-01-03 -> 2011-01-09
#   shift start date (no impact)
weekly w=monday s=2008-01-01: 2011-01-01 -> 2011-01-03
weekly w=monday s=2009-01-01: 2011-01-01 -> 2011-01-03
weekly w=monday s=2010-01-02: 2011-01-01 -> 2011-01-03
#   multiple DOWs
weekly w=monday,tuesday,wensday,thursday,friday,saturday,sunday s=2011-01-01: 2011-01-02 -> 2011-01-02
weekly w=monday,tuesday,wensday,thursday,friday,saturday s=2011-01-01: 2011-01-02 -> 2011-01-03
weekly w=tuesday,wensday,thursday,friday,saturday s=2011-01-01: 2011-01-02 -> 2011-01-04
weekly w=wensday,thursday,friday,saturday s=2011-01-01: 2011-01-02 -> 2011-01-05
weekly w=thursday,friday,saturday s=2011-01-01: 2011-01-02 -> 2011-01-06
weekly w=friday,saturday s=2011-01-01: 2011-01-02 -> 2011-01-07
#   last DOW of an active week
weekly w=monday,tuesday,wensday,thursday,friday s=2011-01-01: 2011-01-08 -> 2011-01-10
#   even step (small)
weekly i=2 w=sunday s=2010-12-25: 2011-01-01 -> 2011-01-09
weekly i=2 w=monday s=2011-01-01: 2011-01-01 -> 2011-01-10
weekly i=2 w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-11
weekly i=2 w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-12
weekly i=2 w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-13
weekly i=2 w=friday s=2011-01-01: 2011-01-01 -> 2011-01-14
weekly i=2 w=saturday s=2011-01-01: 2011-01-02 -> 2011-01-15
#   SIDE NOTE: No event engines seem to agree on this case, so I am doing what makes sense to me
#   and google calendar agrees (thunderbird and outlook be damned!)
weekly i=2 w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
weekly i=2 w=sunday s=2011-01-01: 2011-01-02 -> 2011-01-02
weekly i=2 w=sunday s=2011-01-01: 2011-01-03 -> 2011-01-16
#   odd step (small)
weekly i=3 w=sunday s=2010-12-25: 2010-12-31 -> 2011-01-16
weekly i=3 w=monday s=2011-01-01: 2011-01-01 -> 2011-01-17
weekly i=3 w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-18
weekly i=3 w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-19
weekly i=3 w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-20
weekly i=3 w=friday s=2011-01-01: 2011-01-01 -> 2011-01-21
weekly i=3 w=saturday s=2011-01-01: 2011-01-02 -> 2011-01-22
#   SIDE NOTE: No event engines seem to agree on this case, so I am doing what makes sense to me
weekly i=3 w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
weekly i=3 w=sunday s=2011-01-01: 2011-01-02 -> 2011-01-02
weekly i=3 w=sunday s=2011-01-01: 2011-01-03 -> 2011-01-23
#   even step (large)
weekly i=24 w=sunday s=2010-12-25: 2010-12-31 -> 2011-06-12
weekly i=24 w=monday s=2011-01-01: 2011-01-01 -> 2011-06-13
weekly i=24 w=tuesday s=2011-01-01: 2011-01-01 -> 2011-06-14
weekly i=24 w=wensday s=2011-01-01: 2011-01-01 -> 2011-06-15
weekly i=24 w=thursday s=2011-01-01: 2011-01-01 -> 2011-06-16
weekly i=24 w=friday s=2011-01-01: 2011-01-01 -> 2011-06-17
weekly i=24 w=saturday s=2011-01-01: 2011-01-02 -> 2011-06-18
#   SIDE NOTE: No event engines seem to agree on this case, so I am doing what makes sense to me
weekly i=24 w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
weekly i=24 w=sunday s=2011-01-01: 2011-01-02 -> 2011-01-02
weekly i=24 w=sunday s=2011-01-01: 2011-01-03 -> 2011-06-19
#   odd step (large)
weekly i=37 w=monday s=2011-01-01: 2011-01-01 -> 2011-09-12
weekly i=37 w=tuesday s=2011-01-01: 2011-01-01 -> 2011-09-13
weekly i=37 w=wensday s=2011-01-01: 2011-01-01 -> 2011-09-14
weekly i=37 w=thursday s=2011-01-01: 2011-01-01 -> 2011-09-15
weekly i=37 w=friday s=2011-01-01: 2011-01-01 -> 2011-09-16
weekly i=37 w=saturday s=2011-01-01: 2011-01-02 -> 2011-09-17
#   SIDE NOTE: No event engines seem to agree on this case, so I am doing what makes sense to me
weekly i=36 w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
weekly i=36 w=sunday s=2011-01-01: 2011-01-02 -> 2011-01-02
weekly i=36 w=sunday s=2011-01-01: 2011-01-03 -> 2011-09-11
#   multiple DOWs with step (currently on start)
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-01 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-02 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-03 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-04 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-05 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-06 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-07 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-08 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-09 -> 2011-01-10
#   multiple DOWs with step (start in past)
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-10 -> 2011-01-10
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-11 -> 2011-01-12
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-12 -> 2011-01-12
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-13 -> 2011-01-14
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-14 -> 2011-01-14
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-15 -> 2011-01-24
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-16 -> 2011-01-24
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-17 -> 2011-01-24
#   multiple DOWs over month boundary
weekly i=2 w=monday,wensday,friday s=2011-01-01: 2011-01-29 -> 2011-02-07
#   multiple DOWs over year boundary
weekly i=2 w=monday,wensday,friday s=2010-01-01: 2011-01-01 -> 2011-01-10
#   current date on (interval)
weekly i=3 w=sunday s=2010-12-25: 2010-12-31 -> 2011-01-16
weekly i=3 w=monday s=2011-01-01: 2011-01-04 -> 2011-01-17
weekly i=3 w=tuesday s=2011-01-01: 2011-01-05 -> 2011-01-18
weekly i=3 w=wensday s=2011-01-01: 2011-01-06 -> 2011-01-19
weekly i=3 w=thursday s=2011-01-01: 2011-01-07 -> 2011-01-20
weekly i=3 w=friday s=2011-01-01: 2011-01-08 -> 2011-01-21
weekly i=3 w=saturday s=2011-01-01: 2011-01-02 -> 2011-01-22
weekly i=3 w=sunday s=2011-01-01: 2011-01-03 -> 2011-01-23
#   shift start date
weekly i=5 w=monday s=2004-01-01: 2011-01-01 -> 2011-01-31
weekly i=5 w=tuesday s=2005-02-08: 2011-01-01 -> 2011-01-18
weekly i=5 w=wensday s=2006-03-15: 2011-01-01 -> 2011-02-02
weekly i=5 w=thursday s=2007-04-22: 2011-01-01 -> 2011-01-13
weekly i=5 w=friday s=2008-05-29: 2011-01-01 -> 2011-02-04
weekly i=5 w=saturday s=2009-06-01: 2011-01-01 -> 2011-01-22
weekly i=5 w=sunday s=2010-07-08: 2011-01-01 -> 2011-01-02
#   long span
weekly i=4 w=monday s=1983-04-11: 2011-01-01 -> 2011-01-10
weekly i=4 w=monday s=1983-04-11: 2011-04-11 -> 2011-05-02
weekly i=1 w=monday,tuesday,wednesday,thursday,friday,saturday,sunday s=1983-04-11: 2018-01-08 -> 2018-01-08
weekly i=1 w=monday s=1983-04-11: 2018-01-08 -> 2018-01-08
weekly i=1 w=monday s=1983-04-11: 2018-01-09 -> 2018-01-15
weekly i=1 w=tuesday s=1983-04-11: 2018-01-10 -> 2018-01-16
weekly i=1 w=wednesday s=1983-04-11: 2018-01-11 -> 2018-01-17
weekly i=1 w=thursday s=1983-04-11: 2018-01-12 -> 2018-01-18
weekly i=1 w=friday s=1983-04-11: 2018-01-13 -> 2018-01-19
weekly i=1 w=saturday s=1983-04-11: 2018-01-14 -> 2018-01-20
weekly i=1 w=sunday s=1983-04-11: 2018-01-15 -> 2018-01-21
#   multiple days long span
weekly i=1 w=monday,tuesday,wednesday,thursday,friday,saturday,sunday s=1983-04-11: 2018-01-15 -> 2018-01-15
weekly i=1 w=monday,tuesday,wednesday,thursday,friday,saturday,sunday s=2018-01-01: 2018-01-08 -> 2018-01-08
weekly i=1 w=monday,tuesday,wednesday,thursday,friday,saturday,sunday s=2018-01-01: 2018-01-15 -> 2018-01-15
weekly i=1 w=monday s=2018-01-01: 2018-01-14 -> 2018-01-15
weekly i=1 w=monday s=2018-01-02: 2018-01-14 -> 2018-01-15
weekly i=1 w=tuesday s=2018-01-02: 2018-01-15 -> 2018-01-16
#   increment over the week boundaries with shifting DOTW
weekly w=monday s=2011-01-01: 2011-01-03 -> 2011-01-03
weekly w=monday s=2011-01-02: 2011-01-03 -> 2011-01-03
weekly w=monday s=2011-01-03: 2011-01-03 -> 2011-01-03
weekly w=monday s=2011-01-04: 2011-01-03 -> 2011-01-10
weekly w=monday s=2011-01-05: 2011-01-03 -> 2011-01-10
weekly w=monday s=2011-01-06: 2011-01-03 -> 2011-01-10
weekly w=monday s=2011-01-07: 2011-01-03 -> 2011-01-10
weekly w=monday s=2011-01-08: 2011-01-03 -> 2011-01-10
#   increment over week boundary with incrementing start date first rule is tuesday
weekly w=tuesday s=2011-01-01: 2011-01-03 -> 2011-01-04
weekly w=tuesday s=2011-01-02: 2011-01-03 -> 2011-01-04
weekly w=tuesday s=2011-01-03: 2011-01-03 -> 2011-01-04
weekly w=tuesday s=2011-01-04: 2011-01-03 -> 2011-01-04
weekly w=tuesday s=2011-01-05: 2011-01-03 -> 2011-01-11
weekly w=tuesday s=2011-01-06: 2011-01-03 -> 2011-01-11
weekly w=tuesday s=2011-01-07: 2011-01-03 -> 2011-01-11
weekly w=tuesday s=2011-01-08: 2011-01-03 -> 2011-01-11
#   increment over Wednesday first day
weekly w=wednesday s=2011-01-01: 2011-01-03 -> 2011-01-05
weekly w=wednesday s=2011-01-02: 2011-01-03 -> 2011-01-05
weekly w=wednesday s=2011-01-03: 2011-01-03 -> 2011-01-05
weekly w=wednesday s=2011-01-04: 2011-01-03 -> 2011-01-05
weekly w=wednesday s=2011-01-05: 2011-01-03 -> 2011-01-05
weekly w=wednesday s=2011-01-06: 2011-01-03 -> 2011-01-12
weekly w=wednesday s=2011-01-07: 2011-01-03 -> 2011-01-12
weekly w=wednesday s=2011-01-08: 2011-01-03 -> 2011-01-12
#   increment over Thursday first day
weekly w=thursday s=2011-01-01: 2011-01-03 -> 2011-01-06
weekly w=thursday s=2011-01-02: 2011-01-03 -> 2011-01-06
weekly w=thursday s=2011-01-03: 2011-01-03 -> 2011-01-06
weekly w=thursday s=2011-01-04: 2011-01-03 -> 2011-01-06
weekly w=thursday s=2011-01-05: 2011-01-03 -> 2011-01-06
weekly w=thursday s=2011-01-06: 2011-01-03 -> 2011-01-06
weekly w=thursday s=2011-01-07: 2011-01-03 -> 2011-01-13
weekly w=thursday s=2011-01-08: 2011-01-03 -> 2011-01-13
#   increment over Friday first day
weekly w=friday s=2011-01-01: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-02: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-03: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-04: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-05: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-06: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-07: 2011-01-03 -> 2011-01-07
weekly w=friday s=2011-01-08: 2011-01-03 -> 2011-01-14
#   increment over Saturday first day
weekly w=saturday s=2011-01-01: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-02: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-03: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-04: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-05: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-06: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-07: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-08: 2011-01-03 -> 2011-01-08
weekly w=saturday s=2011-01-09: 2011-01-03 -> 2011-01-15
#   increment over Sunday first day
weekly w=sunday s=2011-01-01: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-02: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-03: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-04: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-05: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-06: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-07: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-08: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-09: 2011-01-03 -> 2011-01-09
weekly w=sunday s=2011-01-10: 2011-01-03 -> 2011-01-16
# monthly_every_recurrence
#   basic increment (also crosses month boundary)
monthly o=every w=monday s=2011-01-01: 2011-01-01 -> 2011-01-03
monthly o=every w=monday s=2011-01-01: 2011-01-03 -> 2011-01-10
monthly o=every w=monday s=2011-01-01: 2011-01-10 -> 2011-01-17
monthly o=every w=monday s=2011-01-01: 2011-01-17 -> 2011-01-24
monthly o=every w=monday s=2011-01-01: 2011-01-24 -> 2011-01-31
monthly o=every w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-04
monthly o=every w=tuesday s=2011-01-01: 2011-01-04 -> 2011-01-11
monthly o=every w=tuesday s=2011-01-01: 2011-01-11 -> 2011-01-18
monthly o=every w=tuesday s=2011-01-01: 2011-01-18 -> 2011-01-25
monthly o=every w=tuesday s=2011-01-01: 2011-01-25 -> 2011-02-01
monthly o=every w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-05
monthly o=every w=wensday s=2011-01-01: 2011-01-05 -> 2011-01-12
monthly o=every w=wensday s=2011-01-01: 2011-01-12 -> 2011-01-19
monthly o=every w=wensday s=2011-01-01: 2011-01-19 -> 2011-01-26
monthly o=every w=wensday s=2011-01-01: 2011-01-26 -> 2011-02-02
monthly o=every w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-06
monthly o=every w=thursday s=2011-01-01: 2011-01-06 -> 2011-01-13
monthly o=every w=thursday s=2011-01-01: 2011-01-13 -> 2011-01-20
monthly o=every w=thursday s=2011-01-01: 2011-01-20 -> 2011-01-27
monthly o=every w=thursday s=2011-01-01: 2011-01-27 -> 2011-02-03
monthly o=every w=friday s=2011-01-01: 2011-01-01 -> 2011-01-07
monthly o=every w=friday s=2011-01-01: 2011-01-07 -> 2011-01-14
monthly o=every w=friday s=2011-01-01: 2011-01-14 -> 2011-01-21
monthly o=every w=friday s=2011-01-01: 2011-01-21 -> 2011-01-28
monthly o=every w=friday s=2011-01-01: 2011-01-28 -> 2011-02-04
monthly o=every w=saturday s=2011-01-01: 2011-01-01 -> 2011-01-08
monthly o=every w=saturday s=2011-01-01: 2011-01-08 -> 2011-01-15
monthly o=every w=saturday s=2011-01-01: 2011-01-15 -> 2011-01-22
monthly o=every w=saturday s=2011-01-01: 2011-01-22 -> 2011-01-29
monthly o=every w=saturday s=2011-01-01: 2011-01-29 -> 2011-02-05
monthly o=every w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
monthly o=every w=sunday s=2011-01-01: 2011-01-02 -> 2011-01-09
monthly o=every w=sunday s=2011-01-01: 2011-01-09 -> 2011-01-16
monthly o=every w=sunday s=2011-01-01: 2011-01-16 -> 2011-01-23
monthly o=every w=sunday s=2011-01-01: 2011-01-23 -> 2011-01-30
monthly o=every w=sunday s=2011-01-01: 2011-01-30 -> 2011-02-06
#   increment over year boundary
monthly o=every w=monday s=2010-01-01: 2010-12-27 -> 2011-01-03
monthly o=every w=tuesday s=2010-01-01: 2010-12-28 -> 2011-01-04
monthly o=every w=wensday s=2010-01-01: 2010-12-29 -> 2011-01-05
monthly o=every w=thursday s=2010-01-01: 2010-12-30 -> 2011-01-06
monthly o=every w=friday s=2010-01-01: 2010-12-31 -> 2011-01-07
monthly o=every w=saturday s=2010-01-01: 2010-12-25 -> 2011-01-01
monthly o=every w=sunday s=2010-01-01: 2010-12-26 -> 2011-01-02
#   leap year (into)
monthly o=every w=friday s=2008-01-01: 2008-02-28 -> 2008-02-29
#   leap year (over)
monthly o=every w=saturday s=2008-01-01: 2008-02-28 -> 2008-03-01
#   current date on (simple)
monthly o=every w=monday s=2011-01-01: 2011-01-03 -> 2011-01-10
monthly o=every w=tuesday s=2011-01-10: 2011-01-11 -> 2011-01-18
monthly o=every w=wensday s=2011-01-17: 2011-01-19 -> 2011-01-26
#   current date after (simple)
monthly o=every w=monday s=2011-01-01: 2011-01-05 -> 2011-01-10
monthly o=every w=tuesday s=2011-01-10: 2011-01-14 -> 2011-01-18
monthly o=every w=wensday s=2011-01-17: 2011-01-21 -> 2011-01-26
#   shift start date (no impact)
monthly o=every w=monday s=2004-01-01: 2011-01-01 -> 2011-01-03
monthly o=every w=tuesday s=2005-02-01: 2011-01-04 -> 2011-01-11
monthly o=every w=wensday s=2006-03-01: 2011-01-12 -> 2011-01-19
monthly o=every w=thursday s=2007-04-01: 2011-01-20 -> 2011-01-27
monthly o=every w=friday s=2008-05-01: 2011-01-28 -> 2011-02-04
monthly o=every w=saturday s=2009-06-01: 2011-01-01 -> 2011-01-08
monthly o=every w=sunday s=2010-07-01: 2011-01-02 -> 2011-01-09
#   even step (small)
monthly i=2 o=every w=monday s=2011-01-01: 2011-01-31 -> 2011-03-07
monthly i=2 o=every w=tuesday s=2011-01-01: 2011-01-25 -> 2011-03-01
monthly i=2 o=every w=wensday s=2011-01-01: 2011-01-26 -> 2011-03-02
monthly i=2 o=every w=thursday s=2011-01-01: 2011-01-27 -> 2011-03-03
monthly i=2 o=every w=friday s=2011-01-01: 2011-01-28 -> 2011-03-04
monthly i=2 o=every w=saturday s=2011-01-01: 2011-01-29 -> 2011-03-05
monthly i=2 o=every w=sunday s=2011-01-01: 2011-01-30 -> 2011-03-06
#   odd step (small)
monthly i=3 o=every w=monday s=2011-06-01: 2011-06-27 -> 2011-09-05
monthly i=3 o=every w=tuesday s=2011-06-01: 2011-06-28 -> 2011-09-06
monthly i=3 o=every w=wensday s=2011-06-01: 2011-06-29 -> 2011-09-07
monthly i=3 o=every w=thursday s=2011-06-01: 2011-06-30 -> 2011-09-01
monthly i=3 o=every w=friday s=2011-06-01: 2011-06-24 -> 2011-09-02
monthly i=3 o=every w=saturday s=2011-06-01: 2011-06-25 -> 2011-09-03
monthly i=3 o=every w=sunday s=2011-06-01: 2011-06-26 -> 2011-09-04
#   current date on (interval)
monthly i=4 o=every w=monday s=2011-01-01: 2011-01-31 -> 2011-05-02
monthly i=4 o=every w=tuesday s=2011-01-10: 2011-01-25 -> 2011-05-03
monthly i=4 o=every w=wensday s=2011-01-17: 2011-01-26 -> 2011-05-04
#   current date after (interval)
monthly i=4 o=every w=monday s=2011-01-01: 2011-02-02 -> 2011-05-02
monthly i=4 o=every w=tuesday s=2011-01-10: 2011-03-14 -> 2011-05-03
monthly i=4 o=every w=wensday s=2011-01-17: 2011-03-21 -> 2011-05-04
#   shift start date
monthly i=5 o=every w=monday s=2004-01-01: 2011-01-01 -> 2011-02-07
monthly i=5 o=every w=tuesday s=2005-02-01: 2011-01-01 -> 2011-05-03
monthly i=5 o=every w=wensday s=2006-03-01: 2011-01-01 -> 2011-03-02
monthly i=5 o=every w=thursday s=2007-04-01: 2011-01-01 -> 2011-01-06
monthly i=5 o=every w=friday s=2008-05-01: 2011-01-01 -> 2011-04-01
monthly i=5 o=every w=saturday s=2009-06-01: 2011-01-01 -> 2011-02-05
monthly i=5 o=every w=sunday s=2010-07-01: 2011-01-01 -> 2011-05-01
#   long span
monthly i=5 o=every w=monday s=1983-04-11: 2011-01-01 -> 2011-03-07
# monthly_last_recurrence
#   basic increment
monthly o=last w=monday s=2011-01-01: 2011-01-01 -> 2011-01-31
monthly o=last w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-25
monthly o=last w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-26
monthly o=last w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-27
monthly o=last w=friday s=2011-01-01: 2011-01-01 -> 2011-01-28
monthly o=last w=saturday s=2011-01-01: 2011-01-01 -> 2011-01-29
monthly o=last w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-30
#   basic increment (mid year)
monthly o=last w=monday s=2011-06-01: 2011-06-01 -> 2011-06-27
monthly o=last w=tuesday s=2011-06-01: 2011-06-01 -> 2011-06-28
monthly o=last w=wensday s=2011-06-01: 2011-06-01 -> 2011-06-29
monthly o=last w=thursday s=2011-06-01: 2011-06-01 -> 2011-06-30
monthly o=last w=friday s=2011-06-01: 2011-06-01 -> 2011-06-24
monthly o=last w=saturday s=2011-06-01: 2011-06-01 -> 2011-06-25
monthly o=last w=sunday s=2011-06-01: 2011-06-01 -> 2011-06-26
#   increment over month boundary
monthly o=last w=monday s=2011-01-01: 2011-01-31 -> 2011-02-28
monthly o=last w=tuesday s=2011-01-01: 2011-01-31 -> 2011-02-22
monthly o=last w=wensday s=2011-01-01: 2011-01-31 -> 2011-02-23
monthly o=last w=thursday s=2011-01-01: 2011-01-31 -> 2011-02-24
monthly o=last w=friday s=2011-01-01: 2011-01-31 -> 2011-02-25
monthly o=last w=saturday s=2011-01-01: 2011-01-31 -> 2011-02-26
monthly o=last w=sunday s=2011-01-01: 2011-01-31 -> 2011-02-27
#   increment over year boundary
monthly o=last w=monday s=2010-01-01: 2010-12-31 -> 2011-01-31
monthly o=last w=tuesday s=2010-01-01: 2010-12-31 -> 2011-01-25
monthly o=last w=wensday s=2010-01-01: 2010-12-31 -> 2011-01-26
monthly o=last w=thursday s=2010-01-01: 2010-12-31 -> 2011-01-27
monthly o=last w=friday s=2010-01-01: 2010-12-31 -> 2011-01-28
monthly o=last w=saturday s=2010-01-01: 2010-12-31 -> 2011-01-29
monthly o=last w=sunday s=2010-01-01: 2010-12-31 -> 2011-01-30
#   leap year
monthly o=last w=monday s=2008-01-01: 2008-02-01 -> 2008-02-25
monthly o=last w=tuesday s=2008-01-01: 2008-02-01 -> 2008-02-26
monthly o=last w=wensday s=2008-01-01: 2008-02-01 -> 2008-02-27
monthly o=last w=thursday s=2008-01-01: 2008-02-01 -> 2008-02-28
monthly o=last w=friday s=2008-01-01: 2008-02-01 -> 2008-02-29
monthly o=last w=saturday s=2008-01-01: 2008-02-01 -> 2008-02-23
monthly o=last w=sunday s=2008-01-01: 2008-02-01 -> 2008-02-24
#   shift start date (no impact)
monthly o=last w=monday s=2004-12-01: 2011-01-01 -> 2011-01-31
monthly o=last w=tuesday s=2005-10-01: 2011-01-01 -> 2011-01-25
monthly o=last w=wensday s=2006-11-01: 2011-01-01 -> 2011-01-26
monthly o=last w=thursday s=2007-09-01: 2011-01-01 -> 2011-01-27
monthly o=last w=friday s=2008-08-01: 2011-01-01 -> 2011-01-28
monthly o=last w=saturday s=2009-07-01: 2011-01-01 -> 2011-01-29
monthly o=last w=sunday s=2010-06-01: 2011-01-01 -> 2011-01-30
#   even step (small)
monthly i=2 o=last w=monday s=2011-01-01: 2011-01-31 -> 2011-03-28
monthly i=2 o=last w=tuesday s=2011-01-01: 2011-01-31 -> 2011-03-29
monthly i=2 o=last w=wensday s=2011-01-01: 2011-01-31 -> 2011-03-30
monthly i=2 o=last w=thursday s=2011-01-01: 2011-01-31 -> 2011-03-31
monthly i=2 o=last w=friday s=2011-01-01: 2011-01-31 -> 2011-03-25
monthly i=2 o=last w=saturday s=2011-01-01: 2011-01-31 -> 2011-03-26
monthly i=2 o=last w=sunday s=2011-01-01: 2011-01-31 -> 2011-03-27
#   odd step (small)
monthly i=3 o=last w=monday s=2011-01-01: 2011-01-31 -> 2011-04-25
monthly i=3 o=last w=tuesday s=2011-01-01: 2011-01-31 -> 2011-04-26
monthly i=3 o=last w=wensday s=2011-01-01: 2011-01-31 -> 2011-04-27
monthly i=3 o=last w=thursday s=2011-01-01: 2011-01-31 -> 2011-04-28
monthly i=3 o=last w=friday s=2011-01-01: 2011-01-31 -> 2011-04-29
monthly i=3 o=last w=saturday s=2011-01-01: 2011-01-31 -> 2011-04-30
monthly i=3 o=last w=sunday s=2011-01-01: 2011-01-31 -> 2011-04-24
#   even step (large)
monthly i=36 o=last w=monday s=2011-01-01: 2011-01-31 -> 2014-01-27
monthly i=36 o=last w=tuesday s=2011-01-01: 2011-01-31 -> 2014-01-28
monthly i=36 o=last w=wensday s=2011-01-01: 2011-01-31 -> 2014-01-29
monthly i=36 o=last w=thursday s=2011-01-01: 2011-01-31 -> 2014-01-30
monthly i=36 o=last w=friday s=2011-01-01: 2011-01-31 -> 2014-01-31
monthly i=36 o=last w=saturday s=2011-01-01: 2011-01-31 -> 2014-01-25
monthly i=36 o=last w=sunday s=2011-01-01: 2011-01-31 -> 2014-01-26
#   odd step (large)
monthly i=37 o=last w=monday s=2011-01-01: 2011-01-31 -> 2014-02-24
monthly i=37 o=last w=tuesday s=2011-01-01: 2011-01-31 -> 2014-02-25
monthly i=37 o=last w=wensday s=2011-01-01: 2011-01-31 -> 2014-02-26
monthly i=37 o=last w=thursday s=2011-01-01: 2011-01-31 -> 2014-02-27
monthly i=37 o=last w=friday s=2011-01-01: 2011-01-31 -> 2014-02-28
monthly i=37 o=last w=saturday s=2011-01-01: 2011-01-31 -> 2014-02-22
monthly i=37 o=last w=sunday s=2011-01-01: 2011-01-31 -> 2014-02-23
#   shift start date
monthly i=3 o=last w=monday s=2010-12-01: 2011-01-01 -> 2011-03-28
monthly i=3 o=last w=tuesday s=2010-10-01: 2011-01-01 -> 2011-01-25
monthly i=3 o=last w=wensday s=2010-11-01: 2011-01-01 -> 2011-02-23
monthly i=3 o=last w=thursday s=2010-09-01: 2011-01-01 -> 2011-03-31
monthly i=3 o=last w=friday s=2010-08-01: 2011-01-01 -> 2011-02-25
monthly i=3 o=last w=saturday s=2010-07-01: 2011-01-01 -> 2011-01-29
monthly i=3 o=last w=sunday s=2010-06-01: 2011-01-01 -> 2011-03-27
#   long span
monthly i=5 o=last w=monday s=1983-04-11: 2011-01-01 -> 2011-03-28
monthly i=5 o=last w=tuesday s=1983-04-11: 2011-01-01 -> 2011-03-29
monthly i=5 o=last w=wensday s=1983-04-11: 2011-01-01 -> 2011-03-30
monthly i=5 o=last w=thursday s=1983-04-11: 2011-01-01 -> 2011-03-31
monthly i=5 o=last w=friday s=1983-04-11: 2011-01-01 -> 2011-03-25
monthly i=5 o=last w=saturday s=1983-04-11: 2011-01-01 -> 2011-03-26
monthly i=5 o=last w=sunday s=1983-04-11: 2011-01-01 -> 2011-03-27
# monthly_every_ordinal_recurrence
#   basic first
monthly o=first w=monday s=2011-01-01: 2011-01-01 -> 2011-01-03
monthly o=first w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-04
monthly o=first w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-05
monthly o=first w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-06
monthly o=first w=friday s=2011-01-01: 2011-01-01 -> 2011-01-07
monthly o=first w=saturday s=2011-01-01: 2011-01-01 -> 2011-02-05
monthly o=first w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-02
#   basic second
monthly o=second w=monday s=2011-01-01: 2011-01-01 -> 2011-01-10
monthly o=second w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-11
monthly o=second w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-12
monthly o=second w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-13
monthly o=second w=friday s=2011-01-01: 2011-01-01 -> 2011-01-14
monthly o=second w=saturday s=2011-01-01: 2011-01-01 -> 2011-01-08
monthly o=second w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-09
#   basic third
monthly o=third w=monday s=2011-01-01: 2011-01-01 -> 2011-01-17
monthly o=third w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-18
monthly o=third w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-19
monthly o=third w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-20
monthly o=third w=friday s=2011-01-01: 2011-01-01 -> 2011-01-21
monthly o=third w=saturday s=2011-01-01: 2011-01-01 -> 2011-01-15
monthly o=third w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-16
#   basic fourth
monthly o=fourth w=monday s=2011-01-01: 2011-01-01 -> 2011-01-24
monthly o=fourth w=tuesday s=2011-01-01: 2011-01-01 -> 2011-01-25
monthly o=fourth w=wensday s=2011-01-01: 2011-01-01 -> 2011-01-26
monthly o=fourth w=thursday s=2011-01-01: 2011-01-01 -> 2011-01-27
monthly o=fourth w=friday s=2011-01-01: 2011-01-01 -> 2011-01-28
monthly o=fourth w=saturday s=2011-01-01: 2011-01-01 -> 2011-01-22
monthly o=fourth w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-23
#   basic fifth
monthly o=fifth w=monday s=2011-01-01: 2011-01-01 -> 2011-01-31
monthly o=fifth w=tuesday s=2011-01-01: 2011-01-01 -> 2011-02-01
monthly o=fifth w=wensday s=2011-01-01: 2011-01-01 -> 2011-02-02
monthly o=fifth w=thursday s=2011-01-01: 2011-01-01 -> 2011-02-03
monthly o=fifth w=friday s=2011-01-01: 2011-01-01 -> 2011-02-04
monthly o=fifth w=saturday s=2011-01-01: 2011-01-01 -> 2011-01-29
monthly o=fifth w=sunday s=2011-01-01: 2011-01-01 -> 2011-01-30
#   on occurrence
monthly o=first w=monday s=2011-01-01: 2011-01-03 -> 2011-02-07
monthly o=second w=monday s=2011-01-01: 2011-01-10 -> 2011-02-14
monthly o=third w=monday s=2011-01-01: 2011-01-17 -> 2011-02-21
monthly o=fourth w=monday s=2011-01-01: 2011-01-24 -> 2011-02-28
#   leap year first
monthly o=first w=monday s=2008-01-01: 2008-02-01 -> 2008-02-04
monthly o=first w=tuesday s=2008-01-01: 2008-02-01 -> 2008-02-05
monthly o=first w=wensday s=2008-01-01: 2008-02-01 -> 2008-02-06
monthly o=first w=thursday s=2008-01-01: 2008-02-01 -> 2008-02-07
monthly o=first w=friday s=2008-01-01: 2008-02-01 -> 2008-03-07
monthly o=first w=saturday s=2008-01-01: 2008-02-01 -> 2008-02-02
monthly o=first w=sunday s=2008-01-01: 2008-02-01 -> 2008-02-03
#   leap year second
monthly o=second w=monday s=2008-01-01: 2008-02-01 -> 2008-02-11
monthly o=second w=tuesday s=2008-01-01: 2008-02-01 -> 2008-02-12
monthly o=second w=wensday s=2008-01-01: 2008-02-01 -> 2008-02-13
monthly o=second w=thursday s=2008-01-01: 2008-02-01 -> 2008-02-14
monthly o=second w=friday s=2008-01-01: 2008-02-01 -> 2008-02-08
monthly o=second w=saturday s=2008-01-01: 2008-02-01 -> 2008-02-09
monthly o=second w=sunday s=2008-01-01: 2008-02-01 -> 2008-02-10
#   leap year third
monthly o=third w=monday s=2008-01-01: 2008-02-01 -> 2008-02-18
monthly o=third w=tuesday s=2008-01-01: 2008-02-01 -> 2008-02-19
monthly o=third w=wensday s=2008-01-01: 2008-02-01 -> 2008-02-20
monthly o=third w=thursday s=2008-01-01: 2008-02-01 -> 2008-02-21
monthly o=third w=friday s=2008-01-01: 2008-02-01 -> 2008-02-15
monthly o=third w=saturday s=2008-01-01: 2008-02-01 -> 2008-02-16
monthly o=third w=sunday s=2008-01-01: 2008-02-01 -> 2008-02-17
#   leap year fourth
monthly o=fourth w=monday s=2008-01-01: 2008-02-01 -> 2008-02-25
monthly o=fourth w=tuesday s=2008-01-01: 2008-02-01 -> 2008-02-26
monthly o=fourth w=wensday s=2008-01-01: 2008-02-01 -> 2008-02-27
monthly o=fourth w=thursday s=2008-01-01: 2008-02-01 -> 2008-02-28
monthly o=fourth w=friday s=2008-01-01: 2008-02-01 -> 2008-02-22
monthly o=fourth w=saturday s=2008-01-01: 2008-02-01 -> 2008-02-23
monthly o=fourth w=sunday s=2008-01-01: 2008-02-01 -> 2008-02-24
#   leap year fifth
monthly o=fifth w=monday s=2008-01-01: 2008-02-01 -> 2008-03-03
monthly o=fifth w=tuesday s=2008-01-01: 2008-02-01 -> 2008-03-04
monthly o=fifth w=wensday s=2008-01-01: 2008-02-01 -> 2008-03-05
monthly o=fifth w=thursday s=2008-01-01: 2008-02-01 -> 2008-03-06
monthly o=fifth w=friday s=2008-01-01: 2008-02-01 -> 2008-02-29
monthly o=fifth w=saturday s=2008-01-01: 2008-02-01 -> 2008-03-01
monthly o=fifth w=sunday s=2008-01-01: 2008-02-01 -> 2008-03-02
#   shift start date (no impact)
monthly o=first w=monday s=2004-01-01: 2011-01-01 -> 2011-01-03
monthly o=second w=tuesday s=2005-02-01: 2011-01-01 -> 2011-01-11
monthly o=third w=wensday s=2006-03-01: 2011-01-01 -> 2011-01-19
monthly o=fourth w=thursday s=2007-04-01: 2011-01-01 -> 2011-01-27
monthly o=fifth w=friday s=2008-05-01: 2011-01-01 -> 2011-02-04
monthly o=first w=saturday s=2009-06-01: 2011-01-01 -> 2011-02-05
monthly o=second w=sunday s=2010-07-01: 2011-01-01 -> 2011-01-09
#   even step first (small)
monthly i=2 o=first w=monday s=2011-01-01: 2011-01-31 -> 2011-03-07
monthly i=2 o=first w=tuesday s=2011-01-01: 2011-01-31 -> 2011-03-01
monthly i=2 o=first w=wensday s=2011-01-01: 2011-01-31 -> 2011-03-02
monthly i=2 o=first w=thursday s=2011-01-01: 2011-01-31 -> 2011-03-03
monthly i=2 o=first w=friday s=2011-01-01: 2011-01-31 -> 2011-03-04
monthly i=2 o=first w=saturday s=2011-01-01: 2011-01-31 -> 2011-03-05
monthly i=2 o=first w=sunday s=2011-01-01: 2011-01-31 -> 2011-03-06
#   even step second (small)
monthly i=2 o=second w=monday s=2011-01-01: 2011-01-31 -> 2011-03-14
monthly i=2 o=second w=tuesday s=2011-01-01: 2011-01-31 -> 2011-03-08
monthly i=2 o=second w=wensday s=2011-01-01: 2011-01-31 -> 2011-03-09
monthly i=2 o=second w=thursday s=2011-01-01: 2011-01-31 -> 2011-03-10
monthly i=2 o=second w=friday s=2011-01-01: 2011-01-31 -> 2011-03-11
monthly i=2 o=second w=saturday s=2011-01-01: 2011-01-31 -> 2011-03-12
monthly i=2 o=second w=sunday s=2011-01-01: 2011-01-31 -> 2011-03-13
#   even step third (small)
monthly i=2 o=third w=monday s=2011-01-01: 2011-01-31 -> 2011-03-21
monthly i=2 o=third w=tuesday s=2011-01-01: 2011-01-31 -> 2011-03-15
monthly i=2 o=third w=wensday s=2011-01-01: 2011-01-31 -> 2011-03-16
monthly i=2 o=third w=thursday s=2011-01-01: 2011-01-31 -> 2011-03-17
monthly i=2 o=third w=friday s=2011-01-01: 2011-01-31 -> 2011-03-18
monthly i=2 o=third w=saturday s=2011-01-01: 2011-01-31 -> 2011-03-19
monthly i=2 o=third w=sunday s=2011-01-01: 2011-01-31 -> 2011-03-20
#   even step fourth (small)
monthly i=2 o=fourth w=monday s=2011-01-01: 2011-01-31 -> 2011-03-28
monthly i=2 o=fourth w=tuesday s=2011-01-01: 2011-01-31 -> 2011-03-22
monthly i=2 o=fourth w=wensday s=2011-01-01: 2011-01-31 -> 2011-03-23
monthly i=2 o=fourth w=thursday s=2011-01-01: 2011-01-31 -> 2011-03-24
monthly i=2 o=fourth w=friday s=2011-01-01: 2011-01-31 -> 2011-03-25
monthly i=2 o=fourth w=saturday s=2011-01-01: 2011-01-31 -> 2011-03-26
monthly i=2 o=fourth w=sunday s=2011-01-01: 2011-01-31 -> 2011-03-27
#   even step fifth (small)
monthly i=2 o=fifth w=tuesday s=2011-01-01: 2011-01-31 -> 2011-03-29
monthly i=2 o=fifth w=wensday s=2011-01-01: 2011-01-31 -> 2011-03-30
monthly i=2 o=fifth w=thursday s=2011-01-01: 2011-01-31 -> 2011-03-31
#   odd step first (small)
monthly i=3 o=first w=monday s=2011-01-01: 2011-01-31 -> 2011-04-04
monthly i=3 o=first w=tuesday s=2011-01-01: 2011-01-31 -> 2011-04-05
monthly i=3 o=first w=wensday s=2011-01-01: 2011-01-31 -> 2011-04-06
monthly i=3 o=first w=thursday s=2011-01-01: 2011-01-31 -> 2011-04-07
monthly i=3 o=first w=friday s=2011-01-01: 2011-01-31 -> 2011-04-01
monthly i=3 o=first w=saturday s=2011-01-01: 2011-01-31 -> 2011-04-02
monthly i=3 o=first w=sunday s=2011-01-01: 2011-01-31 -> 2011-04-03
#   odd step second (small)
monthly i=3 o=second w=monday s=2011-01-01: 2011-01-31 -> 2011-04-11
monthly i=3 o=second w=tuesday s=2011-01-01: 2011-01-31 -> 2011-04-12
monthly i=3 o=second w=wensday s=2011-01-01: 2011-01-31 -> 2011-04-13
monthly i=3 o=second w=thursday s=2011-01-01: 2011-01-31 -> 2011-04-14
monthly i=3 o=second w=friday s=2011-01-01: 2011-01-31 -> 2011-04-08
monthly i=3 o=second w=saturday s=2011-01-01: 2011-01-31 -> 2011-04-09
monthly i=3 o=second w=sunday s=2011-01-01: 2011-01-31 -> 2011-04-10
#   odd step third (small)
monthly i=3 o=third w=monday s=2011-01-01: 2011-01-31 -> 2011-04-18
monthly i=3 o=third w=tuesday s=2011-01-01: 2011-01-31 -> 2011-04-19
monthly i=3 o=third w=wensday s=2011-01-01: 2011-01-31 -> 2011-04-20
monthly i=3 o=third w=thursday s=2011-01-01: 2011-01-31 -> 2011-04-21
monthly i=3 o=third w=friday s=2011-01-01: 2011-01-31 -> 2011-04-15
monthly i=3 o=third w=saturday s=2011-01-01: 2011-01-31 -> 2011-04-16
monthly i=3 o=third w=sunday s=2011-01-01: 2011-01-31 -> 2011-04-17
#   odd step fourth (small)
monthly i=3 o=fourth w=monday s=2011-01-01: 2011-01-31 -> 2011-04-25
monthly i=3 o=fourth w=tuesday s=2011-01-01: 2011-01-31 -> 2011-04-26
monthly i=3 o=fourth w=wensday s=2011-01-01: 2011-01-31 -> 2011-04-27
monthly i=3 o=fourth w=thursday s=2011-01-01: 2011-01-31 -> 2011-04-28
monthly i=3 o=fourth w=friday s=2011-01-01: 2011-01-31 -> 2011-04-22
monthly i=3 o=fourth w=saturday s=2011-01-01: 2011-01-31 -> 2011-04-23
monthly i=3 o=fourth w=sunday s=2011-01-01: 2011-01-31 -> 2011-04-24
#   odd step fifth (small)
monthly i=3 o=fifth w=friday s=2011-01-01: 2011-01-31 -> 2011-04-29
monthly i=3 o=fifth w=saturday s=2011-01-01: 2011-01-31 -> 2011-04-30
#   shift start date
monthly i=5 o=first w=monday s=2004-01-01: 2011-01-01 -> 2011-02-07
monthly i=5 o=second w=tuesday s=2005-02-01: 2011-01-01 -> 2011-05-10
monthly i=5 o=third w=wensday s=2006-03-01: 2011-01-01 -> 2011-03-16
monthly i=5 o=fourth w=thursday s=2007-04-01: 2011-01-01 -> 2011-01-27
monthly i=5 o=fifth w=friday s=2008-05-01: 2011-01-01 -> 2011-04-29
monthly i=5 o=first w=saturday s=2009-06-01: 2011-01-01 -> 2011-02-05
monthly i=5 o=second w=sunday s=2010-07-01: 2011-01-01 -> 2011-05-08
#   long span
monthly i=5 o=fourth w=monday s=1983-04-11: 2011-01-01 -> 2011-03-28
monthly i=5 o=fifth w=tuesday s=1983-04-11: 2011-01-01 -> 2011-03-29
monthly i=5 o=first w=wensday s=1983-04-11: 2011-01-01 -> 2011-03-02
monthly i=5 o=second w=thursday s=1983-04-11: 2011-01-01 -> 2011-03-10
monthly i=5 o=third w=friday s=1983-04-11: 2011-01-01 -> 2011-03-18
monthly i=5 o=fourth w=saturday s=1983-04-11: 2011-01-01 -> 2011-03-26
monthly i=5 o=first w=sunday s=1983-04-11: 2011-01-01 -> 2011-03-06
# monthly_date_recurrence__basic_increment
#   basic increment
# monthly_date_recurrence
#   same day, before
monthly d=25 s=2011-01-01: 2011-03-24 -> 2011-03-25
#   increment over month boundary
monthly d=1 s=2011-01-01: 2011-01-31 -> 2011-02-01
monthly d=1 s=2011-06-01: 2011-06-30 -> 2011-07-01
#   increment over year boundary
monthly d=1 s=2010-01-01: 2010-12-31 -> 2011-01-01
#   leap year (into)
monthly d=29 s=2008-01-01: 2008-02-28 -> 2008-02-29
#   leap year (over)
monthly d=1 s=2008-01-01: 2008-02-29 -> 2008-03-01
#   shift start date (no impact)
monthly d=2 s=2008-01-01: 2011-01-01 -> 2011-01-02
monthly d=2 s=2009-01-01: 2011-01-01 -> 2011-01-02
monthly d=2 s=2010-01-01: 2011-01-01 -> 2011-01-02
#   multiple dates
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-01 -> 2011-01-05
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-02 -> 2011-01-05
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-03 -> 2011-01-05
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-04 -> 2011-01-05
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-05 -> 2011-01-10
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-06 -> 2011-01-10
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-07 -> 2011-01-10
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-08 -> 2011-01-10
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-09 -> 2011-01-10
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-10 -> 2011-01-15
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-11 -> 2011-01-15
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-12 -> 2011-01-15
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-13 -> 2011-01-15
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-14 -> 2011-01-15
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-15 -> 2011-01-20
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-16 -> 2011-01-20
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-17 -> 2011-01-20
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-18 -> 2011-01-20
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-19 -> 2011-01-20
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-20 -> 2011-01-25
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-21 -> 2011-01-25
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-22 -> 2011-01-25
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-23 -> 2011-01-25
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-24 -> 2011-01-25
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-25 -> 2011-02-05
monthly d=5,10,15,20,25 s=2011-01-01: 2011-01-26 -> 2011-02-05
#   even step (small)
monthly i=2 d=2 s=2011-01-01: 2011-01-02 -> 2011-03-02
monthly i=2 d=2 s=2011-01-01: 2011-03-02 -> 2011-05-02
monthly i=2 d=2 s=2011-01-01: 2011-05-02 -> 2011-07-02
monthly i=2 d=2 s=2011-06-01: 2011-06-01 -> 2011-06-02
monthly i=2 d=2 s=2011-06-01: 2011-06-02 -> 2011-08-02
#   odd step (small)
monthly i=3 d=2 s=2011-01-01: 2011-01-02 -> 2011-04-02
monthly i=3 d=2 s=2011-01-01: 2011-04-02 -> 2011-07-02
monthly i=3 d=2 s=2011-01-01: 2011-07-02 -> 2011-10-02
monthly i=3 d=2 s=2011-06-01: 2011-06-01 -> 2011-06-02
monthly i=3 d=2 s=2011-06-01: 2011-06-02 -> 2011-09-02
#   even step (large)
monthly i=24 d=2 s=2011-01-01: 2011-01-01 -> 2011-01-02
monthly i=24 d=2 s=2011-01-01: 2011-01-02 -> 2013-01-02
monthly i=24 d=2 s=2011-06-01: 2011-06-01 -> 2011-06-02
monthly i=24 d=2 s=2011-06-01: 2011-06-02 -> 2013-06-02
#   odd step (large)
monthly i=37 d=2 s=2011-01-01: 2011-01-01 -> 2011-01-02
monthly i=37 d=2 s=2011-01-01: 2011-04-02 -> 2014-02-02
monthly i=37 d=2 s=2011-06-01: 2011-06-01 -> 2011-06-02
monthly i=37 d=2 s=2011-06-01: 2011-06-02 -> 2014-07-02
#   shift start date
monthly i=3 d=2 s=2007-05-01: 2011-01-01 -> 2011-02-02
monthly i=3 d=2 s=2008-06-02: 2011-01-01 -> 2011-03-02
monthly i=3 d=2 s=2009-07-03: 2011-01-01 -> 2011-01-02
monthly i=3 d=2 s=2010-08-04: 2011-01-01 -> 2011-02-02
#   long span
monthly i=4 d=11 s=1983-04-11: 2011-01-01 -> 2011-04-11
# yearly_date_recurrence
#   basic increment
yearly m=4 d=11 s=2011-01-01: 2011-01-01 -> 2011-04-11
yearly m=4 d=11 s=2011-01-01: 2011-02-01 -> 2011-04-11
yearly m=4 d=11 s=2011-01-01: 2011-03-01 -> 2011-04-11
#   same month, before
yearly m=4 d=11 s=2011-01-01: 2011-04-01 -> 2011-04-11
yearly m=4 d=11 s=2011-01-01: 2011-04-10 -> 2011-04-11
#   increment over year boundary
yearly m=4 d=11 s=2011-01-01: 2011-04-11 -> 2012-04-11
#   leap year (into)
yearly m=2 d=29 s=2008-01-01: 2008-02-28 -> 2008-02-29
#   leap year (over)
#   (Kazoo returns the unnormalised {2009,2,29}; process_rules/3 normalises it, as next_rule_date does here)
yearly m=2 d=29 s=2008-01-01: 2008-02-29 -> 2009-03-01
#   shift start date (no impact)
yearly m=4 d=11 s=2008-10-11: 2011-01-01 -> 2011-04-11
yearly m=4 d=11 s=2009-11-11: 2011-01-01 -> 2011-04-11
yearly m=4 d=11 s=2010-12-11: 2011-01-01 -> 2011-04-11
#   even step (small)
yearly i=2 m=4 d=11 s=2011-01-01: 2011-04-11 -> 2013-04-11
yearly i=2 m=4 d=11 s=2011-01-01: 2014-04-11 -> 2015-04-11
#   odd step (small)
yearly i=3 m=4 d=11 s=2011-01-01: 2011-04-11 -> 2014-04-11
yearly i=3 m=4 d=11 s=2011-01-01: 2016-04-11 -> 2017-04-11
#   shift start dates
yearly i=5 m=4 d=11 s=2008-10-11: 2011-01-01 -> 2013-04-11
yearly i=5 m=4 d=11 s=2009-11-11: 2011-01-01 -> 2014-04-11
yearly i=5 m=4 d=11 s=2010-12-11: 2011-01-01 -> 2015-04-11
#   long span
yearly i=5 m=4 d=11 s=1983-04-11: 2011-01-01 -> 2013-04-11
#   multiple days
yearly m=4 d=11,12,13 s=2011-01-01: 2011-01-01 -> 2011-04-11
yearly m=4 d=11,12,13 s=2011-01-01: 2011-04-11 -> 2011-04-12
yearly m=4 d=11,12,13 s=2011-01-01: 2011-04-12 -> 2011-04-13
yearly m=4 d=11,12,13 s=2011-01-01: 2011-04-13 -> 2012-04-11
yearly i=2 m=4 d=11,12,13 s=2011-01-01: 2011-04-13 -> 2013-04-11
#   TODO
#   TODO
# yearly_every_ordinal_recurrence
#   basic first
yearly o=first w=monday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-04
yearly o=first w=tuesday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-05
yearly o=first w=wensday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-06
yearly o=first w=thursday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-07
yearly o=first w=friday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-01
yearly o=first w=saturday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-02
yearly o=first w=sunday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-03
#   basic second
yearly o=second w=monday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-11
yearly o=second w=tuesday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-12
yearly o=second w=wensday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-13
yearly o=second w=thursday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-14
yearly o=second w=friday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-08
yearly o=second w=saturday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-09
yearly o=second w=sunday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-10
#   basic third
yearly o=third w=monday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-18
yearly o=third w=tuesday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-19
yearly o=third w=wensday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-20
yearly o=third w=thursday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-21
yearly o=third w=friday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-15
yearly o=third w=saturday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-16
yearly o=third w=sunday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-17
#   basic fourth
yearly o=fourth w=monday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-25
yearly o=fourth w=tuesday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-26
yearly o=fourth w=wensday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-27
yearly o=fourth w=thursday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-28
yearly o=fourth w=friday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-22
yearly o=fourth w=saturday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-23
yearly o=fourth w=sunday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-24
#   basic fifth
yearly o=fifth w=monday m=4 s=2011-01-01: 2011-01-01 -> 2012-04-30
yearly o=fifth w=tuesday m=4 s=2011-01-01: 2011-01-01 -> 2013-04-30
yearly o=fifth w=wensday m=4 s=2011-01-01: 2011-01-01 -> 2014-04-30
yearly o=fifth w=thursday m=4 s=2011-01-01: 2011-01-01 -> 2015-04-30
yearly o=fifth w=friday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-29
yearly o=fifth w=saturday m=4 s=2011-01-01: 2011-01-01 -> 2011-04-30
yearly o=fifth w=sunday m=4 s=2011-01-01: 2011-01-01 -> 2012-04-29
#   same month, before
yearly o=first w=monday m=4 s=2011-01-01: 2011-04-01 -> 2011-04-04
yearly o=second w=monday m=4 s=2011-01-01: 2011-04-10 -> 2011-04-11
#   current date on (simple)
yearly o=first w=monday m=4 s=2011-01-01: 2011-03-11 -> 2011-04-04
yearly o=first w=monday m=4 s=2011-01-01: 2011-04-11 -> 2012-04-02
#   current date after (simple)
yearly o=first w=monday m=4 s=2011-01-01: 2011-06-21 -> 2012-04-02
#   shift start dates (no impact)
yearly o=first w=monday m=4 s=2004-01-01: 2011-01-01 -> 2011-04-04
yearly o=second w=tuesday m=4 s=2005-02-01: 2011-01-01 -> 2011-04-12
yearly o=third w=wensday m=4 s=2006-03-01: 2011-01-01 -> 2011-04-20
yearly o=fourth w=thursday m=4 s=2007-04-01: 2011-01-01 -> 2011-04-28
yearly o=fifth w=friday m=4 s=2008-05-01: 2011-01-01 -> 2011-04-29
yearly o=first w=saturday m=4 s=2009-06-01: 2011-01-01 -> 2011-04-02
yearly o=second w=sunday m=4 s=2010-07-01: 2011-01-01 -> 2011-04-10
#   even step first (small)
yearly i=2 o=first w=monday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-01
yearly i=2 o=first w=tuesday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-02
yearly i=2 o=first w=wensday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-03
yearly i=2 o=first w=thursday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-04
yearly i=2 o=first w=friday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-05
yearly i=2 o=first w=saturday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-06
yearly i=2 o=first w=sunday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-07
#   even step second (small)
yearly i=2 o=second w=monday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-08
yearly i=2 o=second w=tuesday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-09
yearly i=2 o=second w=wensday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-10
yearly i=2 o=second w=thursday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-11
yearly i=2 o=second w=friday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-12
yearly i=2 o=second w=saturday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-13
yearly i=2 o=second w=sunday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-14
#   even step third (small)
yearly i=2 o=third w=monday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-15
yearly i=2 o=third w=tuesday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-16
yearly i=2 o=third w=wensday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-17
yearly i=2 o=third w=thursday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-18
yearly i=2 o=third w=friday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-19
yearly i=2 o=third w=saturday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-20
yearly i=2 o=third w=sunday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-21
#   even step fourth (small)
yearly i=2 o=fourth w=monday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-22
yearly i=2 o=fourth w=tuesday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-23
yearly i=2 o=fourth w=wensday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-24
yearly i=2 o=fourth w=thursday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-25
yearly i=2 o=fourth w=friday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-26
yearly i=2 o=fourth w=saturday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-27
yearly i=2 o=fourth w=sunday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-28
#   basic fifth (small)
yearly i=2 o=fifth w=monday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-29
yearly i=2 o=fifth w=tuesday m=4 s=2011-01-01: 2011-05-01 -> 2013-04-30
yearly i=2 o=fifth w=wensday m=4 s=2011-01-01: 2011-05-01 -> 2015-04-29
yearly i=2 o=fifth w=thursday m=4 s=2011-01-01: 2011-05-01 -> 2015-04-30
yearly i=2 o=fifth w=friday m=4 s=2011-01-01: 2011-05-01 -> 2021-04-30
yearly i=2 o=fifth w=saturday m=4 s=2011-01-01: 2011-05-01 -> 2017-04-29
yearly i=2 o=fifth w=sunday m=4 s=2011-01-01: 2011-05-01 -> 2017-04-30
"""
KAZOO_LINES = [line for line in KAZOO_VECTORS.splitlines() if line and not line.startswith("#")]


def test_kazoo_vectors_are_all_there() -> None:
    assert len(KAZOO_LINES) == 717


@pytest.mark.parametrize("line", KAZOO_LINES)
def test_kazoo_next_rule_date_vector(line: str) -> None:
    r, search, expected = _parse_vector(line)
    assert next_rule_date(r, search) == expected
