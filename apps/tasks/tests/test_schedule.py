"""Schedule parsing and fire-time computation (apps/tasks/schedule.py); no database needed.

Expected instants are written out by hand for the grammar, and checked against the brute-force
``cron_oracle`` (which walks real instants one minute or one second at a time) for DST behaviour.
"""
from __future__ import annotations

import functools
import pickle
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.tasks.schedule import (
    MAX_EVERY_SECONDS,
    Schedule,
    ScheduleError,
    load_timezone,
    parse_schedule,
)
from apps.tasks.tests.cron_oracle import OracleCron, oracle_fires, transitions

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def local(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz), fold=fold)


def fires(expr: str, tz: str, after: datetime, count: int) -> list[str]:
    """The next ``count`` fires rendered as local wall time with offset, for readable expectations."""
    zone = ZoneInfo(tz)
    return [d.astimezone(zone).isoformat() for d in parse_schedule(expr, tz).next_n(after, count)]


def fires_until(schedule: Schedule, after: datetime, end: datetime) -> list[datetime]:
    """Every fire in (after, end] by repeated next_after."""
    out: list[datetime] = []
    current = after
    while True:
        nxt = schedule.next_after(current)
        if nxt is None or nxt > end:
            return out
        out.append(nxt)
        current = nxt


# --------------------------------------------------------------------------------------------------
# Grammar: valid forms
# --------------------------------------------------------------------------------------------------

JAN1 = utc(2025, 1, 1)  # a Wednesday


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("* * * * *", utc(2025, 1, 1, 0, 0, 30), ["2025-01-01T00:01:00+00:00", "2025-01-01T00:02:00+00:00"]),
    ("*/15 * * * *", utc(2025, 1, 1, 0, 7), ["2025-01-01T00:15:00+00:00", "2025-01-01T00:30:00+00:00",
                                             "2025-01-01T00:45:00+00:00", "2025-01-01T01:00:00+00:00"]),
    ("5,10,50 * * * *", JAN1, ["2025-01-01T00:05:00+00:00", "2025-01-01T00:10:00+00:00",
                               "2025-01-01T00:50:00+00:00", "2025-01-01T01:05:00+00:00"]),
    ("0 9-11 * * *", JAN1, ["2025-01-01T09:00:00+00:00", "2025-01-01T10:00:00+00:00",
                            "2025-01-01T11:00:00+00:00", "2025-01-02T09:00:00+00:00"]),
    ("10-30/10 6 * * *", JAN1, ["2025-01-01T06:10:00+00:00", "2025-01-01T06:20:00+00:00",
                                "2025-01-01T06:30:00+00:00", "2025-01-02T06:10:00+00:00"]),
    ("45/5 0 * * *", JAN1, ["2025-01-01T00:45:00+00:00", "2025-01-01T00:50:00+00:00",
                            "2025-01-01T00:55:00+00:00", "2025-01-02T00:45:00+00:00"]),
    ("0 0 1 jan,Jul *", JAN1, ["2025-07-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]),
    ("0 0 1 FEB-APR *", JAN1, ["2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00",
                               "2025-04-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"]),
    ("0 0 1 */4 *", JAN1, ["2025-05-01T00:00:00+00:00", "2025-09-01T00:00:00+00:00",
                           "2026-01-01T00:00:00+00:00"]),
    ("0 12 * * MON-FRI", utc(2025, 1, 3, 13), ["2025-01-06T12:00:00+00:00", "2025-01-07T12:00:00+00:00"]),
    ("0 12 * * 0", JAN1, ["2025-01-05T12:00:00+00:00", "2025-01-12T12:00:00+00:00"]),
    ("0 12 * * 7", JAN1, ["2025-01-05T12:00:00+00:00", "2025-01-12T12:00:00+00:00"]),
    ("0 12 * * sun", JAN1, ["2025-01-05T12:00:00+00:00", "2025-01-12T12:00:00+00:00"]),
    ("0 12 * * SAT-SUN", JAN1, ["2025-01-04T12:00:00+00:00", "2025-01-05T12:00:00+00:00",
                                "2025-01-11T12:00:00+00:00"]),
    ("0 12 * * 5-7", JAN1, ["2025-01-03T12:00:00+00:00", "2025-01-04T12:00:00+00:00",
                            "2025-01-05T12:00:00+00:00", "2025-01-10T12:00:00+00:00"]),
    ("0 12 * * */3", JAN1, ["2025-01-01T12:00:00+00:00", "2025-01-04T12:00:00+00:00",
                            "2025-01-05T12:00:00+00:00", "2025-01-08T12:00:00+00:00"]),  # Sun, Wed, Sat
    ("0 12 * * MON/2", JAN1, ["2025-01-01T12:00:00+00:00", "2025-01-03T12:00:00+00:00",
                              "2025-01-06T12:00:00+00:00"]),  # Mon, Wed, Fri (runs to Saturday, not 7)
    ("0 12 ? * WED", JAN1, ["2025-01-01T12:00:00+00:00", "2025-01-08T12:00:00+00:00"]),
    ("0 12 15 * ?", JAN1, ["2025-01-15T12:00:00+00:00", "2025-02-15T12:00:00+00:00"]),
    ("00 09 05 01 *", JAN1, ["2025-01-05T09:00:00+00:00", "2026-01-05T09:00:00+00:00"]),
    # six fields: SECONDS FIRST
    ("30 0 9 * * *", JAN1, ["2025-01-01T09:00:30+00:00", "2025-01-02T09:00:30+00:00"]),
    ("*/20 * * * * *", utc(2025, 1, 1, 0, 0, 5), ["2025-01-01T00:00:20+00:00", "2025-01-01T00:00:40+00:00",
                                                   "2025-01-01T00:01:00+00:00"]),
    ("0 0 12 ? * MON", JAN1, ["2025-01-06T12:00:00+00:00", "2025-01-13T12:00:00+00:00"]),
    ("15,45 30 * * * *", JAN1, ["2025-01-01T00:30:15+00:00", "2025-01-01T00:30:45+00:00",
                                "2025-01-01T01:30:15+00:00"]),
])
def test_grammar_forms(expr: str, after: datetime, expected: list[str]) -> None:
    assert fires(expr, "UTC", after, len(expected)) == expected


