"""Record rollups: what the dashboard and every summary read instead of scanning a month of raw rows.

Four grains (``RollupGrain``): department x local day, task x month, task x local day, department x month. A cell holds, per
(final status x trigger type), the number of executions and their cost sum and count (``RollupCount``), and a
cost histogram (``RollupCost``) from which p95 is read within 5 % or 1 ms, whichever is larger. Day = the
platform-zone date of ``scheduled_time`` (the instant that picks the month table), so a day never straddles
two month tables.

The one rule for writing them: every statement that makes a record final adds to the rollups in the same
transaction, counting only the rows it actually changed (:func:`add`; the result writer and recovery call
it). Running and waiting counts are not rolled up: they come from the live records (few rows, indexed).

A month whose rollups are incomplete (tables that existed before rollups, state ``unbuilt``) is read from the
raw rows until ``manage.py rebuild_rollups`` has built it (:func:`rebuild_month`).
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from calendar import monthrange
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, connections, router, transaction
from django.db.models import Case, Count, IntegerField, Max, Sum, Value, When

from apps.records import sqlrows
from apps.records.models import (
    FINAL_STATUSES,
    RecordStatus,
    RollupCost,
    RollupCount,
    RollupGrain,
    RollupMonth,
    existing_record_tables,
    record_model,
    table_name,
)

#: Costs below this many milliseconds have a bucket each (exact); above, buckets are 5 % wide.
EXACT_BELOW_MS = 20
GROWTH = 1.05


def bucket_of(cost_ms: int) -> int:
    """The histogram bucket of a cost: exact below 20 ms, then ``[20 * 1.05**k, 20 * 1.05**(k+1))``."""
    cost = max(0, int(cost_ms))
    if cost < EXACT_BELOW_MS:
        return cost
    return EXACT_BELOW_MS + int(math.log(cost / EXACT_BELOW_MS) / math.log(GROWTH) + 1e-9)


def bucket_value(bucket: int) -> int:
    """The cost a bucket stands for: itself below 20 ms, else the geometric middle of its range (every cost
    in the bucket is within 2.5 % of it)."""
    if bucket < EXACT_BELOW_MS:
        return bucket
    return round(EXACT_BELOW_MS * GROWTH ** (bucket - EXACT_BELOW_MS + 0.5))


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def month_key(year: int, month: int) -> int:
    return year * 100 + month


@dataclass(frozen=True)
class Finished:
    """A record that a statement has just made final (what :func:`add` counts)."""

    department_id: int
    task_id: int
    task_name: str
    scheduled_time: datetime
    status: int
    trigger_type: str
    cost_time: int | None
    task_type: str


# --- writing ------------------------------------------------------------------------------------------------

def lock_months_shared(months: Iterable[tuple[int, int]]) -> None:
    """Take the months' lock rows in share mode until the transaction ends: a rebuild (exclusive) of one of
    them waits for this writer, and this writer waits for a running rebuild. SQLite has one writer at a time,
    which serialises the two already."""
    keys = sorted({month_key(y, m) for y, m in months})
    if not keys or connection.vendor != "mysql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT month FROM record_rollup_month WHERE month IN ({', '.join(['%s'] * len(keys))}) "
                       "LOCK IN SHARE MODE", keys)


def add(rows: Iterable[Finished]) -> None:
    """Add finished executions to the rollups of every grain. Call inside the transaction of the
    statement that made them final, with only the rows it changed."""
    cells = Cells()
    days: dict[datetime, date] = {}  # the fires of a flush share a few instants
    for row in rows:
        if row.status in FINAL_STATUSES:
            day = days.get(row.scheduled_time)
            if day is None:
                day = days[row.scheduled_time] = local_day(row.scheduled_time)
            cells.add(row.department_id, row.task_id, row.task_name, day, int(row.status),
                      row.trigger_type, row.task_type, row.cost_time)
    cells.write()


_DEPARTMENT_DAY, _TASK_MONTH, _TASK_DAY, _DEPARTMENT_MONTH = (int(grain) for grain in (
    RollupGrain.DEPARTMENT_DAY, RollupGrain.TASK_MONTH, RollupGrain.TASK_DAY, RollupGrain.DEPARTMENT_MONTH))


class Cells:
    """Rollup increments being gathered: every execution adds to its four cells (and their histograms); the
    cells of a flush go in the same two upserts whatever the number of grains."""

    def __init__(self) -> None:
        self.counts: dict[tuple, list] = {}
        self.costs: dict[tuple, int] = defaultdict(int)

    def add(self, department_id: int, task_id: int, task_name: str, day: date, status: int, trigger_type: str,
            task_type: str, cost_time: int | None, n: int = 1) -> None:
        """``n`` executions alike in every column the rollups keep (the rebuild adds grouped rows)."""
        month = day.replace(day=1)
        if cost_time is not None:
            cost, bucket = int(cost_time), bucket_of(cost_time)
        for grain, key_id, period, label in ((_DEPARTMENT_DAY, department_id, day, ""),
                                             (_TASK_MONTH, task_id, month, task_name),
                                             (_TASK_DAY, task_id, day, task_name),
                                             (_DEPARTMENT_MONTH, department_id, month, "")):
            key = (grain, key_id, department_id, period, status, trigger_type, task_type)
            cell = self.counts.get(key)
            if cell is None:
                cell = self.counts[key] = [0, 0, 0, label]
            cell[0] += n
            if cost_time is not None:
                cell[1] += cost * n
                cell[2] += n
                self.costs[(grain, key_id, department_id, period, bucket)] += n

    def write(self, chunk: int = 1000) -> None:
        """One upsert per table (per ``chunk`` rows: a result flush of 200 records fits in one)."""
        counts, costs = list(self.counts.items()), list(self.costs.items())
        for i in range(0, len(counts), chunk):
            _upsert_counts(dict(counts[i:i + chunk]))
        for i in range(0, len(costs), chunk):
            _upsert_costs(dict(costs[i:i + chunk]))


def _upsert_counts(counts: dict[tuple, list]) -> None:
    columns = ("grain", "key_id", "department_id", "period", "status", "trigger_type", "task_type", "count",
               "cost_sum", "cost_count", "label")
    rows = [(*key, count, cost_sum, cost_count, label[:255]) for key, (count, cost_sum, cost_count, label)
            in counts.items()]
    _upsert("record_rollup", columns, rows,
            conflict=("grain", "key_id", "department_id", "period", "status", "trigger_type", "task_type"),
            added=("count", "cost_sum", "cost_count"), replaced=("label",))


def _upsert_costs(costs: dict[tuple, int]) -> None:
    columns = ("grain", "key_id", "department_id", "period", "bucket", "count")
    _upsert("record_rollup_cost", columns, [(*key, count) for key, count in costs.items()],
            conflict=("grain", "key_id", "department_id", "period", "bucket"), added=("count",), replaced=())


def _upsert(table: str, columns: tuple[str, ...], rows: list[tuple], *, conflict: tuple[str, ...],
            added: tuple[str, ...], replaced: tuple[str, ...]) -> None:
    """One multi-row upsert; numbers and dates are written as text, the strings bound (:mod:`.sqlrows`)."""
    qn = connection.ops.quote_name
    params: list = []
    adapt = sqlrows.cached(connection.ops.adapt_datetimefield_value)
    values = ", ".join([sqlrows.row(values, params, adapt) for values in rows])
    sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES {values}"
    if connection.vendor == "mysql":
        sets = [f"{qn(c)} = {qn(c)} + VALUES({qn(c)})" for c in added] + [f"{qn(c)} = VALUES({qn(c)})"
                                                                           for c in replaced]
        sql += " ON DUPLICATE KEY UPDATE " + ", ".join(sets)
    else:
        sets = [f"{qn(c)} = {qn(c)} + excluded.{qn(c)}" for c in added] + [f"{qn(c)} = excluded.{qn(c)}"
                                                                            for c in replaced]
        sql += f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO UPDATE SET " + ", ".join(sets)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- state and rebuild --------------------------------------------------------------------------------------

def built_months(months: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of ``months`` have complete rollups, in one query (a month without a state row is built)."""
    months = set(months)
    if not months:
        return set()
    not_built = {divmod(m, 100) for m in RollupMonth.objects.filter(month__in=[month_key(y, m) for y, m in months])
                 .exclude(state=RollupMonth.BUILT).values_list("month", flat=True)}
    return months - not_built


