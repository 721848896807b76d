"""Reads for execution records (monthly tables), always within the actor's scope."""
from __future__ import annotations

import os
from calendar import monthrange
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from apps.accounts.models import User
from apps.records import rollups, runlogs
from apps.records.models import RecordStatus, record_model, record_table_exists, recent_record_tables, table_name
from apps.records.models import months_between as months_touched
from djs_platform import errors
from djs_platform.tenancy import department_scope_ids, get_in_scope, require_permission


def records_queryset(*, user: User, year: int, month: int) -> QuerySet | None:
    """The month's restricted queryset, or None when no record was ever written that month."""
    require_permission(user, "record:view")
    if not record_table_exists(year, month):
        return None
    return record_model(year, month).objects.restrict(user)


def record_list(*, user: User, year: int, month: int, task_id: int | None = None,
                department_id: int | None = None, success: bool | None = None, task_type: str | None = None,
                status: int | None = None, trigger_type: str | None = None, parent_record_id: int | None = None,
                parent_month: int | None = None, scheduled_from: datetime | None = None,
                scheduled_before: datetime | None = None) -> QuerySet | None:
    qs = records_queryset(user=user, year=year, month=month)
    if qs is None:
        return None
    filters: dict[str, Any] = {}
    if task_id is not None:
        filters["task_id"] = task_id
    if department_id is not None:
        filters["department_id"] = department_id
    if success is not None:
        filters["success"] = success
    if task_type:
        filters["task_type"] = task_type
    if status is not None:
        filters["status"] = status
    if trigger_type:
        filters["trigger_type"] = trigger_type
    if parent_record_id is not None:  # the child runs of one record (parent_month: YYYYMM of its table)
        filters["parent_record_id"] = parent_record_id
        if parent_month is not None:
            filters["parent_month"] = parent_month
    # A time range within the month: on scheduled_time, which (department_id, scheduled_time) indexes.
    if scheduled_from is not None:
        filters["scheduled_time__gte"] = scheduled_from
    if scheduled_before is not None:
        filters["scheduled_time__lt"] = scheduled_before
    return qs.filter(**filters).order_by("-id")


#: How far ``?page=`` reaches ((page - 1) * size); deeper pages use the cursor.
MAX_OFFSET = 10_000
#: Filters the rollups count exactly; any other filter answers a capped count.
ROLLUP_FILTERS = frozenset({"task_id", "department_id", "success", "status", "task_type", "trigger_type"})
SUCCESS_STATUSES = {True: (RecordStatus.SUCCESS,),
                    False: (RecordStatus.FAILED, RecordStatus.KILLED, RecordStatus.SKIPPED, RecordStatus.LOST)}


def record_total(*, user: User, year: int, month: int, qs: QuerySet, filters: dict[str, Any]) -> dict[str, Any]:
    """``total`` of a filtered month for the list: exact from the rollups (finished runs) plus the live running
    rows when every filter is one the rollups carry and the month is built; otherwise counted from the rows up
    to :data:`MAX_OFFSET` (``totalCapped`` says the real number is larger)."""
    given = {k: v for k, v in filters.items() if v is not None and v != ""}
    if set(given) <= ROLLUP_FILTERS and rollups.month_state(year, month) == "built":
        scope = department_scope_ids(user)
        if "department_id" in given:
            scope = scope & {given["department_id"]}
        statuses: set[int] = {int(s) for s in RecordStatus}
        if "status" in given:
            statuses &= {int(given["status"])}
        if "success" in given:
            statuses &= {int(s) for s in SUCCESS_STATUSES[given["success"]]}
        days = rollups.local_days(year, month)
        finished = rollups.count(periods=(days[0][0], days[-1][0]), department_ids=scope,
                                 task_id=given.get("task_id"), statuses=statuses - {int(RecordStatus.RUNNING)},
                                 trigger_type=given.get("trigger_type"),
                                 task_type=given.get("task_type")) if scope and statuses else 0
        running = 0
        if int(RecordStatus.RUNNING) in statuses and "success" not in given:
            running = qs.filter(status=RecordStatus.RUNNING).order_by().count()
        return {"total": finished + running}
    counted = qs.order_by().values("id")[:MAX_OFFSET + 1].count()
    if counted > MAX_OFFSET:
        return {"total": MAX_OFFSET, "totalCapped": True}
    return {"total": counted}