@pytest.mark.parametrize("raw", ["  0 9 * * *", "0 9 * * *  \n", "0   9 *\t* *", "\t0 9 * * *\t"])
def test_whitespace_is_tolerated_and_normalized(raw: str) -> None:
    schedule = parse_schedule(raw, "UTC")
    assert schedule.expression == "0 9 * * *"
    assert schedule == parse_schedule("0 9 * * *", "UTC")
    assert schedule.next_after(JAN1) == utc(2025, 1, 1, 9)


def test_six_fields_put_seconds_first_not_last() -> None:
    # croniter reads a 6th field as seconds; here "5 0 * * * *" is second 5 of minute 0 of every hour.
    assert fires("5 0 * * * *", "UTC", JAN1, 2) == ["2025-01-01T00:00:05+00:00", "2025-01-01T01:00:05+00:00"]
    assert fires("0 5 * * * *", "UTC", JAN1, 2) == ["2025-01-01T00:05:00+00:00", "2025-01-01T01:05:00+00:00"]


# --------------------------------------------------------------------------------------------------
# Grammar: rejected forms, each with its reason
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "reason"), [
    ("", "expression is empty"),
    ("   ", "expression is empty"),
    ("0 " * 120, "expression is longer than 200 characters"),
    ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 4"),
    ("0 0 0 1 1 * 2025", "got 7 (a Quartz year field is not supported)"),
    ("61 * * * *", "minute field: 61 is out of range 0-59"),
    ("60 * * * * *", "second field: 60 is out of range 0-59"),
    ("0 24 * * *", "hour field: 24 is out of range 0-23"),
    ("0 00000000000024 * * *", "hour field: 24 is out of range 0-23"),
    ("99999999999 * * * *", "minute field: 99999999999 is out of range 0-59"),
    ("0 0 0 * *", "day-of-month field: 0 is out of range 1-31"),
    ("0 0 32 * *", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 * 13 *", "month field: 13 is out of range 1-12"),
    ("0 0 * 0 *", "month field: 0 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week field: 8 is out of range 0-7"),
    ("0 0 * JANUARY *", "month field: 'JANUARY' is not a month (1-12 or JAN-DEC)"),
    ("0 0 * * MONDAY", "day-of-week field: 'MONDAY' is not a day of the week (0-7 or SUN-SAT)"),
    ("0 MON * * *", "hour field: 'MON' is not a number"),
    ("x * * * *", "minute field: 'x' is not a number"),
    ("-5 * * * *", "minute field: '-5' is not a number (signs are not allowed)"),
    ("1.5 * * * *", "minute field: '1.5' is not a number"),
    ("1,,2 * * * *", "minute field: empty list item in '1,,2'"),
    ("1, * * * *", "minute field: empty list item in '1,'"),
    ("30-10 * * * *", "minute field: range '30-10' is reversed (start is after end)"),
    ("0 0 * * FRI-MON", "day-of-week field: range 'FRI-MON' is reversed (start is after end)"),
    ("1- * * * *", "minute field: invalid range '1-'"),
    ("1-2-3 * * * *", "minute field: invalid range '1-2-3'"),
    ("*/0 * * * *", "minute field: step 0 is out of range 1-60"),
    ("*/61 * * * *", "minute field: step 61 is out of range 1-60"),
    ("0 */25 * * *", "hour field: step 25 is out of range 1-24"),
    ("*/ * * * *", "minute field: missing step after '/' in '*/'"),
    ("*/x * * * *", "minute field: step 'x' is not a number"),
    ("1/2/3 * * * *", "minute field: invalid item '1/2/3' (more than one '/')"),
    ("*,5 * * * *", "minute field: '*' cannot be combined with other values in a list"),
    ("? * * * *", "minute field: '?' is only allowed in the day-of-month and day-of-week fields"),
    ("0 0 ?/2 * *", "day-of-month field: '?' must stand alone (it means 'any')"),
    ("0 0 L * *", "day-of-month field: 'L': Quartz 'L'/'W' (last day, nearest weekday) is not supported"),
    ("0 0 15W * *", "day-of-month field: '15W': Quartz 'L'/'W' (last day, nearest weekday) is not supported"),
    ("0 0 * * 5L", "day-of-week field: '5L': Quartz 'L'/'W' (last day, nearest weekday) is not supported"),
    ("0 0 * * 5#3", "day-of-week field: '5#3': Quartz '#' (nth weekday of the month) is not supported"),
    ("0 0 30 2 *", "never fires: day-of-month 30 does not exist in February"),
    ("0 0 31 4 *", "never fires: day-of-month 31 does not exist in April"),
    ("0 0 30,31 2 *", "never fires: day-of-month 30,31 does not exist in February"),
    ("0 0 31 2,4,6 *", "never fires: day-of-month 31 does not exist in February or April or June"),
    ("0 0 31 2,4,6,9 *", "never fires: day-of-month 31 does not exist in any allowed month"),
    ("0 0 * * * * *", "got 7"),
    ("0 9 * * * \x00", "expression contains an invalid character '\\x00'"),
    ("0 9 * * mön", "expression contains an invalid character 'ö'"),
    ("0\n9 * * *", "expression contains an invalid character '\\n'"),
    ("@reboot", "@reboot is not supported: DJS tasks fire at times, not at start-up (use a manual trigger "
                "instead)"),
    ("@fortnightly", "unknown macro '@fortnightly'; expected @yearly, @annually, @monthly, @weekly, @daily, "
                     "@midnight, @hourly or @every <duration>"),
    ("@daily 0", "@daily takes no arguments"),
    ("@every", "@every needs a duration, e.g. @every 30s, @every 5m, @every 1h30m"),
    ("@every 0s", "@every duration must be at least 1s"),
    ("@every 0", "@every duration must be at least 1s"),
    ("@every 0h0m0s", "@every duration must be at least 1s"),
    ("@every -5m", "@every duration '-5m' is negative; it must be at least 1s"),
    ("@every 1.5s", "@every duration '1.5s' is not a whole number of seconds"),
    ("@every 500ms", "invalid @every duration '500ms': units below a second (ms) are not supported"),
    ("@every 30", "invalid @every duration '30': missing unit after 30 (use h, m or s)"),
    ("@every 1h30", "invalid @every duration '1h30': missing unit after 30 (use h, m or s)"),
    ("@every 2d", "invalid @every duration '2d': unknown unit 'd'; use h, m or s (24h for a day)"),
    ("@every 5M", "invalid @every duration '5M': unknown unit 'M'; use h, m or s"),
    ("@every abc", "invalid @every duration 'abc' (e.g. 30s, 5m, 1h30m)"),
    ("@every 1h 30m", "invalid @every duration '1h 30m': no spaces allowed (e.g. 1h30m)"),
    ("@every 8785h", "@every duration '8785h' is longer than the maximum of 366 days (8784h)"),
    ("@every 99999999999999999999h",
     "@every duration '99999999999999999999h' is longer than the maximum of 366 days (8784h)"),
])
def test_invalid_expressions_name_the_problem(expr: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expr, "UTC")
    message = str(caught.value)
    assert reason in message
    if not reason.startswith("got"):  # full reasons are asserted exactly
        assert message == reason


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)
    with pytest.raises(ValueError):
        parse_schedule("61 * * * *", "UTC")


