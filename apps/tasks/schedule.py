"""Task schedules: parse and validate cron / ``@every`` expressions and compute fire times.

This module is the single definition of *when* a task fires (DESIGN.md section 6, user documentation in
``docs/cron.md``).  It is deliberately pure: no Django, no database, no clock.  Every scheduler node calls
the same functions with the same inputs and therefore computes the same instants, which is what makes the
optimistic-lock claim (``next_execute_time`` compare-and-set) safe without any coordination.

Grammar (summary, see ``docs/cron.md``)::

    min hour dom month dow                 5 fields (Vixie/Debian cron)
    sec min hour dom month dow             6 fields, seconds FIRST (Quartz / XXL-JOB order)
    @yearly @annually @monthly @weekly @daily @midnight @hourly
    @every 1h30m                           Go-style duration, aligned to the Unix epoch
    30s  5m  1h30m                         seed 001's bare duration: the same as @every <duration>
    02:00  14:30  07:15:30                 seed 001's daily time HH:MM[:SS]: "0 2 * * *", a fixed-time job

Time zones and daylight saving time follow Debian cron's documented rule (``man 8 cron``), with the
classification DESIGN.md asks for:

* *fixed-time* jobs (the hour field does not cover all 24 hours, e.g. ``30 2 * * *``, ``0 9-17 * * *``,
  ``0 */2 * * *``) fire once at the first instant after a spring-forward gap for every local time the gap
  swallowed (several swallowed times collapse into that one fire), and only at the first occurrence of
  a local time repeated by a fall-back change;
* *wildcard* jobs (the hour field covers every hour, e.g. ``*/10 * * * *``, ``@hourly``) fire at every
  real instant whose wall-clock reading matches: twice in a repeated hour, never in a skipped one.

Implementation outline, chosen for speed (a scheduler evaluates thousands of tasks per second):

* parsing produces, per field, a small lookup table "next allowed value >= v"; day matching (including
  the day-of-month / day-of-week OR rule) is precomputed for the 28 possible month shapes (length x
  weekday of the 1st), so finding the next matching wall-clock time jumps field by field instead of
  scanning;
* the UTC time line is cut into segments of constant UTC offset.  Within a segment wall time is UTC plus
  a constant, so the next match is found in wall time and converted back exactly; the DST rule is only
  needed at segment borders.  The borders (the zone's transitions) come from ``zoneinfo`` by probing
  offsets and bisecting to the second, once per zone and UTC year, and are cached.
"""
from __future__ import annotations

import re
import threading
import zoneinfo
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Final

from django.utils.translation import gettext, gettext_lazy

__all__ = [
    "MAX_EVERY_SECONDS",
    "MAX_EXPRESSION_LENGTH",
    "Schedule",
    "ScheduleError",
    "fire_times",
    "load_timezone",
    "parse_schedule",
]

MAX_EXPRESSION_LENGTH: Final = 200
"""Longest accepted expression (after trimming); the ``task.cron_expression`` column holds 200."""

MAX_EVERY_SECONDS: Final = 366 * 86400
"""Longest ``@every`` interval (366 days); anything longer is almost certainly a typo."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_UNIX_ORDINAL: Final = date(1970, 1, 1).toordinal()  # proleptic Gregorian ordinal of the Unix epoch
_DAY: Final = 86400

# Searches stay inside years 3..9998 so that no intermediate datetime/date can overflow (zone offsets
# move wall time up to a day away from UTC).  A fire time after 9998 is reported as "never" (None).
_MIN_TS: Final = (date(3, 1, 1).toordinal() - _UNIX_ORDINAL) * _DAY
_MAX_TS: Final = (date(9999, 1, 1).toordinal() - _UNIX_ORDINAL) * _DAY
_MAX_SEARCH_STEPS: Final = 10_000  # safety net only; a valid schedule needs a handful of steps


class ScheduleError(ValueError):
    """An expression or time zone was rejected; ``str(exc)`` is the human-readable reason (API 4001)."""


# --------------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------------

# IANA names are 1-3 slash-separated components of letters, digits, '_', '+', '-' ("Etc/GMT+5",
# "America/Argentina/Buenos_Aires").  Anything else -- absolute paths, "..", backslashes, dots, spaces
# -- is refused before zoneinfo ever touches the file system.
_TZ_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9][A-Za-z0-9_+\-]*){0,2}", re.ASCII)
# Files that live in the zoneinfo directory but are not portable zone names: "localtime" is the host's
# own configuration (two nodes could disagree), "posixrules" is a zic helper, and the "posix/" and
# "right/" trees are duplicates (the latter counting leap seconds, i.e. shifted by ~27 s).
_TZ_NOT_ZONES: Final = frozenset({"localtime", "posixrules", "Factory"})
_TZ_NOT_ZONE_PREFIXES: Final = ("posix/", "right/")


@lru_cache(maxsize=1024)
def load_timezone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA zone ``name``; raise ScheduleError("unknown time zone 'X'") for anything else.

    The name is checked syntactically first so that a user-supplied string can never make zoneinfo open
    an arbitrary file; results are cached because every task evaluation needs its zone.
    """
    if not isinstance(name, str) or not name:
        raise ScheduleError(gettext("time zone is required (an IANA name such as 'Europe/Berlin')"))
    if len(name) > 64 or not _TZ_NAME_RE.fullmatch(name):
        raise ScheduleError(gettext("invalid time zone name %(name)r (expected an IANA name such as 'Europe/Berlin')")
                            % {"name": name})
    if name in _TZ_NOT_ZONES or name.startswith(_TZ_NOT_ZONE_PREFIXES):
        raise ScheduleError(gettext("unknown time zone %(name)r") % {"name": name})
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, UnicodeError):
        raise ScheduleError(gettext("unknown time zone %(name)r") % {"name": name}) from None