def record_get(*, user: User, year: int, month: int, record_id: int):
    qs = records_queryset(user=user, year=year, month=month)
    if qs is None:
        raise errors.NotFound(gettext("record not found"))
    return get_in_scope(qs, record_id, "record")


#: Largest slice of a SHELL log answered by one request (the console pages through bigger files).
LOG_PAGE_LIMIT = 1024 * 1024


def record_log(*, user: User, year: int, month: int, record_id: int, offset: int = 0,
               limit: int = 256 * 1024) -> dict[str, Any]:
    """A slice of the SHELL log of a record (``job.shell.logDir/task_<id>_record_<YYYYMM>_<id>.log``, or a legacy
    file of this very run: :mod:`apps.records.runlogs`), in bytes ``[offset, offset + limit)``. Same scope and
    permission as the record itself."""
    record = record_get(user=user, year=year, month=month, record_id=record_id)
    if record.task_type != "SHELL":
        raise errors.NotFound(gettext("record %(record_id)s has no log: only SHELL executions write one")
                              % {"record_id": record_id})
    path = runlogs.find_log(runlogs.log_dir(), year=year, month=month, task_id=record.task_id, record_id=record.pk,
                            start_time=record.start_time, end_time=record.end_time)
    limit = max(1, min(int(limit), LOG_PAGE_LIMIT))
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(min(offset, size))
            ahead = handle.read(limit + 3)  # up to 3 bytes more: the rest of a character cut at the limit
    except FileNotFoundError:
        return {"recordId": record.pk, "taskId": record.task_id, "exists": False, "size": 0, "offset": 0,
                "content": "", "nextOffset": None, "executor": record.executor}
    start = min(offset, size)
    data = ahead[:limit]
    cut = _incomplete_utf8_tail(data) if len(ahead) > limit else 0
    if cut:  # a slice never ends inside a UTF-8 character: it stops before it, or (limit < 4) completes it
        data = data[:-cut] if len(data) > cut else ahead[:_char_length(data[0])]
    end = start + len(data)
    return {"recordId": record.pk, "taskId": record.task_id, "exists": True, "size": size, "offset": start,
            "content": data.decode("utf-8", errors="replace"), "nextOffset": end if end < size else None,
            "executor": record.executor}


def _char_length(lead: int) -> int:
    return 2 if lead & 0xE0 == 0xC0 else 3 if lead & 0xF0 == 0xE0 else 4 if lead & 0xF8 == 0xF0 else 1


def _incomplete_utf8_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that continues after it (0-3)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the lead of the last character
            return back if _char_length(byte) > back else 0
    return 0


UNBUILT_WARNING = gettext_lazy("the rollups of this month are not built yet: these figures were counted from the raw "
                               "records (run manage.py rebuild_rollups)")


def record_stats(*, user: User, year: int, month: int, task_id: int | None = None,
                 department_id: int | None = None) -> dict[str, Any]:
    """The month's figures for the actor's scope: from the rollups (cost independent of the month's size), or
    from the raw rows while the month's rollups are not built (``warning`` says so)."""
    require_permission(user, "record:view")
    if rollups.month_state(year, month) == "built":
        result = _rollup_stats(user=user, year=year, month=month, task_id=task_id, department_id=department_id)
    else:
        result = _raw_stats(user=user, year=year, month=month, task_id=task_id, department_id=department_id)
        result["warning"] = str(UNBUILT_WARNING)
    result["timeZone"] = settings.TIME_ZONE  # the zone of the daily series' days (and of "today")
    return result