@pytest.mark.parametrize("bad", [None, 5, b"0 0 * * *"])
def test_non_string_expression_is_rejected(bad: object) -> None:
    with pytest.raises(ScheduleError, match="expression must be a string"):
        parse_schedule(bad, "UTC")  # type: ignore[arg-type]


def test_the_constructor_validates_like_parse_schedule() -> None:
    with pytest.raises(ScheduleError, match="hour field: 24 is out of range 0-23"):
        Schedule("0 24 * * *", "UTC")
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Base'"):
        Schedule("0 0 * * *", "Mars/Base")


def test_sparse_but_possible_days_are_accepted() -> None:
    assert parse_schedule("0 0 31 1,4 *", "UTC").next_after(JAN1) == utc(2025, 1, 31)
    assert parse_schedule("0 0 30 2 MON", "UTC").next_after(JAN1) == utc(2025, 2, 3)  # OR rule: Mondays


# --------------------------------------------------------------------------------------------------
# Macros
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("macro", "equivalent"), [
    ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ("@DAILY", "0 0 * * *"),
])
def test_macros_equal_their_expansion(macro: str, equivalent: str) -> None:
    for tz in ("UTC", "Europe/Berlin", "Australia/Lord_Howe"):
        a, b = parse_schedule(macro, tz), parse_schedule(equivalent, tz)
        for start in (utc(2025, 3, 29), utc(2025, 10, 25, 12), utc(2026, 12, 31, 23, 59, 59)):
            assert a.next_n(start, 5) == b.next_n(start, 5)
        assert a.granularity_seconds == b.granularity_seconds


def test_macro_fire_times() -> None:
    after = utc(2025, 5, 14, 10, 20)  # a Wednesday
    assert fires("@yearly", "UTC", after, 1) == ["2026-01-01T00:00:00+00:00"]
    assert fires("@monthly", "UTC", after, 1) == ["2025-06-01T00:00:00+00:00"]
    assert fires("@weekly", "UTC", after, 1) == ["2025-05-18T00:00:00+00:00"]
    assert fires("@daily", "UTC", after, 1) == ["2025-05-15T00:00:00+00:00"]
    assert fires("@hourly", "UTC", after, 1) == ["2025-05-14T11:00:00+00:00"]
    assert fires("@daily", "Asia/Shanghai", after, 1) == ["2025-05-15T00:00:00+08:00"]


# --------------------------------------------------------------------------------------------------
# @every
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("duration", "seconds"), [
    ("1s", 1), ("30s", 30), ("5m", 300), ("2h", 7200), ("1h30m", 5400), ("1h0m30s", 3630), ("90m", 5400),
    ("1.5h", 5400), ("0.5m", 30), ("8784h", MAX_EVERY_SECONDS), ("+10s", 10), ("1m1h", 3660),
])
def test_every_durations(duration: str, seconds: int) -> None:
    assert parse_schedule(f"@every {duration}", "UTC").granularity_seconds == seconds