def _utc_offset(tz: zoneinfo.ZoneInfo, ts: int) -> int:
    """UTC offset of ``tz`` at Unix time ``ts``, in whole seconds."""
    off = datetime.fromtimestamp(ts, tz).utcoffset()
    assert off is not None  # ZoneInfo always answers for aware datetimes
    return off.days * _DAY + off.seconds


def _year_start(year: int) -> int:
    return (date(year, 1, 1).toordinal() - _UNIX_ORDINAL) * _DAY


def _year_of(ts: int) -> int:
    return date.fromordinal(ts // _DAY + _UNIX_ORDINAL).year


@dataclass(frozen=True, slots=True)
class _ZoneYear:
    """Offsets of one zone during one UTC year ``[start, end)``.

    ``times[i]`` is an instant where the offset changes from ``before[i]`` to ``after[i]``; the list covers
    ``(start, end]`` so a change exactly at New Year belongs to the year that ends there.
    """

    start: int
    end: int
    start_offset: int
    times: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]


# Probe step for finding transitions.  Since 1970 no zone in tzdata changes its offset twice within a
# week (checked over all ~600 zones), so six hours cannot step over a change and back.
_PROBE_STEP: Final = 6 * 3600


class _ZoneTable:
    """Lazily computed transition table of one zone (the segment borders used by ``_next_cron``).

    zoneinfo has no public API for listing transitions, so they are found by probing the public
    ``utcoffset`` every six hours and bisecting each change down to the second: about 1 ms per zone and
    year, once per process.  Year records are immutable and stored with a single dict assignment, so
    concurrent readers never need a lock (two threads may at worst compute the same year twice).
    """

    __slots__ = ("_tz", "_years")

    def __init__(self, tz: zoneinfo.ZoneInfo) -> None:
        self._tz = tz
        self._years: dict[int, _ZoneYear] = {}

    def year(self, year: int) -> _ZoneYear:
        rec = self._years.get(year)
        if rec is None:
            rec = self._years[year] = self._scan(year)
        return rec

    def _scan(self, year: int) -> _ZoneYear:
        tz = self._tz
        start, end = _year_start(year), _year_start(year + 1)
        prev_t, prev_off = start, _utc_offset(tz, start)
        start_offset = prev_off
        times: list[int] = []
        before: list[int] = []
        after: list[int] = []
        t = start
        while t < end:
            t = min(t + _PROBE_STEP, end)
            off = _utc_offset(tz, t)
            if off == prev_off:
                prev_t = t
                continue
            lo, hi = prev_t, t  # offset(lo) == prev_off != offset(hi): bisect to the exact second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _utc_offset(tz, mid) == prev_off:
                    lo = mid
                else:
                    hi = mid
            new_off = _utc_offset(tz, hi)
            times.append(hi)
            before.append(prev_off)
            after.append(new_off)
            prev_t, prev_off, t = hi, new_off, hi  # rescan from the change in case another follows
        return _ZoneYear(start, end, start_offset, tuple(times), tuple(before), tuple(after))

    def segment(self, ts: int) -> tuple[int, int, int, int, int]:
        """Describe the constant-offset stretch of time containing ``ts``.

        Returns ``(offset, prev_time, prev_before, prev_after, end)``: the offset at ``ts``; the latest
        transition at or before ``ts`` (looking back at most into the previous year; ``prev_time`` is a
        far-past sentinel with ``prev_before == prev_after`` when there is none); and the exclusive end of
        the stretch -- the next transition, or the end of the UTC year, which the caller treats as a
        border where nothing changes.
        """
        rec = self.year(_year_of(ts))
        i = bisect_right(rec.times, ts)
        end = rec.times[i] if i < len(rec.times) else rec.end
        if i:
            j = i - 1
            return rec.after[j], rec.times[j], rec.before[j], rec.after[j], end
        off = rec.start_offset
        prev = self.year(_year_of(rec.start - 1))
        if prev.times:
            return off, prev.times[-1], prev.before[-1], prev.after[-1], end
        return off, -(1 << 62), off, off, end