def month_state(year: int, month: int) -> str:
    """``built`` (rollups complete; also every month created after rollups existed), ``unbuilt`` or
    ``building``."""
    state = RollupMonth.objects.filter(month=month_key(year, month)).values_list("state", flat=True).first()
    return state or RollupMonth.BUILT


def raw_pruned(year: int, month: int) -> bool:
    """Retention dropped this month's raw table (its rollups remain while records.rollupKeepMonths allows)."""
    return RollupMonth.objects.filter(month=month_key(year, month), raw_pruned=True).exists()


def rebuild_month(year: int, month: int, *, chunk: int = 50_000,
                  progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute one month's rollups from its raw rows; returns the number of final records counted.

    Holds the month's lock row exclusively for the whole rebuild (the result writer and recovery of that
    month wait, then add their rows on top), reads the raw rows in primary-key chunks with one GROUP BY each,
    and marks the month ``built``. A month without a raw table ends ``built`` and empty."""
    key = month_key(year, month)
    RollupMonth.objects.get_or_create(month=key, defaults={"state": RollupMonth.UNBUILT})
    exists = table_name(year, month) in existing_record_tables(refresh=True)
    done = 0
    with transaction.atomic():
        RollupMonth.objects.select_for_update().filter(month=key).update(state=RollupMonth.BUILDING)
        first = date(year, month, 1)
        last = date(year, month, monthrange(year, month)[1])
        for model in (RollupCount, RollupCost):
            model.objects.filter(period__gte=first, period__lte=last).delete()
        total = 0
        if exists:
            qs = record_model(year, month).objects.filter(status__in=FINAL_STATUSES)
            total = qs.count()
            RollupMonth.objects.filter(month=key).update(rows_total=total)
            last_id = 0
            while True:
                ids = list(qs.filter(id__gt=last_id).order_by("id").values_list("id", flat=True)[chunk - 1:chunk])
                upper = ids[0] if ids else None
                window = qs.filter(id__gt=last_id) if upper is None else qs.filter(id__gt=last_id, id__lte=upper)
                done += _rebuild_chunk(window, year, month)
                if progress:
                    progress(done, total)
                if upper is None:
                    break
                last_id = upper
        RollupMonth.objects.filter(month=key).update(state=RollupMonth.BUILT, rows_done=done, rows_total=total)
    return done


def _rebuild_chunk(qs, year: int, month: int) -> int:
    """Add one chunk of raw rows, grouped in the database by department, task, status, trigger, task type, local
    day and cost. The day comes from a CASE over the month's DST-correct local-day boundaries (no time zone
    tables needed in the database); costs become histogram buckets here."""
    days = local_days(year, month)
    day_case = Case(*[When(scheduled_time__lt=end, then=Value(index)) for index, (_, _, end) in enumerate(days)],
                    default=Value(len(days) - 1), output_field=IntegerField())
    grouped = (qs.order_by().annotate(day=day_case)
               .values("department_id", "task_id", "status", "trigger_type", "task_type", "day", "cost_time")
               .annotate(n=Count("id"), name=Max("task_name")))
    cells, n = Cells(), 0
    for g in grouped.iterator(chunk_size=5000):
        cells.add(g["department_id"], g["task_id"], g["name"], days[g["day"]][0], g["status"], g["trigger_type"],
                  g["task_type"], g["cost_time"], n=g["n"])
        n += g["n"]
    cells.write()
    return n


def local_days(year: int, month: int) -> list[tuple[date, datetime, datetime]]:
    """Each local calendar day of the month as (day, start, end) with [start, end) instants (DST-correct)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    days = []
    for day in range(1, monthrange(year, month)[1] + 1):
        d = date(year, month, day)
        start = datetime.combine(d, dtime.min, tzinfo=zone)
        # the last day of year 9999 has no next day: its end is the last representable instant
        end = (datetime.combine(d + timedelta(days=1), dtime.min, tzinfo=zone) if d < date.max
               else datetime.combine(d, dtime.max, tzinfo=zone))
        days.append((d, start, end))
    return days