@pytest.mark.parametrize("interval", ["7s", "7m", "1h30m", "5h", "25h", "366h"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago"])
def test_every_is_aligned_to_the_unix_epoch_in_every_zone(interval: str, tz: str) -> None:
    schedule = parse_schedule(f"@every {interval}", tz)
    step = schedule.granularity_seconds
    results = schedule.next_n(utc(2025, 3, 30, 0, 59, 59), 50)
    for a, b in zip(results, results[1:]):
        assert (b - a).total_seconds() == step
    for moment in results:
        assert int(moment.timestamp()) % step == 0
    assert results == parse_schedule(f"@every {interval}", "UTC").next_n(utc(2025, 3, 30, 0, 59, 59), 50)


def test_every_known_instants_and_strictly_after() -> None:
    schedule = parse_schedule("@every 1h30m", "Europe/Berlin")
    # 1970-01-01T00:00Z + k * 90 min: midnight UTC is on the grid every 16 * 90 min = 24 h.
    assert schedule.next_after(utc(2025, 3, 30)) == utc(2025, 3, 30, 1, 30)
    assert schedule.next_after(utc(2025, 3, 30, 1, 29, 59, 999999)) == utc(2025, 3, 30, 1, 30)
    assert schedule.next_after(utc(2025, 3, 30, 1, 30)) == utc(2025, 3, 30, 3, 0)
    seven = parse_schedule("@every 7m", "UTC")
    assert seven.next_after(utc(1970, 1, 1)) == utc(1970, 1, 1, 0, 7)
    assert seven.next_after(utc(2025, 1, 1)) == utc(2025, 1, 1, 0, 5)  # 1735689600 = 420 * 4132594 + 120
    assert parse_schedule("@every 30s", "UTC").next_n(utc(2025, 1, 1, 0, 0, 10), 2) == [
        utc(2025, 1, 1, 0, 0, 30), utc(2025, 1, 1, 0, 1)]


def test_every_ignores_dst_but_zone_is_still_validated() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        parse_schedule("@every 5m", "Europe/Atlantis")
    spring = fires_until(parse_schedule("@every 1h", "Europe/Berlin"), utc(2025, 3, 29, 23), utc(2025, 3, 30, 3))
    assert spring == [utc(2025, 3, 30, h) for h in range(0, 4)]


def test_every_matches_the_oracle() -> None:
    for expr in ("@every 7s", "@every 1m40s", "@every 13m"):
        start, end = utc(2025, 3, 30), utc(2025, 3, 30, 3)
        assert fires_until(parse_schedule(expr, "Europe/Berlin"), start, end) == \
            oracle_fires(expr, "Europe/Berlin", start, end)


# --------------------------------------------------------------------------------------------------
# Day-of-month / day-of-week
# --------------------------------------------------------------------------------------------------

def _days(expr: str, after: datetime, count: int) -> list[str]:
    return [d.strftime("%a %d") for d in parse_schedule(expr, "UTC").next_n(after, count)]


def test_both_days_restricted_means_either() -> None:
    # June 2025: Sunday the 1st; Mondays 2, 9, 16, 23, 30
    assert _days("0 0 1,15 * MON", utc(2025, 5, 31), 7) == \
        ["Sun 01", "Mon 02", "Mon 09", "Sun 15", "Mon 16", "Mon 23", "Mon 30"]
    # "first Monday" written naively is every 1st-7th plus every Monday (classic cron pitfall)
    assert _days("0 0 1-7 * MON", utc(2025, 5, 31), 9) == \
        ["Sun 01", "Mon 02", "Tue 03", "Wed 04", "Thu 05", "Fri 06", "Sat 07", "Mon 09", "Mon 16"]


def test_one_day_field_unrestricted_means_both() -> None:
    assert _days("0 0 * * MON", utc(2025, 5, 31), 3) == ["Mon 02", "Mon 09", "Mon 16"]
    assert _days("0 0 13 * *", utc(2025, 5, 31), 2) == ["Fri 13", "Sun 13"]
    assert _days("0 0 13 * ?", utc(2025, 5, 31), 2) == ["Fri 13", "Sun 13"]
    assert _days("0 0 ? * FRI", utc(2025, 5, 31), 2) == ["Fri 06", "Fri 13"]


def test_a_field_starting_with_star_counts_as_unrestricted() -> None:
    # crontab(5): fields are "restricted" when they do not start with '*'.  So */2 with a weekday is an
    # AND: odd days that are also weekdays.  (Implementations that OR here would fire almost daily.)
    assert _days("0 0 */2 * MON-FRI", utc(2025, 5, 31), 6) == \
        ["Tue 03", "Thu 05", "Mon 09", "Wed 11", "Fri 13", "Tue 17"]
    assert _days("0 0 13 * */7", utc(2025, 1, 1), 2) == ["Sun 13", "Sun 13"]  # 13th AND Sunday
    assert [d.date().isoformat() for d in parse_schedule("0 0 13 * */7", "UTC").next_n(utc(2025, 1, 1), 2)] \
        == ["2025-04-13", "2025-07-13"]


# --------------------------------------------------------------------------------------------------
# Calendar edges
# --------------------------------------------------------------------------------------------------

def test_leap_day() -> None:
    assert [d.date().isoformat() for d in parse_schedule("0 0 29 2 *", "UTC").next_n(utc(2025, 1, 1), 3)] \
        == ["2028-02-29", "2032-02-29", "2036-02-29"]
    # 2100 is not a leap year: eight years between two leap days, still found
    assert parse_schedule("0 0 29 2 *", "UTC").next_after(utc(2096, 3, 1)) == utc(2104, 2, 29)
    # Feb 29 that is also a Sunday (13th... no: */7 makes it an AND) -- once in 28 years
    assert parse_schedule("0 0 29 2 */7", "UTC").next_after(utc(2025, 1, 1)) == utc(2032, 2, 29)
    assert parse_schedule("0 0 29 2 */7", "UTC").next_after(utc(2032, 3, 1)) == utc(2060, 2, 29)
    # in Berlin midnight of Feb 29 is 23:00 UTC the day before; at UTC+14 it is 10:00 the day before
    assert parse_schedule("0 0 29 2 *", "Europe/Berlin").next_after(utc(2025, 1, 1)) == utc(2028, 2, 28, 23)
    assert parse_schedule("0 0 29 2 *", "Pacific/Kiritimati").next_after(utc(2025, 1, 1)) == utc(2028, 2, 28, 10)
    assert parse_schedule("0 0 29 2 *", "Etc/GMT+12").next_after(utc(2025, 1, 1)) == utc(2028, 2, 29, 12)


def test_month_ends_and_year_boundaries() -> None:
    assert fires("59 23 31 12 *", "UTC", utc(2025, 6, 1), 2) == \
        ["2025-12-31T23:59:00+00:00", "2026-12-31T23:59:00+00:00"]
    assert fires("59 59 23 31 12 *", "UTC", utc(2025, 12, 31, 23, 59, 58), 1) == ["2025-12-31T23:59:59+00:00"]
    assert fires("0 0 31 * *", "UTC", utc(2025, 1, 31), 3) == \
        ["2025-03-31T00:00:00+00:00", "2025-05-31T00:00:00+00:00", "2025-07-31T00:00:00+00:00"]
    # New Year in Sydney happens on Dec 31 in UTC
    assert parse_schedule("@yearly", "Australia/Sydney").next_after(utc(2025, 6, 1)) == utc(2025, 12, 31, 13)
    assert parse_schedule("@yearly", "America/New_York").next_after(utc(2025, 12, 31, 23)) == utc(2026, 1, 1, 5)
    # exactly on a fire: strictly after means the next one
    assert parse_schedule("@yearly", "UTC").next_after(utc(2026, 1, 1)) == utc(2027, 1, 1)
    assert parse_schedule("*/10 * * * * *", "UTC").next_n(utc(2025, 12, 31, 23, 59, 45), 3) == \
        [utc(2025, 12, 31, 23, 59, 50), utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 10)]


def test_far_future_and_past() -> None:
    assert parse_schedule("0 0 1 1 *", "UTC").next_after(utc(1999, 12, 31, 23, 59)) == utc(2000, 1, 1)
    assert parse_schedule("0 12 * * *", "Europe/Berlin").next_after(utc(1975, 6, 1)) == utc(1975, 6, 1, 11)
    assert parse_schedule("0 0 1 1 *", "UTC").next_after(utc(9998, 6, 1)) is None  # beyond the range
    assert parse_schedule("@every 1s", "UTC").next_after(utc(9998, 12, 31, 23, 59, 59)) is None


# --------------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5",
                                  "Etc/GMT-14", "US/Eastern", "Asia/Kolkata", "GMT"])