_ZONE_TABLES: dict[str, _ZoneTable] = {}
_ZONE_TABLES_LOCK: Final = threading.Lock()


def _zone_table(name: str) -> _ZoneTable:
    table = _ZONE_TABLES.get(name)
    if table is None:
        with _ZONE_TABLES_LOCK:
            table = _ZONE_TABLES.get(name)
            if table is None:
                table = _ZONE_TABLES[name] = _ZoneTable(load_timezone(name))
    return table


# --------------------------------------------------------------------------------------------------
# Cron fields
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    low: int
    high: int  # highest value produced by '*' and 'a/n'
    high_accepted: int  # highest value a user may write (7 = Sunday in day-of-week)
    names: dict[str, int] | None = None
    question_mark: bool = False  # Quartz '?' allowed (means '*')


_MONTH_NAMES: Final = {n: i + 1 for i, n in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_DAY_NAMES: Final = {n: i for i, n in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}

_SECOND: Final = _FieldSpec("second", 0, 59, 59)
_MINUTE: Final = _FieldSpec("minute", 0, 59, 59)
_HOUR: Final = _FieldSpec("hour", 0, 23, 23)
_DOM: Final = _FieldSpec("day-of-month", 1, 31, 31, question_mark=True)
_MONTH: Final = _FieldSpec("month", 1, 12, 12, names=_MONTH_NAMES)
_DOW: Final = _FieldSpec("day-of-week", 0, 6, 7, names=_DAY_NAMES, question_mark=True)

_DIGITS_RE: Final = re.compile(r"[0-9]+", re.ASCII)
_QUARTZ_EXTENSION_RE: Final = re.compile(r"L|LW|L-[0-9]+|[0-9]+[LW]|[A-Z]{3}L", re.ASCII)


_FIELD_LABELS: Final = {"second": gettext_lazy("second"), "minute": gettext_lazy("minute"),
                         "hour": gettext_lazy("hour"), "day-of-month": gettext_lazy("day-of-month"),
                         "month": gettext_lazy("month"), "day-of-week": gettext_lazy("day-of-week")}


def _field_error(spec: _FieldSpec, problem: str) -> ScheduleError:
    return ScheduleError(gettext("%(name)s field: %(problem)s")
                         % {"name": _FIELD_LABELS.get(spec.name, spec.name), "problem": problem})


def _field_value(spec: _FieldSpec, token: str) -> int:
    """One number or name of a field, range-checked."""
    if _DIGITS_RE.fullmatch(token):
        value = int(token)
        if not spec.low <= value <= spec.high_accepted:
            raise _field_error(spec, gettext("%(value)s is out of range %(low)s-%(high_accepted)s")
                                     % {"value": value, "low": spec.low, "high_accepted": spec.high_accepted})
        return value
    upper = token.upper()
    if spec.names is not None and upper in spec.names:
        return spec.names[upper]
    if "#" in token:
        raise _field_error(spec, gettext("'%(token)s': Quartz '#' (nth weekday of the month) is not supported")
                                 % {"token": token})
    if spec.question_mark and _QUARTZ_EXTENSION_RE.fullmatch(upper):
        raise _field_error(spec, gettext("'%(token)s': Quartz 'L'/'W' (last day, nearest weekday) is not supported")
                                 % {"token": token})
    if token == "":
        raise _field_error(spec, gettext("missing value"))
    if spec.names is _MONTH_NAMES:
        raise _field_error(spec, gettext("'%(token)s' is not a month (1-12 or JAN-DEC)") % {"token": token})
    if spec.names is _DAY_NAMES:
        raise _field_error(spec, gettext("'%(token)s' is not a day of the week (0-7 or SUN-SAT)") % {"token": token})
    if token.startswith(("-", "+")):
        raise _field_error(spec, gettext("'%(token)s' is not a number (signs are not allowed)") % {"token": token})
    raise _field_error(spec, gettext("'%(token)s' is not a number") % {"token": token})


def _parse_field(spec: _FieldSpec, text: str) -> tuple[frozenset[int], bool]:
    """Parse one field into its set of allowed values plus its "starts with *" flag.

    The flag implements the Vixie/Debian day rule: crontab(5) says day-of-month and day-of-week are
    "restricted" when they do not start with '*', so ``*/2`` counts as unrestricted there.
    """
    if text == "?":
        if not spec.question_mark:
            raise _field_error(spec, gettext("'?' is only allowed in the day-of-month and day-of-week fields"))
        return frozenset(range(spec.low, spec.high + 1)), True
    if "?" in text:
        if not spec.question_mark:
            raise _field_error(spec, gettext("'?' is only allowed in the day-of-month and day-of-week fields"))
        raise _field_error(spec, gettext("'?' must stand alone (it means 'any')"))
    span = spec.high - spec.low + 1
    items = text.split(",")
    values: set[int] = set()
    for item in items:
        if item == "":
            raise _field_error(spec, gettext("empty list item in '%(text)s'") % {"text": text})
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if step_text == "":
                raise _field_error(spec, gettext("missing step after '/' in '%(item)s'") % {"item": item})
            if "/" in step_text:
                raise _field_error(spec, gettext("invalid item '%(item)s' (more than one '/')") % {"item": item})
            if not _DIGITS_RE.fullmatch(step_text):
                raise _field_error(spec, gettext("step '%(step_text)s' is not a number") % {"step_text": step_text})
            step = int(step_text)
            if not 1 <= step <= span:
                raise _field_error(spec, gettext("step %(step)s is out of range 1-%(span)s")
                                         % {"step": step, "span": span})
        if base == "*":
            if not slash and len(items) > 1:
                raise _field_error(spec, gettext("'*' cannot be combined with other values in a list"))
            first, last = spec.low, spec.high
        elif "-" in base.lstrip("-+"):
            start_text, _, end_text = base.partition("-")
            if start_text == "" or end_text == "" or "-" in end_text:
                raise _field_error(spec, gettext("invalid range '%(base)s'") % {"base": base})
            first, last = _field_value(spec, start_text), _field_value(spec, end_text)
            if spec is _DOW and last == 0 and first > 0:
                last = 7  # 'SAT-SUN', 'FRI-0': Sunday at the end of a range means 7
            if first > last:
                raise _field_error(spec, gettext("range '%(base)s' is reversed (start is after end)") % {"base": base})
        else:
            first = _field_value(spec, base)
            last = max(spec.high, first) if slash else first
        values.update(range(first, last + 1, step))
    if spec is _DOW and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values), text.startswith("*")