def _empty_stats(year: int, month: int, days: list[tuple[date, datetime, datetime]]) -> dict[str, Any]:
    return {
        "year": year, "month": month, "total": 0, "successCount": 0, "failCount": 0, "runningCount": 0,
        "killedCount": 0, "skippedCount": 0, "lostCount": 0, "successRate": None, "avgCostTime": None,
        "p95CostTime": None,
        "daily": [{"date": d.isoformat(), "total": 0, "success": 0, "failed": 0} for d, _, _ in days],
        "topFailingTasks": [],
    }


STATUS_KEYS = {RecordStatus.SUCCESS: "successCount", RecordStatus.FAILED: "failCount",
               RecordStatus.RUNNING: "runningCount", RecordStatus.KILLED: "killedCount",
               RecordStatus.SKIPPED: "skippedCount", RecordStatus.LOST: "lostCount"}


def _rollup_stats(*, user: User, year: int, month: int, task_id: int | None,
                  department_id: int | None) -> dict[str, Any]:
    days = rollups.local_days(year, month)
    result = _empty_stats(year, month, days)
    scope = department_scope_ids(user)
    if department_id is not None:
        scope = scope & {department_id}
    if not scope:
        return result
    periods = (days[0][0], days[-1][0])
    if task_id is None:
        # The month's totals and histogram from the scope's department x month cells (rows: departments x
        # buckets, not departments x days x buckets); the department x day cells only for the daily series.
        month_first = date(year, month, 1)
        totals = rollups.totals(rollups.RollupGrain.DEPARTMENT_MONTH, periods=(month_first, month_first),
                                department_ids=scope)
        per_day = rollups.daily(rollups.RollupGrain.DEPARTMENT_DAY, periods=periods, department_ids=scope)
    else:
        # A task's month totals and histogram from its one task x month cell (rows: buckets, not days x
        # buckets); the task x day cells only for the daily series.
        month_first = date(year, month, 1)
        totals = rollups.totals(rollups.RollupGrain.TASK_MONTH, periods=(month_first, month_first),
                                department_ids=scope, key_ids=[task_id])
        per_day = rollups.daily(rollups.RollupGrain.TASK_DAY, periods=periods, department_ids=scope,
                                key_ids=[task_id])
    # Running executions are live rows (few, indexed by status), not rolled up.
    running_days: dict[date, int] = {}
    live = record_list(user=user, year=year, month=month, task_id=task_id, department_id=department_id)
    if live is not None:
        for scheduled in live.filter(status=RecordStatus.RUNNING).order_by().values_list("scheduled_time", flat=True):
            day = rollups.local_day(scheduled)
            running_days[day] = running_days.get(day, 0) + 1
    for status, key in STATUS_KEYS.items():
        result[key] = totals["by_status"].get(int(status), 0)
    result["runningCount"] = sum(running_days.values())
    result["total"] = sum(result[key] for key in STATUS_KEYS.values())
    finished = result["successCount"] + result["failCount"]
    result["successRate"] = round(result["successCount"] / finished, 4) if finished else None
    result["avgCostTime"] = round(totals["cost_sum"] / totals["cost_count"], 1) if totals["cost_count"] else None
    result["p95CostTime"] = rollups.p95(totals["histogram"])
    result["daily"] = []
    for d, _, _ in days:
        counts = per_day.get(d, {})
        result["daily"].append({"date": d.isoformat(), "total": sum(counts.values()) + running_days.get(d, 0),
                                "success": counts.get(int(RecordStatus.SUCCESS), 0),
                                "failed": counts.get(int(RecordStatus.FAILED), 0)})
    month_first = date(year, month, 1)
    if task_id is None:
        result["topFailingTasks"] = rollups.top_failing(month_first=month_first, department_ids=scope)
    elif result["failCount"]:
        result["topFailingTasks"] = rollups.top_failing(month_first=month_first, department_ids=scope,
                                                        task_ids=[task_id])
    return result