def test_load_timezone_accepts_iana_names(name: str) -> None:
    assert load_timezone(name) == ZoneInfo(name)
    assert parse_schedule("@daily", name).timezone == name


@pytest.mark.parametrize(("name", "reason"), [
    ("Mars/Base", "unknown time zone 'Mars/Base'"),
    ("", "time zone is required (an IANA name such as 'Europe/Berlin')"),
    ("europe/berlin", "unknown time zone 'europe/berlin'"),
    ("Europe", "unknown time zone 'Europe'"),
    ("localtime", "unknown time zone 'localtime'"),
    ("posixrules", "unknown time zone 'posixrules'"),
    ("right/UTC", "unknown time zone 'right/UTC'"),
    ("leapseconds", "unknown time zone 'leapseconds'"),
    ("/etc/passwd", "invalid time zone name '/etc/passwd' (expected an IANA name such as 'Europe/Berlin')"),
    ("../../etc/passwd", "invalid time zone name '../../etc/passwd'"),
    ("Europe/../Europe/Berlin", "invalid time zone name 'Europe/../Europe/Berlin'"),
    ("Europe\\Berlin", "invalid time zone name 'Europe\\\\Berlin'"),
    ("zone.tab", "invalid time zone name 'zone.tab'"),
    (" Europe/Berlin", "invalid time zone name ' Europe/Berlin'"),
    ("Europe/Berlin\x00", "invalid time zone name 'Europe/Berlin\\x00'"),
    ("A" * 65, "invalid time zone name"),
])
def test_load_timezone_rejects(name: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        load_timezone(name)
    assert str(caught.value).startswith(reason)
    with pytest.raises(ScheduleError):
        parse_schedule("0 0 * * *", name)


# --------------------------------------------------------------------------------------------------
# Results and API contract
# --------------------------------------------------------------------------------------------------

def test_results_are_whole_second_utc_and_after_can_be_any_zone() -> None:
    schedule = parse_schedule("*/10 * * * *", "Europe/Berlin")
    after_utc = utc(2025, 6, 1, 10, 3, 7, 123456)
    result = schedule.next_after(after_utc)
    assert result == utc(2025, 6, 1, 10, 10)
    assert result is not None and result.tzinfo is UTC and result.microsecond == 0
    for zone in ("Asia/Shanghai", "America/New_York", "Australia/Lord_Howe"):
        assert schedule.next_after(after_utc.astimezone(ZoneInfo(zone))) == result
    assert schedule.next_after(utc(2025, 6, 1, 10, 9, 59, 999999)) == result
    assert schedule.next_after(result) == utc(2025, 6, 1, 10, 20)


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("@daily", "UTC").next_after(datetime(2025, 1, 1))


def test_next_n_counts() -> None:
    schedule = parse_schedule("@hourly", "UTC")
    assert schedule.next_n(JAN1, 0) == []
    assert len(schedule.next_n(JAN1, 100)) == 100
    with pytest.raises(ValueError):
        schedule.next_n(JAN1, -1)
    assert parse_schedule("0 0 1 1 *", "UTC").next_n(utc(9996, 6, 1), 5) == [utc(9997, 1, 1), utc(9998, 1, 1)]


def test_schedule_value_semantics() -> None:
    a = parse_schedule("0  9 * * *", "Europe/Berlin")
    assert a == parse_schedule("0 9 * * *", "Europe/Berlin") != parse_schedule("0 9 * * *", "UTC")
    assert hash(a) == hash(parse_schedule("0 9 * * *", "Europe/Berlin"))
    assert repr(a) == "Schedule(expression='0 9 * * *', timezone='Europe/Berlin')"
    clone = pickle.loads(pickle.dumps(a))
    assert clone == a and clone.next_n(JAN1, 3) == a.next_n(JAN1, 3)
    with pytest.raises(AttributeError):
        a.expression = "@daily"  # type: ignore[misc]


@pytest.mark.parametrize(("expr", "seconds"), [
    ("* * * * * *", 1), ("*/10 * * * * *", 10), ("0,50 * * * * *", 10), ("0,50 5 * * * *", 50),
    ("* * * * *", 60), ("*/15 * * * *", 900), ("0,45 * * * *", 900), ("@hourly", 3600),
    ("0 9-17 * * *", 3600), ("0 */6 * * *", 6 * 3600), ("0 9,17 * * *", 8 * 3600), ("30 2 * * *", 86400),
    ("@daily", 86400), ("@weekly", 86400), ("* 2 * * *", 60), ("59 23 * * *", 86400),
    ("0 23 * * *", 86400), ("55 23,0 * * *", 3600), ("0,55 0,23 * * *", 300),
    ("0,59 59 23 * * *", 59), ("58 59 23,0 * * *", 3600), ("0,58 0,1 12 * * *", 2), ("0 0,59 0,23 * * *", 60),
])
def test_granularity(expr: str, seconds: int) -> None:
    assert parse_schedule(expr, "UTC").granularity_seconds == seconds


# --------------------------------------------------------------------------------------------------
# DST: worked examples (the ones docs/cron.md shows)
# --------------------------------------------------------------------------------------------------

def test_berlin_spring_forward_fixed_time_fires_once_after_the_gap() -> None:
    # 2025-03-30: 02:00 CET jumps to 03:00 CEST (01:00 UTC)
    before = local("Europe/Berlin", 2025, 3, 29, 12)
    assert fires("30 2 * * *", "Europe/Berlin", before, 3) == [
        "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00", "2025-04-01T02:30:00+02:00"]
    assert fires("*/15 2 * * *", "Europe/Berlin", before, 2) == [
        "2025-03-30T03:00:00+02:00", "2025-03-31T02:00:00+02:00"]
    assert fires("0,30 2,3 * * *", "Europe/Berlin", before, 3) == [
        "2025-03-30T03:00:00+02:00", "2025-03-30T03:30:00+02:00", "2025-03-31T02:00:00+02:00"]
    assert fires("0 30 2 * * *", "Europe/Berlin", before, 1) == ["2025-03-30T03:00:00+02:00"]
    assert fires("0 */2 * * *", "Europe/Berlin", local("Europe/Berlin", 2025, 3, 29, 23), 4) == [
        "2025-03-30T00:00:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00",
        "2025-03-30T06:00:00+02:00"]


def test_berlin_spring_forward_wildcard_hour_skips_the_missing_hour() -> None:
    assert fires("*/30 * * * *", "Europe/Berlin", local("Europe/Berlin", 2025, 3, 30, 1), 3) == [
        "2025-03-30T01:30:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T03:30:00+02:00"]
    day = fires_until(parse_schedule("@hourly", "Europe/Berlin"), local("Europe/Berlin", 2025, 3, 29, 23, 59),
                      local("Europe/Berlin", 2025, 3, 30, 23, 59))
    assert len(day) == 23


def test_berlin_fall_back_fixed_time_fires_in_the_first_occurrence_only() -> None:
    # 2025-10-26: 03:00 CEST goes back to 02:00 CET (01:00 UTC); 02:00-02:59 happens twice
    assert fires("30 2 * * *", "Europe/Berlin", local("Europe/Berlin", 2025, 10, 25, 12), 3) == [
        "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00", "2025-10-28T02:30:00+01:00"]
    # asked from inside the second 02:xx, the first 02:30 is already past: nothing until tomorrow
    inside = local("Europe/Berlin", 2025, 10, 26, 2, 10, fold=1)
    assert inside.utcoffset() == timedelta(hours=1)
    assert fires("30 2 * * *", "Europe/Berlin", inside, 1) == ["2025-10-27T02:30:00+01:00"]
    assert fires("*/20 2 * * *", "Europe/Berlin", local("Europe/Berlin", 2025, 10, 26, 1, 50), 4) == [
        "2025-10-26T02:00:00+02:00", "2025-10-26T02:20:00+02:00", "2025-10-26T02:40:00+02:00",
        "2025-10-27T02:00:00+01:00"]


def test_berlin_fall_back_wildcard_hour_fires_in_both_occurrences() -> None:
    assert fires("*/30 * * * *", "Europe/Berlin", local("Europe/Berlin", 2025, 10, 26, 1, 45), 6) == [
        "2025-10-26T02:00:00+02:00", "2025-10-26T02:30:00+02:00", "2025-10-26T02:00:00+01:00",
        "2025-10-26T02:30:00+01:00", "2025-10-26T03:00:00+01:00", "2025-10-26T03:30:00+01:00"]
    inside = local("Europe/Berlin", 2025, 10, 26, 2, 45, fold=0)  # first 02:45: next is the second 02:00
    assert fires("*/30 * * * *", "Europe/Berlin", inside, 1) == ["2025-10-26T02:00:00+01:00"]
    day = fires_until(parse_schedule("@hourly", "Europe/Berlin"), local("Europe/Berlin", 2025, 10, 25, 23, 59),
                      local("Europe/Berlin", 2025, 10, 26, 23, 59))
    assert len(day) == 25


def test_half_hour_shift_lord_howe() -> None:
    # Lord Howe: 2025-10-05 02:00 +10:30 -> 02:30 +11:00; 2025-04-06 02:00 +11:00 -> 01:30 +10:30
    assert fires("15 2 * * *", "Australia/Lord_Howe", local("Australia/Lord_Howe", 2025, 10, 4, 12), 2) == [
        "2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"]
    assert fires("15,45 * * * *", "Australia/Lord_Howe", local("Australia/Lord_Howe", 2025, 10, 5, 1, 50), 2) == [
        "2025-10-05T02:45:00+11:00", "2025-10-05T03:15:00+11:00"]
    assert fires("45 1 * * *", "Australia/Lord_Howe", local("Australia/Lord_Howe", 2025, 4, 5, 12), 2) == [
        "2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"]
    assert fires("45 * * * *", "Australia/Lord_Howe", local("Australia/Lord_Howe", 2025, 4, 6, 1), 3) == [
        "2025-04-06T01:45:00+11:00", "2025-04-06T01:45:00+10:30", "2025-04-06T02:45:00+10:30"]


def test_midnight_transitions_santiago_and_havana() -> None:
    # Santiago 2025-09-07: 00:00 -04 -> 01:00 -03, the midnight of the 7th never happens
    assert fires("0 0 * * *", "America/Santiago", local("America/Santiago", 2025, 9, 6, 12), 2) == [
        "2025-09-07T01:00:00-03:00", "2025-09-08T00:00:00-03:00"]
    assert fires("@weekly", "America/Santiago", local("America/Santiago", 2025, 9, 6, 12), 1) == [
        "2025-09-07T01:00:00-03:00"]
    # Santiago 2025-04-06: 00:00 -03 -> Saturday 23:00 -04, so 23:xx on the 5th happens twice
    assert fires("30 23 * * *", "America/Santiago", local("America/Santiago", 2025, 4, 5, 12), 2) == [
        "2025-04-05T23:30:00-03:00", "2025-04-06T23:30:00-04:00"]
    # Havana 2025-03-09: 00:00 -05 -> 01:00 -04;  2025-11-02: 01:00 -04 -> 00:00 -05
    assert fires("30 0 * * *", "America/Havana", local("America/Havana", 2025, 3, 8, 12), 2) == [
        "2025-03-09T01:00:00-04:00", "2025-03-10T00:30:00-04:00"]
    assert fires("30 0 * * *", "America/Havana", local("America/Havana", 2025, 11, 1, 12), 2) == [
        "2025-11-02T00:30:00-04:00", "2025-11-03T00:30:00-05:00"]


# --------------------------------------------------------------------------------------------------
# DST against the brute-force oracle
# --------------------------------------------------------------------------------------------------

DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
             "America/Santiago", "America/Havana"]