def _next_table(values: frozenset[int], size: int) -> tuple[int, ...]:
    """``table[v]`` = smallest allowed value >= v, or -1; index ``size`` is a -1 sentinel for carries."""
    table = [-1] * (size + 1)
    nxt = -1
    for v in range(size - 1, -1, -1):
        if v in values:
            nxt = v
        table[v] = nxt
    return tuple(table)


def _cyclic_min_gap(values: list[int], period: int) -> int:
    """Smallest distance between consecutive sorted ``values`` when the sequence wraps every ``period``."""
    gaps = [b - a for a, b in zip(values, values[1:])]
    gaps.append(period - values[-1] + values[0])
    return min(gaps)


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


_MONTH_MAX_LENGTH: Final = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_LABEL: Final = ("", gettext_lazy("January"), gettext_lazy("February"), gettext_lazy("March"),
                       gettext_lazy("April"), gettext_lazy("May"), gettext_lazy("June"), gettext_lazy("July"),
                       gettext_lazy("August"), gettext_lazy("September"), gettext_lazy("October"),
                       gettext_lazy("November"), gettext_lazy("December"))


@lru_cache(maxsize=1024)
def _day_table(doms: frozenset[int], dom_star: bool, dows: frozenset[int],
               dow_star: bool) -> dict[tuple[int, int], tuple[int, ...]]:
    """Matching days for each month shape: ``(length, weekday of the 1st, 0 = Sunday) -> days``.

    Day matching depends only on those two numbers, so 4 x 7 precomputed tuples replace any per-day
    work at search time.  Vixie/Debian rule: when both fields are restricted (neither starts with '*'),
    a day matches if EITHER matches; otherwise both must.  Cached: most tasks share '* *' or similar.
    Callers must not mutate the returned dict.
    """
    either = not (dom_star or dow_star)
    table: dict[tuple[int, int], tuple[int, ...]] = {}
    for length in (28, 29, 30, 31):
        for first_weekday in range(7):
            matching = []
            for day in range(1, length + 1):
                dom_ok, dow_ok = day in doms, (first_weekday + day - 1) % 7 in dows
                if (dom_ok or dow_ok) if either else (dom_ok and dow_ok):
                    matching.append(day)
            table[(length, first_weekday)] = tuple(matching)
    return table