def _raw_stats(*, user: User, year: int, month: int, task_id: int | None = None,
               department_id: int | None = None) -> dict[str, Any]:
    qs = record_list(user=user, year=year, month=month, task_id=task_id, department_id=department_id)
    days = rollups.local_days(year, month)
    empty = _empty_stats(year, month, days)
    if qs is None:
        return empty
    qs = qs.order_by()
    by_status = {RecordStatus.SUCCESS: "successCount", RecordStatus.FAILED: "failCount",
                 RecordStatus.RUNNING: "runningCount", RecordStatus.KILLED: "killedCount",
                 RecordStatus.SKIPPED: "skippedCount", RecordStatus.LOST: "lostCount"}
    aggregates: dict[str, Any] = {"total": Count("id"), "avg": Avg("cost_time", filter=Q(cost_time__isnull=False))}
    for status, key in by_status.items():
        aggregates[key] = Count("id", filter=Q(status=status))
    for index, (_, start, end) in enumerate(days):
        window = Q(scheduled_time__gte=start, scheduled_time__lt=end)
        aggregates[f"d{index}"] = Count("id", filter=window)
        aggregates[f"s{index}"] = Count("id", filter=window & Q(status=RecordStatus.SUCCESS))
        aggregates[f"f{index}"] = Count("id", filter=window & Q(status=RecordStatus.FAILED))
    row = qs.aggregate(**aggregates)
    result = dict(empty)
    result["total"] = row["total"]
    for key in by_status.values():
        result[key] = row[key]
    finished = row["successCount"] + row["failCount"]
    result["successRate"] = round(row["successCount"] / finished, 4) if finished else None
    result["avgCostTime"] = round(row["avg"], 1) if row["avg"] is not None else None
    costs = qs.filter(cost_time__isnull=False)
    n = costs.count()
    if n:
        # Nearest-rank p95 with one indexed query instead of loading the month into memory.
        rank = max(0, -(-95 * n // 100) - 1)
        result["p95CostTime"] = costs.order_by("cost_time").values_list("cost_time", flat=True)[rank]
    result["daily"] = [{"date": d.isoformat(), "total": row[f"d{i}"], "success": row[f"s{i}"],
                        "failed": row[f"f{i}"]} for i, (d, _, _) in enumerate(days)]
    failing = (qs.filter(status=RecordStatus.FAILED).values("task_id", "task_name")
               .annotate(failures=Count("id")).order_by("-failures", "task_id")[:10])
    result["topFailingTasks"] = [{"taskId": r["task_id"], "taskName": r["task_name"], "failures": r["failures"]}
                                 for r in failing]
    return result


# --- summaries across month tables (gRPC GetTaskStatus, GetTaskStatistics, GetModelContext) -----------

def recent_months(count: int = 12, now: datetime | None = None) -> list[tuple[int, int]]:
    """(year, month) of the current month in the platform time zone and the ``count - 1`` before it,
    newest first."""
    local = (now or timezone.now()).astimezone(ZoneInfo(settings.TIME_ZONE))
    year, month = local.year, local.month
    months = []
    for _ in range(count):
        months.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def months_between(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """(year, month) of every platform-zone month that [start, end) touches, oldest first."""
    return months_touched(start, end - timedelta(microseconds=1))


def _existing(months: list[tuple[int, int]]) -> list[tuple[int, int]]:
    tables = recent_record_tables()
    return [(y, m) for y, m in months if table_name(y, m) in tables]


def task_run_summary(*, user: User, task_id: int, months: int = 12) -> dict[str, Any]:
    """Counts and average cost (ms) of one task's executions in the last ``months`` months, and the retries its
    latest execution used.

    Finished executions come from the task x month rollups (months whose rollups are not built yet are counted
    from their raw rows); running ones from the live rows. The caller has already resolved the task in the
    user's scope (``task:view``); rows are still limited to the scope, like every record query.
    """
    totals = {"successCount": 0, "failCount": 0, "runningCount": 0}
    cost_sum, cost_n, last_retry_times = 0, 0, None
    scope = department_scope_ids(user)
    built = sorted(date(y, m, 1) for y, m in rollups.built_months(recent_months(months)))
    if built:
        rolled = rollups.totals(rollups.RollupGrain.TASK_MONTH, periods=(min(built), max(built)),
                                department_ids=scope, key_ids=[task_id], period_in=built)
        totals["successCount"] += rolled["by_status"].get(int(RecordStatus.SUCCESS), 0)
        totals["failCount"] += rolled["by_status"].get(int(RecordStatus.FAILED), 0)
        cost_sum += rolled["cost_sum"]
        cost_n += rolled["cost_count"]
    for year, month in _existing(recent_months(months)):
        qs = record_model(year, month).objects.restrict(user).filter(task_id=task_id)
        if last_retry_times is None:  # months run newest first: the first hit is the latest execution
            last_retry_times = qs.order_by("-scheduled_time", "-id").values_list("retry_times", flat=True).first()
        totals["runningCount"] += qs.filter(status=RecordStatus.RUNNING).order_by().count()
        if date(year, month, 1) in built:
            continue
        row = qs.order_by().aggregate(
            successCount=Count("id", filter=Q(status=RecordStatus.SUCCESS)),
            failCount=Count("id", filter=Q(status=RecordStatus.FAILED)),
            cost_sum=Sum("cost_time", filter=~Q(status=RecordStatus.RUNNING)),
            cost_n=Count("cost_time", filter=~Q(status=RecordStatus.RUNNING)))
        totals["successCount"] += row["successCount"]
        totals["failCount"] += row["failCount"]
        cost_sum += int(row["cost_sum"] or 0)
        cost_n += row["cost_n"]
    return {**totals, "avgCostTime": round(cost_sum / cost_n, 1) if cost_n else None,
            "lastRetryTimes": last_retry_times}


def task_recent_records(*, user: User, task_id: int, limit: int = 10, months: int = 12) -> list:
    """The task's latest ``limit`` records (newest scheduled time first) across recent month tables."""
    require_permission(user, "record:view")
    rows: list = []
    for year, month in _existing(recent_months(months)):
        qs = record_model(year, month).objects.restrict(user).filter(task_id=task_id)
        rows += list(qs.order_by("-scheduled_time", "-id")[:limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole local days of the platform zone: from the start of ``start``'s day to the
    start of the day after the one holding the window's last instant (DST-correct)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    day_start = datetime.combine(first, time.min, tzinfo=zone)
    day_end = (datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) if last < date.max
               else datetime.combine(last, time.max, tzinfo=zone))
    return day_start, day_end


def record_window_stats(*, user: User, start: datetime, end: datetime,
                        department_id: int | None = None) -> dict[str, Any]:
    """Execution counts, success rate, average and p95 cost over the whole local days that [start, end) touches
    (the window is widened to day boundaries: ``windowStart``/``windowEnd``), from the department x day rollups,
    plus the running executions of those days. Months whose rollups are not built are counted from their raw
    rows. ``successRate`` = success / (success + failed), as in :func:`record_stats`."""
    require_permission(user, "record:view")
    start, end = whole_days(start, end) if end > start else (start, end)
    by_status = {"successCount": RecordStatus.SUCCESS, "failCount": RecordStatus.FAILED,
                 "runningCount": RecordStatus.RUNNING, "killedCount": RecordStatus.KILLED,
                 "skippedCount": RecordStatus.SKIPPED, "lostCount": RecordStatus.LOST}
    result: dict[str, Any] = {"total": 0, **{key: 0 for key in by_status}, "windowStart": start, "windowEnd": end}
    cost_sum, cost_n, histogram = 0, 0, {}
    scope = department_scope_ids(user)
    if department_id is not None:
        scope = scope & {department_id}
    months = months_between(start, end) if end > start else []
    first_day = start.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    built = rollups.built_months(months)
    if built and scope:
        # Every day of the window that lies in a built month (a window's months are contiguous).
        # Months the window covers whole are read from their department x month cells (a year: 12 cells per
        # department, not 365), the other days from the department x day cells.
        whole = sorted(date(y, m, 1) for y, m in built
                       if first_day <= date(y, m, 1) and date(y, m, monthrange(y, m)[1]) <= last_day)
        days_in_built = [d for d in _dates(first_day, last_day)
                         if (d.year, d.month) in built and d.replace(day=1) not in whole]
        reads = []
        if whole:
            reads.append(rollups.totals(rollups.RollupGrain.DEPARTMENT_MONTH, periods=(whole[0], whole[-1]),
                                        department_ids=scope, period_in=whole))
        if days_in_built:
            reads.append(rollups.totals(rollups.RollupGrain.DEPARTMENT_DAY, periods=(first_day, last_day),
                                        department_ids=scope, period_in=days_in_built))
        for rolled in reads:
            for key, status in by_status.items():
                result[key] += rolled["by_status"].get(int(status), 0)
            cost_sum += rolled["cost_sum"]
            cost_n += rolled["cost_count"]
            for bucket, n in rolled["histogram"].items():
                histogram[bucket] = histogram.get(bucket, 0) + n
    for year, month in _existing(months):
        qs = record_model(year, month).objects.restrict(user).filter(scheduled_time__gte=start,
                                                                       scheduled_time__lt=end)
        if department_id is not None:
            qs = qs.filter(department_id=department_id)
        qs = qs.order_by()
        result["runningCount"] += qs.filter(status=RecordStatus.RUNNING).count()
        if (year, month) in built:
            continue
        aggregates: dict[str, Any] = {key: Count("id", filter=Q(status=status)) for key, status in by_status.items()
                                      if status != RecordStatus.RUNNING}
        row = qs.aggregate(**aggregates)
        for key in aggregates:
            result[key] += row[key]
        for cost, n in (qs.exclude(status=RecordStatus.RUNNING).filter(cost_time__isnull=False)
                        .values_list("cost_time").annotate(n=Count("id"))):
            cost_sum += cost * n
            cost_n += n
            bucket = rollups.bucket_of(cost)
            histogram[bucket] = histogram.get(bucket, 0) + n
    result["total"] = sum(result[key] for key in by_status)
    finished = result["successCount"] + result["failCount"]
    result["successRate"] = round(result["successCount"] / finished, 4) if finished else None
    result["avgCostTime"] = round(cost_sum / cost_n, 1) if cost_n else None
    result["p95CostTime"] = rollups.p95(histogram)
    return result


#: The periods of gRPC ``GetStatistics`` (the seed's RPC table): today, the last 7 local days (today and the 6
#: before), this month, the last 12 months (this month and the 11 before); all in the platform zone.
STATISTICS_PERIODS = ("day", "week", "month", "year")


def period_start(period: str, now: datetime) -> datetime:
    """The first instant (platform zone) of a statistics period that ends ``now``; ``period`` is one of
    :data:`STATISTICS_PERIODS`. With ``now`` as the end, :func:`record_window_stats` reads whole local days."""
    zone = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(zone).date()
    if period == "day":
        first = today
    elif period == "week":
        first = today - timedelta(days=6)
    elif period == "month":
        first = today.replace(day=1)
    elif period == "year":
        months = today.year * 12 + today.month - 1 - 11
        first = date(months // 12, months % 12 + 1, 1)
    else:
        raise ValueError(f"unknown statistics period {period!r}")
    return datetime.combine(first, time.min, tzinfo=zone)


def _dates(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        days.append(day)
        if day == date.max:
            break
        day += timedelta(days=1)
    return days