# --- reading ------------------------------------------------------------------------------------------------

def p95(histogram: dict[int, int]) -> int | None:
    """Nearest-rank p95 from bucket counts (the value the bucket stands for)."""
    n = sum(histogram.values())
    if not n:
        return None
    rank, seen = math.ceil(0.95 * n), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return None  # unreachable


def totals(grain: RollupGrain, *, periods: tuple[date, date], department_ids: Iterable[int] | None = None,
           key_ids: Iterable[int] | None = None, period_in: Iterable[date] | None = None) -> dict:
    """Counts by status, cost sum/count and the cost histogram of a grain's cells with ``period`` in
    [first, last] (and in ``period_in`` when given), limited to departments and/or keys. Reads only rollup
    rows."""
    where = _cells(grain, periods, department_ids, key_ids, period_in)
    if where is None:
        return {"by_status": {}, "cost_sum": 0, "cost_count": 0, "histogram": {}}
    by_status: dict[int, int] = defaultdict(int)
    cost_sum = cost_count = 0
    for status, n, s, c in _sum(RollupCount, ("status",), ("count", "cost_sum", "cost_count"), where,
                                keyed=key_ids is not None):
        by_status[int(status)] += int(n)
        cost_sum += int(s or 0)
        cost_count += int(c or 0)
    histogram = {int(bucket): int(n) for bucket, n in _sum(RollupCost, ("bucket",), ("count",), where,
                                                           keyed=key_ids is not None)}
    return {"by_status": dict(by_status), "cost_sum": cost_sum, "cost_count": cost_count, "histogram": histogram}


def daily(grain: RollupGrain, *, periods: tuple[date, date], department_ids: Iterable[int] | None = None,
          key_ids: Iterable[int] | None = None) -> dict[date, dict[int, int]]:
    """Per local day in [first, last]: counts by status."""
    days: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    where = _cells(grain, periods, department_ids, key_ids, None)
    if where is None:
        return days
    for period, status, n in _sum(RollupCount, ("period", "status"), ("count",), where, keyed=key_ids is not None):
        days[_date(period)][int(status)] += int(n)
    return days