class _Cron:
    """A compiled cron expression: lookup tables for jumping to the next matching wall-clock time.

    Wall-clock times are handled as "local epoch seconds" (seconds since 1970-01-01 00:00 on the local
    calendar), so the search is pure integer arithmetic plus C-implemented ``date`` conversions.
    Instances are immutable after construction and shared between identical expressions.
    """

    __slots__ = ("fixed_time", "granularity", "_next_second", "_next_minute", "_next_hour", "_next_month",
                 "_first_month", "_days")

    def __init__(self, seconds: frozenset[int], minutes: frozenset[int], hours: frozenset[int],
                 doms: frozenset[int], dom_star: bool, months: frozenset[int], dows: frozenset[int],
                 dow_star: bool) -> None:
        # DESIGN.md: "jobs with a specific hour (granularity above one hour)" are fixed-time; only an
        # hour field that covers every hour ('*', '*/1', '0-23') makes a wildcard job.
        self.fixed_time = len(hours) < 24
        self._next_second = _next_table(seconds, 60)
        self._next_minute = _next_table(minutes, 60)
        self._next_hour = _next_table(hours, 24)
        self._next_month = _next_table(months, 13)
        self._first_month = min(months)
        days = _day_table(doms, dom_star, dows, dow_star)
        self._days = days
        # Every (month, weekday of the 1st) combination recurs, Feb 29 included, so the expression can
        # fire iff some allowed month, at its longest, has a matching day for some weekday of its 1st.
        impossible = [m for m in sorted(months) if not any(days[(_MONTH_MAX_LENGTH[m], w)] for w in range(7))]
        if len(impossible) == len(months):
            names = (gettext(" or ").join(str(_MONTH_LABEL[m]) for m in impossible) if len(impossible) <= 3
                     else gettext("any allowed month"))
            listed = ",".join(str(d) for d in sorted(doms))
            raise ScheduleError(gettext("never fires: day-of-month %(listed)s does not exist in %(names)s")
                                % {"listed": listed, "names": names})
        self.granularity = self._granularity(sorted(seconds), sorted(minutes), sorted(hours))

    @staticmethod
    def _granularity(seconds: list[int], minutes: list[int], hours: list[int]) -> int:
        """Smallest nominal gap between consecutive fires, exact when consecutive days both match.

        Fire times within a day are ordered by (hour, minute, second); consecutive fires either share
        (hour, minute) -- a gap between consecutive seconds -- or move to the next allowed (hour, minute)
        pair, which costs that pair's distance minus the spread of the seconds.  Same one level up.
        """
        hm_gap = _cyclic_min_gap(hours, 24) * 60 + minutes[0] - minutes[-1]
        if len(minutes) > 1:
            hm_gap = min(hm_gap, min(b - a for a, b in zip(minutes, minutes[1:])))
        gap = hm_gap * 60 + seconds[0] - seconds[-1]
        if len(seconds) > 1:
            gap = min(gap, min(b - a for a, b in zip(seconds, seconds[1:])))
        return gap

    def match(self, lo: int, hi: int) -> int | None:
        """Smallest matching wall time ``w`` with ``lo <= w < hi``, or None.

        Classic carry-propagating search: fix the month, then the day, hour, minute and second, each by
        table lookup; a field that has no allowed value left resets the finer fields and carries into
        the coarser one.  Each loop iteration advances at least one day or month, so it is short.
        """
        if lo >= hi:
            return None
        days_since_epoch, sod = divmod(lo, _DAY)
        d0 = date.fromordinal(days_since_epoch + _UNIX_ORDINAL)
        year, month, day = d0.year, d0.month, d0.day
        hour, rest = divmod(sod, 3600)
        minute, second = divmod(rest, 60)
        next_month, next_hour = self._next_month, self._next_hour
        next_minute, next_second = self._next_minute, self._next_second
        while True:
            nm = next_month[month]
            if nm != month:
                if nm < 0:
                    year, month = year + 1, self._first_month
                else:
                    month = nm
                day, hour, minute, second = 1, 0, 0, 0
            if year > 9998:
                return None
            first_ordinal = date(year, month, 1).toordinal()
            if (first_ordinal - _UNIX_ORDINAL + day - 1) * _DAY >= hi:
                return None
            allowed = self._days[(_month_length(year, month), first_ordinal % 7)]
            i = bisect_left(allowed, day)
            if i == len(allowed):
                month += 1
                if month == 13:
                    year, month = year + 1, 1
                day, hour, minute, second = 1, 0, 0, 0
                continue
            if allowed[i] != day:
                day, hour, minute, second = allowed[i], 0, 0, 0
            nh = next_hour[hour]
            if nh < 0:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if nh != hour:
                hour, minute, second = nh, 0, 0
            nmin = next_minute[minute]
            if nmin < 0:
                hour, minute, second = hour + 1, 0, 0
                continue
            if nmin != minute:
                minute, second = nmin, 0
            ns = next_second[second]
            if ns < 0:
                minute, second = minute + 1, 0
                continue
            wall = (first_ordinal - _UNIX_ORDINAL + day - 1) * _DAY + hour * 3600 + minute * 60 + ns
            return wall if wall < hi else None