ZONES = DST_ZONES + ["Asia/Shanghai", "UTC"]


@functools.cache
def _windows(zone: str) -> tuple[datetime, ...]:
    """Centre instants to test: every offset change of 2025-2027 (or fixed dates for zones without)."""
    centres = tuple(t for year in (2025, 2026, 2027) for t, _ in transitions(zone, year))
    return centres or (utc(2025, 3, 30, 1), utc(2026, 10, 25, 1), utc(2027, 12, 31, 23))


FIVE_FIELD = [
    "30 2 * * *", "0 2 * * *", "*/15 2 * * *", "0,30 2,3 * * *", "0 */2 * * *", "* 2 * * *", "59 1 * * *",
    "30 1 * * *", "45 1 * * SUN", "0 3 * * *", "0 0-3 * * *", "*/5 1-3 * * *", "0 0 * * *", "20 0 * * *",
    "30 23 * * *", "0 22-23,0-2 * * *", "*/10 * * * *", "0 * * * *", "15,45 * * * *", "@daily",
    "@weekly", "0 2 * * 0", "0 2 1-7 * SUN", "0 12 * * *",
]
SIX_FIELD = ["0 30 2 * * *", "*/20 * * * * *", "0 */15 2 * * *", "30 59 1 * * *", "*/30 * 2 * * *",
             "0 0 * * * *", "10 0,30 0-3,23 * * *"]