def _cells(grain: RollupGrain, periods: tuple[date, date], department_ids: Iterable[int] | None,
           key_ids: Iterable[int] | None, period_in: Iterable[date] | None) -> list[tuple] | None:
    """The WHERE of a read of one grain's cells (None: an empty IN list, nothing can match)."""
    where: list[tuple] = [("grain", "=", int(grain)), ("period", ">=", periods[0]), ("period", "<=", periods[1])]
    for column, values in (("period", period_in), ("department_id", department_ids), ("key_id", key_ids)):
        if values is not None:
            values = list(values)
            if not values:
                return None
            where.append((column, "in", values))
    return where


def _sum(model, group: tuple[str, ...], sums: tuple[str, ...], where: list[tuple], *, keyed: bool) -> list[tuple]:
    """``SELECT group, SUM(sums) ... WHERE ... GROUP BY group`` on the database that reads rollups (the
    replica when configured). Reads of given keys (a task's cells) name the unique index (grain, key, ...) on
    MySQL/MariaDB: with the covering period index present the planner scanned every task cell of the month
    for one task (359 ms at 10M records, docs/performance.md) instead of reading the task's own ~100."""
    conn = connections[router.db_for_read(model)]
    qn = conn.ops.quote_name
    table = qn(model._meta.db_table)
    if keyed and conn.vendor == "mysql":
        unique = model._meta.constraints[0].name  # uq_rollup_cell / uq_rollup_cost: (grain, key_id, ...)
        table += f" FORCE INDEX ({qn(unique)})"
    conditions, params = [], []
    for column, op, value in where:
        if op == "in":
            conditions.append(f"{qn(column)} IN ({', '.join(['%s'] * len(value))})")
            params += value
        else:
            conditions.append(f"{qn(column)} {op} %s")
            params.append(value)
    columns = [qn(c) for c in group] + [f"SUM({qn(c)})" for c in sums]
    sql = (f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(conditions)} "
           f"GROUP BY {', '.join(qn(c) for c in group)}")
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def whole_month(periods: tuple[date, date]) -> bool:
    """Whether [first, last] is exactly one calendar month (its cells of a month grain say the same)."""
    first, last = periods
    return (first.day == 1 and (first.year, first.month) == (last.year, last.month)
            and last.day == monthrange(last.year, last.month)[1])


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def top_failing(*, month_first: date, department_ids: Iterable[int] | None, task_ids: Iterable[int] | None = None,
                limit: int = 10) -> list[dict]:
    qs = RollupCount.objects.filter(grain=RollupGrain.TASK_MONTH, period=month_first, status=RecordStatus.FAILED)
    if department_ids is not None:
        qs = qs.filter(department_id__in=list(department_ids))
    if task_ids is not None:
        qs = qs.filter(key_id__in=list(task_ids))
    rows = list(qs.order_by().values("key_id").annotate(n=Sum("count")).order_by("-n", "key_id")[:limit])
    labels = dict(RollupCount.objects.filter(grain=RollupGrain.TASK_MONTH, period=month_first,
                                             key_id__in=[r["key_id"] for r in rows])
                  .order_by("key_id", "-id").values_list("key_id", "label"))
    return [{"taskId": r["key_id"], "taskName": labels.get(r["key_id"], ""), "failures": int(r["n"])} for r in rows]


def count(*, periods: tuple[date, date], department_ids: Iterable[int], task_id: int | None = None,
          statuses: Iterable[int] | None = None, trigger_type: str | None = None,
          task_type: str | None = None) -> int:
    """Finished executions with scheduled day in [first, last] matching the filters the rollups carry: the
    department x day cells, or the task x day cells of one task."""
    grain = RollupGrain.TASK_DAY if task_id is not None else RollupGrain.DEPARTMENT_DAY
    if whole_month(periods):  # one month cell instead of ~31 day cells per key (the list's usual total)
        grain = RollupGrain.TASK_MONTH if task_id is not None else RollupGrain.DEPARTMENT_MONTH
        periods = (periods[0], periods[0])
    where = _cells(grain, periods, department_ids, [task_id] if task_id is not None else None, None)
    if where is None:
        return 0
    for column, values in (("status", statuses), ("trigger_type", [trigger_type] if trigger_type else None),
                           ("task_type", [task_type] if task_type else None)):
        if values is not None:
            values = list(values)
            if not values:
                return 0
            where.append((column, "in", values))
    rows = _sum(RollupCount, ("grain",), ("count",), where, keyed=task_id is not None)
    return int(rows[0][1] or 0) if rows else 0