def _next_cron(cron: _Cron, zone: _ZoneTable, start: int) -> int | None:
    """First fire instant (Unix seconds) ``>= start`` of ``cron`` in ``zone``, applying the DST rule.

    Walks the constant-offset segments of the zone.  Within a segment the next matching wall time ``w``
    fires at ``w - offset``.  At a border:

    * spring forward (offset grows) -- the skipped wall times ``[T+before, T+after)`` exist nowhere; a
      fixed-time job with any match among them fires once at ``T``, the first instant after the gap;
    * fall back (offset shrinks) -- wall times ``[T+after, T+before)`` come round again after ``T``; a
      fixed-time job already had them before ``T``, so its search resumes at ``T+before`` instead.

    Wildcard jobs need neither rule: they fire whenever the wall clock matches.
    """
    fixed = cron.fixed_time
    t = max(start, _MIN_TS)
    for _ in range(_MAX_SEARCH_STEPS):
        if t >= _MAX_TS:
            return None
        off, prev_t, prev_before, prev_after, end = zone.segment(t)
        lo = t + off
        if fixed:
            if prev_t == t and prev_after > prev_before \
                    and cron.match(t + prev_before, t + prev_after) is not None:
                return t  # a local time of this job was skipped by the gap that starts at t
            if prev_before > prev_after and lo < prev_t + prev_before:
                lo = prev_t + prev_before  # inside a repeated stretch: its first occurrence is past
        wall = cron.match(lo, end + off)
        if wall is not None:
            return wall - off
        # Nothing in this segment.  Jump ahead to the next calendar match (ignoring zones) instead of
        # walking segment by segment through years of nothing, e.g. "0 0 29 2 *".  Instants more than
        # a day before that wall time read an earlier wall time in every zone (|offset| < 1 day), so
        # nothing in between can fire.
        wall = cron.match(end + off - _DAY, _MAX_TS)
        if wall is None:
            return None
        t = max(end, wall - 2 * _DAY)
    return None


# --------------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------------

_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MACRO_LIST: Final = gettext_lazy("@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every "
                                   "<duration>")

_DURATION_PART_RE: Final = re.compile(r"([0-9]*\.?[0-9]*)([^0-9.]*)", re.ASCII)
_DURATION_UNITS: Final = {"h": 3600, "m": 60, "s": 1}
_SUBSECOND_UNITS: Final = frozenset({"ms", "us", "ns"})


def _parse_duration(text: str, what: str = gettext_lazy("@every duration")) -> int:
    """Parse a Go ``time.ParseDuration`` string restricted to whole seconds, e.g. ``1h30m`` -> 5400.

    ``what`` names the form in messages: ``@every duration`` after the macro, ``duration`` for seed 001's
    bare form (``30s``), so the reason reads like what the user typed."""
    example = gettext("e.g. 30s, 5m, 1h30m")
    if text.startswith("-"):
        raise ScheduleError(gettext("%(what)s '%(text)s' is negative; it must be at least 1s")
                            % {"what": what, "text": text})
    if text.startswith("+"):
        text = text[1:]
    if text == "0":
        raise ScheduleError(gettext("%(what)s must be at least 1s") % {"what": what})
    total = Fraction(0)
    pos = 0
    while pos < len(text):
        m = _DURATION_PART_RE.match(text, pos)
        assert m is not None  # the pattern can match the empty string
        number, unit = m.group(1), m.group(2)
        if number in ("", ".") or (unit and not unit.isalpha()):  # '1h-3m', '5m/2': not a duration at all
            raise ScheduleError(gettext("invalid %(what)s '%(text)s' (%(example)s)")
                                % {"what": what, "text": text, "example": example})
        if unit == "":
            raise ScheduleError(gettext("invalid %(what)s '%(text)s': missing unit after %(number)s (use h, m or s)")
                                % {"what": what, "text": text, "number": number})
        if unit in _SUBSECOND_UNITS:
            raise ScheduleError(gettext("invalid %(what)s '%(text)s': units below a second (%(unit)s) are not "
                                        "supported")
                                % {"what": what, "text": text, "unit": unit})
        if unit not in _DURATION_UNITS:
            hint = gettext(" (24h for a day)") if unit in ("d", "D") else ""
            raise ScheduleError(gettext("invalid %(what)s '%(text)s': unknown unit '%(unit)s'; use h, m or s%(hint)s")
                                % {"what": what, "text": text, "unit": unit, "hint": hint})
        total += Fraction(number) * _DURATION_UNITS[unit]
        if total > MAX_EVERY_SECONDS:
            raise ScheduleError(gettext("%(what)s '%(text)s' is longer than the maximum of 366 days (8784h)")
                                % {"what": what, "text": text})
        pos = m.end()
    if total.denominator != 1:
        raise ScheduleError(gettext("%(what)s '%(text)s' is not a whole number of seconds")
                            % {"what": what, "text": text})
    seconds = int(total)
    if seconds < 1:
        raise ScheduleError(gettext("%(what)s must be at least 1s") % {"what": what})
    return seconds