def _compare_with_oracle(expr: str, zone: str, centre: datetime, half_window: timedelta) -> None:
    start, end = centre - half_window, centre + half_window
    expected = oracle_fires(expr, zone, start, end)
    schedule = parse_schedule(expr, zone)
    assert fires_until(schedule, start, end) == expected, (expr, zone, centre)
    # next_after from arbitrary points, including inside gaps and repeated hours
    probe, step = start, timedelta(minutes=13, seconds=17) if len(expected) < 2000 else timedelta(minutes=29)
    index = 0
    while probe < end:
        while index < len(expected) and expected[index] <= probe:
            index += 1
        if index < len(expected):
            assert schedule.next_after(probe) == expected[index], (expr, zone, probe)
        probe += step


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("expr", FIVE_FIELD)
def test_five_field_matches_oracle_around_transitions(expr: str, zone: str) -> None:
    for centre in _windows(zone):
        _compare_with_oracle(expr, zone, centre, timedelta(hours=26))


@pytest.mark.parametrize("zone", DST_ZONES)
@pytest.mark.parametrize("expr", SIX_FIELD)
def test_six_field_matches_oracle_around_transitions(expr: str, zone: str) -> None:
    for centre in _windows(zone)[:2]:  # 2025's spring and fall: second-by-second is slow
        _compare_with_oracle(expr, zone, centre, timedelta(hours=2, minutes=30))


