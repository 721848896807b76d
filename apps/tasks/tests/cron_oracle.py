"""A deliberately naive reference implementation of DJS schedules, used only by the tests.

It shares no code and no strategy with ``apps/tasks/schedule.py``: instead of jumping between matching
field values and reasoning about offset segments, it walks every real instant (every minute for 5-field
expressions, every second for 6-field ones) through a time window, asks ``zoneinfo`` what the wall clock
reads at that instant, checks the reading against value sets expanded by brute force, and applies the
Debian DST rule literally while it walks:

* a *wildcard* job (hour field covering all 24 hours) fires at every instant whose reading matches;
* a *fixed-time* job fires only when the clock shows a reading it has never shown before (so a repeated
  fall-back hour does not fire again), and when the clock jumps forward it fires at the first instant
  after the jump if any reading that was jumped over would have matched.

It is slow on purpose (tens of thousands of zoneinfo conversions per window) and only accepts
expressions that ``schedule.py`` accepts; it does no validation of its own.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
# Lead time walked before the window so the "highest reading so far" is known inside a repeated hour.
_LEAD = 3 * 3600


def _number(token: str, kind: str) -> int:
    token = token.upper()
    if kind == "month" and token in _MONTHS:
        return _MONTHS.index(token) + 1
    if kind == "dow" and token in _DAYS:
        return _DAYS.index(token)
    return int(token)


def _item_allows(item: str, value: int, low: int, high: int, kind: str) -> bool:
    """Does one comma-separated item (``*``, ``a``, ``a-b``, with optional ``/n``) allow ``value``?"""
    step = 1
    if "/" in item:
        item, step_text = item.split("/")
        step = int(step_text)
        if item != "*" and "-" not in item:
            start = _number(item, kind)
            return value >= start and (value - start) % step == 0
    if item == "*":
        return (value - low) % step == 0
    if "-" in item:
        a_text, b_text = item.split("-")
        a, b = _number(a_text, kind), _number(b_text, kind)
        if kind == "dow" and b == 0 and a > 0:
            b = 7
        return a <= value <= b and (value - a) % step == 0
    return value == _number(item, kind)


def _allowed(text: str, low: int, high: int, kind: str) -> frozenset[int]:
    """Every value of the field for which some list item says yes (brute force over the whole range)."""
    if text == "?":
        text = "*"
    top = 7 if kind == "dow" else high  # day-of-week also accepts 7 (Sunday)
    result = set()
    for value in range(low, top + 1):
        for item in text.split(","):
            # '*' and 'a/n' run to 6 in day-of-week; only an explicit 7 or a range ending in 7/0 means 7
            if kind == "dow" and value == 7 and (item.startswith("*") or ("/" in item and "-" not in item
                                                                          and _number(item.split("/")[0], kind) != 7)):
                continue
            if _item_allows(item, value, low, high, kind):
                result.add(0 if (kind == "dow" and value == 7) else value)
    return frozenset(result)


class OracleCron:
    """Brute-force matcher for one cron expression (after macro expansion)."""

    def __init__(self, expression: str):
        text = " ".join(expression.split())
        text = _MACROS.get(text.lower(), text)
        parts = text.split(" ")
        self.has_seconds = len(parts) == 6
        if not self.has_seconds:
            parts = ["0"] + parts
        sec, minute, hour, dom, month, dow = parts
        self.seconds = _allowed(sec, 0, 59, "sec")
        self.minutes = _allowed(minute, 0, 59, "min")
        self.hours = _allowed(hour, 0, 23, "hour")
        self.doms = _allowed(dom, 1, 31, "dom")
        self.months = _allowed(month, 1, 12, "month")
        self.dows = _allowed(dow, 0, 6, "dow")
        # crontab(5): the fields are "restricted" unless they start with '*'; Quartz '?' means any.
        dom_free = dom.startswith("*") or dom == "?"
        dow_free = dow.startswith("*") or dow == "?"
        self.either_day = not dom_free and not dow_free
        self.fixed_time = self.hours != frozenset(range(24))

    def matches(self, wall: datetime) -> bool:
        if wall.second not in self.seconds or wall.minute not in self.minutes:
            return False
        if wall.hour not in self.hours or wall.month not in self.months:
            return False
        dom_ok = wall.day in self.doms
        dow_ok = wall.isoweekday() % 7 in self.dows
        return (dom_ok or dow_ok) if self.either_day else (dom_ok and dow_ok)


@lru_cache(maxsize=512)
def _timeline(tz_name: str, first: int, last: int, step: int) -> tuple[tuple[int, datetime], ...]:
    """(instant, naive wall-clock reading) for every ``step`` seconds of [first, last]; shared by tests."""
    tz = ZoneInfo(tz_name)
    return tuple((t, datetime.fromtimestamp(t, tz).replace(tzinfo=None)) for t in range(first, last + 1, step))


def _ts(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 1)


def oracle_fires(expression: str, tz_name: str, start: datetime, end: datetime) -> list[datetime]:
    """All fire instants ``t`` with ``start < t <= end`` (aware UTC datetimes), by brute force."""
    first_word = expression.split()[0].lower()
    s, e = _ts(start), _ts(end)
    if first_word == "@every":
        interval = _every_seconds(expression.split()[1])
        return [datetime.fromtimestamp(t, UTC) for t in range(s + 1, e + 1) if t % interval == 0]
    cron = OracleCron(expression)
    step = 1 if cron.has_seconds else 60
    first = (s - _LEAD) // step * step
    one_step = timedelta(seconds=step)
    fires: list[int] = []
    highest: datetime | None = None
    for t, wall in _timeline(tz_name, first, e, step):
        if not cron.fixed_time:
            fire = cron.matches(wall)
        elif highest is not None and wall <= highest:
            fire = False  # the clock was turned back: this reading was already shown once
        else:
            fire = cron.matches(wall)
            if highest is not None and wall - highest > one_step:  # the clock jumped forward
                skipped = highest + one_step
                while not fire and skipped < wall:
                    fire = cron.matches(skipped)
                    skipped += one_step
            highest = wall
        if fire and t > s:
            fires.append(t)
    return [datetime.fromtimestamp(t, UTC) for t in fires]


def _every_seconds(text: str) -> int:
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
    return total


def transitions(tz_name: str, year: int) -> list[tuple[datetime, str]]:
    """UTC instants in ``year`` where the zone's offset changes, with 'spring' or 'fall' (hourly probe)."""
    tz = ZoneInfo(tz_name)
    found: list[tuple[datetime, str]] = []
    t = _ts(datetime(year, 1, 1, tzinfo=UTC))
    end = _ts(datetime(year + 1, 1, 1, tzinfo=UTC))
    previous = datetime.fromtimestamp(t, tz).utcoffset()
    while t < end:
        t += 1800
        offset = datetime.fromtimestamp(t, tz).utcoffset()
        if offset != previous:
            exact = t - 1800
            while datetime.fromtimestamp(exact, tz).utcoffset() == previous:
                exact += 60
            assert previous is not None and offset is not None
            found.append((datetime.fromtimestamp(exact, UTC), "spring" if offset > previous else "fall"))
            previous = offset
    return found