_DAILY_TIME_RE: Final = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?", re.ASCII)
_DAILY_TIME_FORMAT: Final = gettext_lazy("use HH:MM (e.g. 02:00, 14:30) or HH:MM:SS")
_BARE_DURATION_START: Final = frozenset("0123456789.+-")


def _parse_daily_time(text: str) -> _Cron:
    """Seed 001's daily time ``HH:MM[:SS]`` (gocron ``Every(1).Day().At("02:00")``) as the cron job
    ``SS MM HH * * *``: a fixed-time job, so the DST rule of DESIGN §6 applies exactly as to ``0 2 * * *``
    (a time skipped by spring-forward fires at the first instant after the gap, a repeated one once)."""
    m = _DAILY_TIME_RE.fullmatch(text)
    if m is None:
        raise ScheduleError(gettext("invalid daily time '%(text)s': %(daily_time_format)s")
                            % {"text": text, "daily_time_format": _DAILY_TIME_FORMAT})
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if hour > 23:
        hint = gettext(" (use 00:00)") if (hour, minute, second) == (24, 0, 0) else ""
        raise ScheduleError(gettext("daily time '%(text)s': hour %(hour)s is out of range 0-23%(hint)s")
                            % {"text": text, "hour": hour, "hint": hint})
    if minute > 59:
        raise ScheduleError(gettext("daily time '%(text)s': minute %(minute)s is out of range 0-59")
                            % {"text": text, "minute": minute})
    if second > 59:
        raise ScheduleError(gettext("daily time '%(text)s': second %(second)s is out of range 0-59")
                            % {"text": text, "second": second})
    every_day = frozenset(range(1, 32))
    return _Cron(frozenset({second}), frozenset({minute}), frozenset({hour}), every_day, True,
                 frozenset(range(1, 13)), frozenset(range(7)), True)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The zone-independent result of parsing: a cron matcher (also for a daily time) or an ``@every``
    interval (also for a bare duration)."""

    cron: _Cron | None
    every: int  # seconds; 0 for cron


@lru_cache(maxsize=4096)
def _compile(normalized: str) -> _Compiled:
    """Parse a whitespace-normalized expression; cached so identical expressions share one matcher."""
    if normalized.startswith("@"):
        word, _, argument = normalized.partition(" ")
        lowered = word.lower()
        if lowered == "@every":
            if not argument:
                raise ScheduleError(gettext("@every needs a duration, e.g. @every 30s, @every 5m, @every 1h30m"))
            if " " in argument:
                raise ScheduleError(gettext("invalid @every duration '%(argument)s': no spaces allowed (e.g. 1h30m)")
                                    % {"argument": argument})
            return _Compiled(None, _parse_duration(argument))
        if lowered == "@reboot":
            raise ScheduleError(gettext("@reboot is not supported: DJS tasks fire at times, not at start-up "
                                "(use a manual trigger instead)"))
        if lowered not in _MACROS:
            raise ScheduleError(gettext("unknown macro '%(word)s'; expected %(macro_list)s")
                                % {"word": word, "macro_list": _MACRO_LIST})
        if argument:
            raise ScheduleError(gettext("%(lowered)s takes no arguments") % {"lowered": lowered})
        normalized = _MACROS[lowered]
    fields = normalized.split(" ")
    if len(fields) == 1:  # seed 001's short forms: "02:00" (daily time) and "30s" (bare duration)
        if ":" in normalized:
            return _Compiled(_parse_daily_time(normalized), 0)
        if normalized[0] in _BARE_DURATION_START:
            return _Compiled(None, _parse_duration(normalized, gettext("duration")))
    if len(fields) == 5:
        fields.insert(0, "0")
    elif len(fields) != 6:
        extra = gettext(" (a Quartz year field is not supported)") if len(fields) == 7 else ""
        if len(fields) == 1:
            extra = gettext(" (or a duration such as 30s, a daily time such as 02:00, or a macro such as @daily)")
        raise ScheduleError(gettext("expected 5 fields (minute hour day-of-month month day-of-week) or 6 with "
                                    "seconds first, got %(fields_count)s%(extra)s")
                            % {"fields_count": len(fields), "extra": extra})
    seconds, _ = _parse_field(_SECOND, fields[0])
    minutes, _ = _parse_field(_MINUTE, fields[1])
    hours, _ = _parse_field(_HOUR, fields[2])
    doms, dom_star = _parse_field(_DOM, fields[3])
    months, _ = _parse_field(_MONTH, fields[4])
    dows, dow_star = _parse_field(_DOW, fields[5])
    return _Compiled(_Cron(seconds, minutes, hours, doms, dom_star, months, dows, dow_star), 0)


def _normalize(expression: object) -> str:
    if not isinstance(expression, str):
        raise ScheduleError(gettext("expression must be a string"))
    text = expression.strip()
    if not text:
        raise ScheduleError(gettext("expression is empty"))
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ScheduleError(gettext("expression is longer than %(max_expression_length)s characters")
                            % {"max_expression_length": MAX_EXPRESSION_LENGTH})
    for ch in text:
        if not (" " <= ch <= "~" or ch == "\t"):
            raise ScheduleError(gettext("expression contains an invalid character %(ch)r") % {"ch": ch})
    return " ".join(text.split())


def _to_epoch(moment: datetime) -> int:
    """Whole Unix seconds of an aware datetime, rounded down (exact integer arithmetic, no float)."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    delta = moment - _EPOCH
    return delta.days * _DAY + delta.seconds