def _random_field(rng: random.Random, low: int, high: int, names: list[str] | None, hot: list[int]) -> str:
    def value() -> int:
        return rng.choice(hot) if hot and rng.random() < 0.5 else rng.randint(low, high)

    def text(v: int) -> str:
        return names[v - low] if names and rng.random() < 0.3 else str(v)

    items = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.choice(["*", "value", "value", "range", "range_step", "star_step", "start_step"])
        if kind == "*":
            return "*"
        a, b = sorted((value(), value()))
        step = rng.randint(1, max(1, (high - low + 1) // 2))
        if kind == "value":
            items.append(text(a))
        elif kind == "range":
            items.append(f"{text(a)}-{text(b)}")
        elif kind == "range_step":
            items.append(f"{text(a)}-{text(b)}/{step}")
        elif kind == "star_step":
            items.append(f"*/{step}")
        else:
            items.append(f"{text(a)}/{step}")
    return ",".join(items)


def _random_expression(rng: random.Random, seconds: bool) -> str:
    fields = [
        _random_field(rng, 0, 59, None, [0, 15, 30, 45]),
        _random_field(rng, 0, 23, None, [0, 1, 2, 3, 23]),
        rng.choice(["*", "*", "*", "?", _random_field(rng, 1, 31, None, [1, 5, 6, 7, 8, 25, 26, 29, 30, 31])]),
        rng.choice(["*", "*", "*", _random_field(rng, 1, 12, ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                                              "AUG", "SEP", "OCT", "NOV", "DEC"], [3, 4, 9, 10, 11])]),
        rng.choice(["*", "*", "?", _random_field(rng, 0, 6, ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
                                                 [0, 6])]),
    ]
    if seconds:
        fields.insert(0, _random_field(rng, 0, 59, None, [0, 30]))
    return " ".join(fields)


def _random_cases(seed: int, count: int, seconds: bool) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    cases: list[tuple[str, str, int]] = []
    while len(cases) < count:
        expr = _random_expression(rng, seconds)
        try:
            parse_schedule(expr, "UTC")
        except ScheduleError:
            continue  # e.g. day 31 in a 30-day month only; rejection is tested elsewhere
        cases.append((expr, rng.choice(ZONES), rng.randrange(1000)))
    return cases


@pytest.mark.parametrize(("expr", "zone", "pick"), _random_cases(20250330, 150, seconds=False))
def test_random_five_field_expressions_match_oracle(expr: str, zone: str, pick: int) -> None:
    windows = _windows(zone)
    _compare_with_oracle(expr, zone, windows[pick % len(windows)], timedelta(hours=26))


@pytest.mark.parametrize(("expr", "zone", "pick"), _random_cases(20251026, 25, seconds=True))
def test_random_six_field_expressions_match_oracle(expr: str, zone: str, pick: int) -> None:
    windows = _windows(zone)
    _compare_with_oracle(expr, zone, windows[pick % len(windows)], timedelta(hours=2))


def test_oracle_parses_like_the_documentation() -> None:
    """Guard against the oracle and the implementation sharing a misreading of the grammar."""
    oracle = OracleCron("0 12 * * SAT-SUN")
    assert oracle.dows == {6, 0} and oracle.either_day is False
    assert OracleCron("0 0 1 * MON/2").dows == {1, 3, 5}
    assert OracleCron("0 0 1 * */2").dows == {0, 2, 4, 6}
    assert OracleCron("0 0 1 * 7").dows == {0}
    assert OracleCron("5 0 * * * *").seconds == {5} and OracleCron("5 0 * * * *").minutes == {0}
    assert OracleCron("0 */2 * * *").fixed_time and not OracleCron("0 0-23 * * *").fixed_time


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------

DAILY = ["0 0 * * *", "30 2 * * *", "0 2 * * *", "15 1 * * *", "45 1 * * *", "30 23 * * *", "59 23 * * *",
         "0 30 2 * * *", "0 3 * * *", "30 0 * * *"]


@pytest.mark.parametrize("zone", DST_ZONES)
@pytest.mark.parametrize("expr", DAILY)
def test_daily_job_fires_exactly_once_per_local_day_for_a_year(expr: str, zone: str) -> None:
    tz = ZoneInfo(zone)
    schedule = parse_schedule(expr, zone)
    first_day, days = date(2026, 1, 1), 365
    start = datetime(2025, 12, 31, 23, 59, 59, tzinfo=tz)
    results = schedule.next_n(start, days + 1)
    local_days = [r.astimezone(tz).date() for r in results[:days]]
    assert local_days == [first_day + timedelta(days=i) for i in range(days)]
    assert results[days].astimezone(tz).date() == date(2027, 1, 1)


@pytest.mark.parametrize("zone", ZONES)
def test_results_strictly_increase_and_follow_after(zone: str) -> None:
    rng = random.Random(7)
    for expr in ("*/7 * * * *", "0 */3 * * *", "30 2 * * *", "*/13 * 1-3 * * *", "0 0 1,15 * MON", "@every 97s"):
        schedule = parse_schedule(expr, zone)
        for _ in range(20):
            after = utc(2025, 1, 1) + timedelta(seconds=rng.randrange(3 * 365 * 86400))
            results = schedule.next_n(after, 40)
            assert len(results) == 40
            assert results[0] > after
            assert all(a < b for a, b in zip(results, results[1:]))
            assert all(r.tzinfo is UTC and r.microsecond == 0 for r in results)
            # next_n is repeated next_after, and never skips a fire: asking just before each result
            # gives that result back
            assert all(schedule.next_after(r - timedelta(seconds=1)) == r for r in results)
