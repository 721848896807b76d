"""Reads for execution records (monthly tables), always within the actor's scope."""
from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet

from apps.accounts.models import User
from apps.records.models import RecordStatus, existing_record_tables, record_model, table_name
from djs_platform.tenancy import get_in_scope, require_permission


def records_queryset(*, user: User, year: int, month: int) -> QuerySet | None:
    """The month's restricted queryset, or None when no record was ever written that month."""
    require_permission(user, "record:view")
    if table_name(year, month) not in existing_record_tables(refresh=True):
        return None
    return record_model(year, month).objects.restrict(user)


def record_list(*, user: User, year: int, month: int, task_id: int | None = None,
                department_id: int | None = None, success: bool | None = None, task_type: str | None = None,
                status: int | None = None, trigger_type: str | None = None) -> QuerySet | None:
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
    return qs.filter(**filters).order_by("-id")


def record_get(*, user: User, year: int, month: int, record_id: int):
    qs = records_queryset(user=user, year=year, month=month)
    if qs is None:
        from djs_platform import errors

        raise errors.NotFound("record not found")
    return get_in_scope(qs, record_id, "record")


def _local_days(year: int, month: int) -> list[tuple[date, datetime, datetime]]:
    """Each local calendar day of the month as [start, end) instants (DST-correct)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    days = []
    for day in range(1, monthrange(year, month)[1] + 1):
        d = date(year, month, day)
        start = datetime.combine(d, time.min, tzinfo=zone)
        end = datetime.combine(d + timedelta(days=1), time.min, tzinfo=zone)
        days.append((d, start, end))
    return days


def record_stats(*, user: User, year: int, month: int, task_id: int | None = None,
                 department_id: int | None = None) -> dict[str, Any]:
    qs = record_list(user=user, year=year, month=month, task_id=task_id, department_id=department_id)
    days = _local_days(year, month)
    empty = {
        "year": year, "month": month, "total": 0, "successCount": 0, "failCount": 0, "runningCount": 0,
        "killedCount": 0, "skippedCount": 0, "lostCount": 0, "successRate": None, "avgCostTime": None,
        "p95CostTime": None,
        "daily": [{"date": d.isoformat(), "total": 0, "success": 0, "failed": 0} for d, _, _ in days],
        "topFailingTasks": [],
    }
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