def _from_epoch(ts: int) -> datetime:
    return _EPOCH + timedelta(seconds=ts)


@dataclass(frozen=True)
class Schedule:
    """A validated schedule bound to a time zone.

    Construct it with :func:`parse_schedule` (or directly -- the constructor validates too).
    ``expression`` is stored whitespace-normalized (trimmed, single spaces), so it is the canonical form
    to persist; equality and hashing use ``expression`` and ``timezone`` only.  Short forms stay as typed:
    ``Schedule("30s", tz).expression == "30s"`` (it fires like ``@every 30s`` but is not rewritten, so a
    user sees the form they wrote).
    """

    expression: str
    timezone: str
    _compiled: _Compiled = field(init=False, repr=False, compare=False)
    _zone: _ZoneTable | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        normalized = _normalize(self.expression)
        compiled = _compile(normalized)
        load_timezone(self.timezone)  # validated even for @every, which ignores it
        object.__setattr__(self, "expression", normalized)
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_zone", _zone_table(self.timezone) if compiled.cron else None)

    def __reduce__(self) -> tuple[type[Schedule], tuple[str, str]]:
        """Pickle as (expression, timezone): the compiled parts are caches, rebuilt on load."""
        return (Schedule, (self.expression, self.timezone))

    @property
    def granularity_seconds(self) -> int:
        """Smallest nominal gap between two consecutive fires, in seconds.

        The ``@every`` interval, or for cron the smallest wall-clock distance between consecutive
        matching times (1 for ``* * * * * *``, 60 for ``* * * * *``, 3600 for ``@hourly``, 86400 for a
        daily job).  Used for misfire and look-ahead decisions.  It is exact when consecutive days both
        match (else a lower bound) and ignores DST: collapsing a spring-forward gap can bring one fire
        closer to the next (``30 2,3 * * *`` fires 03:00 and 03:30 CEST on that day).
        """
        compiled = self._compiled
        return compiled.every if compiled.cron is None else compiled.cron.granularity

    def next_after(self, after: datetime) -> datetime | None:
        """First fire instant strictly after ``after`` (aware, any zone) as an aware UTC datetime.

        Sub-second parts of ``after`` are ignored (fires are whole seconds).  Returns None only when no
        fire exists before the year 9999.
        """
        ts = self._next_ts(_to_epoch(after) + 1)
        return None if ts is None else _from_epoch(ts)

    def next_n(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire instants after ``after`` (fewer only if the schedule runs out)."""
        if count < 0:
            raise ValueError("count must not be negative")
        out: list[datetime] = []
        ts: int | None = _to_epoch(after)
        while len(out) < count:
            assert ts is not None
            ts = self._next_ts(ts + 1)
            if ts is None:
                break
            out.append(_from_epoch(ts))
        return out

    def _next_ts(self, start: int) -> int | None:
        """First fire instant (Unix seconds) at or after ``start``."""
        compiled = self._compiled
        if compiled.cron is None:
            interval = compiled.every
            ts = -(-start // interval) * interval  # epoch-aligned: every node agrees without shared state
            return ts if ts < _MAX_TS else None
        assert self._zone is not None
        return _next_cron(compiled.cron, self._zone, start)


def parse_schedule(expression: str, timezone: str) -> Schedule:
    """Validate ``expression`` in IANA zone ``timezone`` up front; ScheduleError carries the reason."""
    return Schedule(expression, timezone)


def fire_times(fires: list[datetime], timezone: str) -> list[dict[str, str]]:
    """Fire instants as every preview shows them (``GET /tasks/cron/preview``, the MCP task context):
    ``{"local": ISO-8601 in the zone, with its offset, "utc": ISO-8601 UTC with Z}``."""
    zone = load_timezone(timezone)
    return [{"local": fire.astimezone(zone).isoformat(),
             "utc": fire.astimezone(UTC).isoformat().replace("+00:00", "Z")} for fire in fires]
