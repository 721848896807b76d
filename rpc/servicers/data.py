"""``data.DataService``: history, users, departments and statistics (GetTaskStatistics over a window,
GetStatistics over a named period) through the selectors REST uses.

Department scoping applies to every method: rows outside the caller's department and its descendants are
never returned, and a task or department outside it answers NOT_FOUND, exactly like a missing one.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import selectors as account_selectors
from apps.departments import selectors as department_selectors
from apps.records import selectors as record_selectors
from apps.records.models import month_of
from apps.tasks import selectors as task_selectors
from djs_platform import errors
from djs_platform.tenancy import in_scope, require_permission
from rpc.generated import data_pb2 as pb
from rpc.generated import data_pb2_grpc
from rpc.interceptors import current_actor
from rpc.servicers.common import iso, optional_id, page_args, parse_time, text

HISTORY_DEFAULT_LIMIT = 20
HISTORY_MAX_LIMIT = 100
MAX_STATS_WINDOW = timedelta(days=366)


def _department_in_scope(user, department_id: int | None) -> int | None:
    """A department filter: 0 = the whole scope; one outside the scope answers NOT_FOUND like a missing one."""
    if department_id is not None and not in_scope(user, department_id):
        raise errors.NotFound(_("department not found"))
    return department_id


def _window(start_field: str, start_value: str, end_field: str, end_value: str):
    start, end = parse_time(start_field, start_value), parse_time(end_field, end_value)
    if start is not None and end is not None and start >= end:
        raise errors.invalid(end_field, _("must be after %(start_field)s") % {"start_field": start_field})
    return start, end


def history_record(row) -> pb.TaskHistoryRecord:
    return pb.TaskHistoryRecord(
        id=row.id, task_id=row.task_id, task_name=text(row.task_name), success=bool(row.success),
        status_code=row.status_code or 0, response=text(row.response), cost_time=row.cost_time or 0,
        execute_time=iso(row.start_time or row.scheduled_time), retry_times=row.retry_times, status=row.status,
        error=text(row.error), trigger_type=row.trigger_type, scheduled_time=iso(row.scheduled_time),
        instance=text(row.instance), shard=row.shard, shard_total=row.shard_total or 0)


class DataServicer(data_pb2_grpc.DataServiceServicer):
    def GetTaskHistory(self, request, context):
        """One month table (``year``/``month``, default the current month in the platform zone), newest first.
        ``task_id`` 0 lists every task in scope; ``start_time``/``end_time`` bound the scheduled time."""
        user = current_actor().user
        require_permission(user, "record:view")
        if (request.year == 0) != (request.month == 0):
            raise errors.invalid("month" if request.year else "year", _("give year and month together (or neither)"))
        year, month = (request.year, request.month) if request.year else month_of(timezone.now())
        if not 1970 <= year <= 9999:
            raise errors.invalid("year", _("must be between 1970 and 9999"))
        if not 1 <= month <= 12:
            raise errors.invalid("month", _("must be between 1 and 12"))
        if request.limit < 0 or request.limit > HISTORY_MAX_LIMIT:
            raise errors.invalid("limit", _("must be between 1 and %(max)s (0 = %(default)s)")
                                          % {"max": HISTORY_MAX_LIMIT, "default": HISTORY_DEFAULT_LIMIT})
        if request.offset < 0:
            raise errors.invalid("offset", _("must be 0 or more"))
        start, end = _window("start_time", request.start_time, "end_time", request.end_time)
        task_id = optional_id("task_id", request.task_id)
        if task_id is not None:
            task_selectors.task_in_scope(user=user, task_id=task_id)
        qs = record_selectors.record_list(user=user, year=year, month=month, task_id=task_id)
        if qs is None:
            return pb.TaskHistoryResponse(success=True, total=0, message=f"no records in {year}-{month:02d}")
        if start is not None:
            qs = qs.filter(scheduled_time__gte=start)
        if end is not None:
            qs = qs.filter(scheduled_time__lt=end)
        limit = request.limit or HISTORY_DEFAULT_LIMIT
        total = qs.count()
        rows = list(qs[request.offset:request.offset + limit])
        return pb.TaskHistoryResponse(success=True, records=[history_record(r) for r in rows], total=total,
                                      message=f"{len(rows)} of {total} records in {year}-{month:02d}")

    def GetUserList(self, request, context):
        user = current_actor().user
        page, size = page_args(request.page, request.size)
        require_permission(user, "user:manage")  # before the department check, as GET /users?departmentId=
        department_id = _department_in_scope(user, optional_id("department_id", request.department_id))
        qs = account_selectors.user_list(user=user, department_id=department_id)
        total = qs.count()
        users = [pb.UserInfo(id=u.pk, username=text(u.username), real_name=text(u.real_name), email=text(u.email),
                             phone=text(u.phone), department_id=u.department_id,
                             department_name=text(u.department.name), role_id=u.role_id,
                             role_name=text(u.role.name), status=u.status, create_time=iso(u.create_time))
                 for u in qs[(page - 1) * size: page * size]]
        return pb.UserListResponse(success=True, users=users, total=total, message=f"page {page}")

    def GetDepartmentList(self, request, context):
        user = current_actor().user
        page, size = page_args(request.page, request.size)
        qs = department_selectors.department_list(user=user)
        total = qs.count()
        departments = [pb.Department(id=d.pk, name=text(d.name), description=text(d.description),
                                     create_time=iso(d.create_time), parent_id=d.parent_id or 0, status=d.status)
                       for d in qs[(page - 1) * size: page * size]]
        return pb.DepartmentListResponse(success=True, departments=departments, total=total, message=f"page {page}")

    def GetTaskStatistics(self, request, context):
        """Window [start_time, end_time) of scheduled times, default from the start of the current month (platform
        zone) to now, at most 366 days, widened to whole local days (the figures come from the day rollups;
        ``message`` names the window used). ``department_id`` 0 = the caller's whole scope."""
        user = current_actor().user
        require_permission(user, "record:view")
        department_id = _department_in_scope(user, optional_id("department_id", request.department_id))
        start, end = _window("start_time", request.start_time, "end_time", request.end_time)
        end = end or timezone.now()
        if start is None:
            start = month_start(end)
        if start >= end:
            raise errors.invalid("start_time", _("must be before end_time (default: now)"))
        if end - start > MAX_STATS_WINDOW:
            raise errors.invalid("start_time", _("the window may span at most 366 days"))
        stats = record_selectors.record_window_stats(user=user, start=start, end=end, department_id=department_id)
        execution_stats = {"total": stats["total"], "success": stats["successCount"], "failed": stats["failCount"],
                           "running": stats["runningCount"], "killed": stats["killedCount"],
                           "skipped": stats["skippedCount"], "lost": stats["lostCount"]}
        if stats["p95CostTime"] is not None:
            execution_stats["p95CostTime"] = stats["p95CostTime"]
        return pb.TaskStatisticsResponse(
            success=True, task_count=task_selectors.task_count(user=user, department_id=department_id),
            success_rate=float(stats["successRate"] or 0), avg_execution_time=float(stats["avgCostTime"] or 0),
            execution_stats={k: float(v) for k, v in execution_stats.items()},
            message=f"{iso(stats['windowStart'])} .. {iso(stats['windowEnd'])} (whole days, {settings.TIME_ZONE})")

    def GetStatistics(self, request, context):
        """The seed's ``GetStatistics(department_id, period)``: ``period`` day | week | month | year (today, the
        last 7 local days, this month, the last 12 months; ``""`` = month) up to now, read from the record
        rollups over whole local days like :meth:`GetTaskStatistics`. ``department_id`` 0 = the caller's whole
        scope, else exactly that department (NOT_FOUND outside the scope)."""
        user = current_actor().user
        require_permission(user, "record:view")
        department_id = _department_in_scope(user, optional_id("department_id", request.department_id))
        period = request.period.strip().lower() or "month"
        if period not in record_selectors.STATISTICS_PERIODS:
            raise errors.invalid("period", _("must be day, week, month or year (empty = month)"))
        now = timezone.now()
        stats = record_selectors.record_window_stats(user=user, start=record_selectors.period_start(period, now),
                                                     end=now, department_id=department_id)
        return pb.StatisticsResponse(
            success=True, task_count=task_selectors.task_count(user=user, department_id=department_id),
            success_rate=float(stats["successRate"] or 0), avg_execution_time=float(stats["avgCostTime"] or 0),
            message=f"{period}: {iso(stats['windowStart'])} .. {iso(stats['windowEnd'])} "
                    f"(whole days, {settings.TIME_ZONE})")


def month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s month in the platform time zone."""
    local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
