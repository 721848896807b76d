"""Reads for tasks, always within the actor's scope."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, connections, router
from django.db.models import Count, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.departments.models import Department
from apps.records import rollups
from apps.records.models import (
    RecordStatus,
    RollupCount,
    RollupGrain,
    previous_month,
    recent_record_tables,
    record_model,
    table_name,
)
from apps.tasks import nodestats
from apps.tasks.models import NodeMinute, SchedulerNode, SchedulerState, Task, TaskChild, TriggerRequest
from djs_platform.tenancy import department_scope_ids, get_in_scope


def task_list(*, user: User, keyword: str | None = None, department_id: int | None = None,
              task_type: str | None = None, status: int | None = None, child_of: int | None = None) -> QuerySet[Task]:
    # The page's departments, child links and health are read by :func:`task_page_details` over the page's
    # rows, not JOINed: with the join MySQL/MariaDB drive the plan from the small department table and filesort
    # every task in scope to find one page (~100 ms at 10k tasks); alone, ``ORDER BY id DESC LIMIT n`` walks
    # the primary key.
    qs = Task.objects.restrict(user, "task:view")
    if keyword:
        qs = qs.filter(name__icontains=keyword)
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    if task_type:
        qs = qs.filter(task_type=task_type)
    if status is not None:
        qs = qs.filter(status=status)
    if child_of is not None:  # the parents of a task (the task page's dependency graph): task_child's child index
        qs = qs.filter(child_links__child_id=child_of)
    return qs.order_by("-id")


def task_page_details(*, user: User, tasks: list[Task]) -> None:
    """What a list page shows beside each task's own columns, read for the whole page at once (a constant
    number of queries, tests/test_list_queries.py): ``department`` (its name), ``child_task_ids`` and
    ``health`` (:func:`task_health`). Plain ``values_list`` reads, not ``prefetch_related``: its per-object
    bookkeeping cost more than the queries (docs/performance.md, issue 21)."""
    if not tasks:
        return
    ids = [task.pk for task in tasks]
    departments = Department.objects.only("id", "name").in_bulk({task.department_id for task in tasks})
    children: dict[int, list[int]] = {pk: [] for pk in ids}
    for parent_id, child_id in (TaskChild.objects.filter(parent_id__in=ids).order_by("parent_id", "position", "id")
                                .values_list("parent_id", "child_id")):
        children[parent_id].append(child_id)
    health = task_health(user=user, task_ids=ids)
    for task in tasks:
        task.department = departments[task.department_id]
        task.child_task_ids = children[task.pk]
        task.health = health.get(task.pk)


def task_get(*, user: User, task_id: int) -> Task:
    return get_in_scope(Task.objects.restrict(user, "task:view").select_related("department")
                        .prefetch_related("child_links"), task_id, "task")


def trigger_get(*, user: User, trigger_id: int) -> TriggerRequest:
    """A trigger request of a task in the user's scope (``task:view``); another department's, or a missing one,
    is 4004 alike."""
    tasks = Task.objects.restrict(user, "task:view")
    return get_in_scope(TriggerRequest.objects.filter(task__in=tasks).select_related("task"), trigger_id, "trigger")


def node_list() -> list:
    """Scheduler nodes, newest first, with heartbeat age and liveness (platform-wide, no tenant data)."""
    now = timezone.now()
    nodes = list(SchedulerNode.objects.order_by("-heartbeat_at")[:200])
    state = scheduler_state_get()
    for node in nodes:
        node.heartbeat_age = round((now - node.heartbeat_at).total_seconds(), 1)
        node.alive = node.is_alive(now)
        # A node reads the switch on every poll, before it claims: one that heartbeated after the pause began
        # has stopped claiming (``paused``, as of its last heartbeat). ``scheduler_paused`` is the switch itself.
        node.paused = bool(state.paused and state.paused_at is not None and node.status in ("up", "stopping")
                           and node.heartbeat_at >= state.paused_at)
        node.scheduler_paused = state.paused
    return nodes


def task_in_scope(*, user: User, task_id: int) -> Task:
    """The task if it lies in the user's scope (else 4004), without a permission check: for callers gated by
    another permission, e.g. execution history (``record:view``)."""
    return get_in_scope(Task.objects.restrict(user), task_id, "task")


def task_count(*, user: User, department_id: int | None = None) -> int:
    """Tasks in the user's scope (of one department when given)."""
    qs = Task.objects.restrict(user)
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    return qs.count()


#: The one row of ``scheduler_state`` (created on the first pause).
SCHEDULER_STATE_ID = 1


def scheduler_state_get() -> SchedulerState:
    """Maintenance mode, platform-wide and readable by every user (no tenant data). Not paused while the row
    does not exist yet (it is not created by a read). ``paused_by`` is ``{"id", "username"}`` of the user who
    paused (``username`` None once that user is deleted), None while running."""
    state = SchedulerState.objects.filter(pk=SCHEDULER_STATE_ID).first() or SchedulerState(pk=SCHEDULER_STATE_ID)
    state.paused_by = None
    if state.paused and state.paused_by_id is not None:
        username = User.objects.filter(pk=state.paused_by_id).values_list("username", flat=True).first()
        state.paused_by = {"id": state.paused_by_id, "username": username}
    return state


def node_stats(*, window: timedelta, now: datetime | None = None) -> list[dict]:
    """Per scheduler node over the last ``window`` (whole minutes, the current one included): executions,
    failures, average cost and schedule-lag p95, from the minutes its heartbeats stored. Every node heard from
    in the window is listed — a node that went down during it too — newest heartbeat first."""
    now = now or timezone.now()
    since = (now - window).replace(second=0, microsecond=0)
    figures: dict[str, dict] = {}
    for row in NodeMinute.objects.filter(minute__gte=since).values_list(
            "node_name", "executions", "failures", "cost_sum", "cost_count", "lag_histogram"):
        name, executions, failures, cost_sum, cost_count, lag = row
        entry = figures.setdefault(name, {"executions": 0, "failures": 0, "cost_sum": 0, "cost_count": 0,
                                          "lag": [0] * (len(nodestats.LAG_BOUNDS_MS) + 1), "minutes": 0})
        entry["executions"] += executions
        entry["failures"] += failures
        entry["cost_sum"] += cost_sum
        entry["cost_count"] += cost_count
        entry["minutes"] += 1
        for index, count in enumerate((lag or [])[:len(entry["lag"])]):
            entry["lag"][index] += int(count)
    nodes = {n.name: n for n in SchedulerNode.objects.filter(name__in=list(figures))}
    nodes.update({n.name: n for n in SchedulerNode.objects.filter(heartbeat_at__gte=since)})
    out = []
    for name in sorted(set(figures) | set(nodes), key=lambda n: (-(nodes[n].heartbeat_at.timestamp())
                                                                 if n in nodes else 0, n)):
        entry, node = figures.get(name), nodes.get(name)
        out.append({
            "node": name, "status": node.status if node else None, "alive": bool(node and node.is_alive(now)),
            "executions": entry["executions"] if entry else 0, "failures": entry["failures"] if entry else 0,
            "avgCostMs": round(entry["cost_sum"] / entry["cost_count"], 1) if entry and entry["cost_count"] else None,
            "lagP95Ms": nodestats.lag_p95(entry["lag"]) if entry else None,
            "minutes": entry["minutes"] if entry else 0,
        })
    return out



def task_running_count(*, task_id: int) -> int:
    """How many executions of the task are running now on any node (started, or claimed and overdue), in the
    recent month tables: what a task-level kill can stop (the console says "nothing is running" at 0)."""
    from apps.tasks.scheduler.repository import running_elsewhere  # a cycle: it imports SCHEDULER_STATE_ID

    return len(running_elsewhere(task_id, timezone.now()))


# --- the task list's health columns (issue 20: "is it healthy?") -------------------------------------------

#: The health figures' window: today and the 6 days before, whole local days of the platform zone (the "week" of
#: gRPC GetStatistics).
HEALTH_DAYS = 7


def _empty_health() -> dict:
    return {"runs": 0, "successCount": 0, "failCount": 0, "successRate": None, "running": 0, "lastRun": None}


def task_health(*, user: User, task_ids: list[int], now: datetime | None = None) -> dict[int, dict]:
    """Per task of a list page: finished runs, successes, failures and success rate over the last
    :data:`HEALTH_DAYS` local days (from the task x day rollups; days of a month whose rollups are not built from
    its raw rows), the executions running now (started, not finished), and the last run.

    The last run is the task's newest execution record (highest id) in the current or the previous month table,
    whatever its status (a running one included); None when it has none there, or when that record belongs to a
    department outside the user's scope (a task that moved in from such a department and has not run since).

    Every figure counts only records of the user's department scope, as record reads do (a task that moved keeps
    its old department's records). A constant number of queries whatever the number of tasks: the month tables,
    the months' rollup state, one rollup read, one for the running counts, one for the last runs."""
    ids = sorted(set(task_ids))
    health = {pk: _empty_health() for pk in ids}
    if not ids:
        return health
    scope = sorted(department_scope_ids(user))
    zone = ZoneInfo(settings.TIME_ZONE)
    today = (now or timezone.now()).astimezone(zone).date()
    first = today - timedelta(days=HEALTH_DAYS - 1)
    days = [first + timedelta(days=n) for n in range(HEALTH_DAYS)]
    tables = recent_record_tables()
    months = [ym for ym in (previous_month(today.year, today.month), (today.year, today.month))
              if table_name(*ym) in tables]

    # Finished runs of the window: the task x day cells of built months, the raw rows of the others.
    built = rollups.built_months({(d.year, d.month) for d in days})
    rolled = [d for d in days if (d.year, d.month) in built]
    by_status: dict[int, dict[int, int]] = {pk: {} for pk in ids}
    if rolled:
        where = rollups._cells(RollupGrain.TASK_DAY, (first, today), scope, ids,
                               rolled if len(rolled) < len(days) else None)
        for key_id, status, n in rollups._sum(RollupCount, ("key_id", "status"), ("count",), where, keyed=True):
            cell = by_status[int(key_id)]
            cell[int(status)] = cell.get(int(status), 0) + int(n)
    for year, month in sorted({(d.year, d.month) for d in days} - built):
        if table_name(year, month) not in tables:
            continue
        unbuilt = [d for d in days if (d.year, d.month) == (year, month)]
        start = datetime.combine(unbuilt[0], datetime.min.time(), tzinfo=zone)
        end = datetime.combine(unbuilt[-1] + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        rows = (record_model(year, month).objects.filter(task_id__in=ids, department_id__in=scope,
                                                          scheduled_time__gte=start, scheduled_time__lt=end)
                .exclude(status=RecordStatus.RUNNING).order_by().values("task_id", "status").annotate(n=Count("id")))
        for row in rows:
            cell = by_status[row["task_id"]]
            cell[int(row["status"])] = cell.get(int(row["status"]), 0) + row["n"]
    for pk, counts in by_status.items():
        entry = health[pk]
        entry["runs"] = sum(counts.values())
        entry["successCount"] = counts.get(int(RecordStatus.SUCCESS), 0)
        entry["failCount"] = counts.get(int(RecordStatus.FAILED), 0)
        decided = entry["successCount"] + entry["failCount"]
        entry["successRate"] = round(entry["successCount"] / decided, 4) if decided else None
    if not months:
        return health

    def union(parts: list[QuerySet]) -> QuerySet:
        return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]

    # Running now: started and not finished (status running, start time set; the (task_id, status) index).
    running = union([record_model(y, m).objects.filter(task_id__in=ids, status=RecordStatus.RUNNING,
                                                        start_time__isnull=False, department_id__in=scope)
                     .order_by().values("task_id").annotate(n=Count("id")) for y, m in months])
    for row in running:
        health[row["task_id"]]["running"] += row["n"]

    # The last run: each month's newest record per task (a loose scan of the (task_id, id) index), joined back to
    # its row, both months in one statement.
    model = record_model(*months[-1])
    qn = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(ids))
    columns = ", ".join(f"r.{qn(c)}" for c in ("id", "task_id", "department_id", "status", "trigger_type",
                                                "scheduled_time", "start_time", "end_time", "cost_time"))
    parts, params = [], []
    for year, month in months:
        table = qn(table_name(year, month))
        parts.append(f"SELECT {columns}, {year * 100 + month} AS {qn('month')} FROM {table} r INNER JOIN "
                     f"(SELECT MAX({qn('id')}) AS {qn('last_id')} FROM {table} WHERE {qn('task_id')} IN ({marks}) "
                     f"GROUP BY {qn('task_id')}) m ON r.{qn('id')} = m.{qn('last_id')}")
        params += ids
    # Plain rows, not model instances (``raw()`` built one per task: a third of a 100-row page's time).
    reader = connections[router.db_for_read(model)]
    with reader.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        found = cursor.fetchall()
    latest: dict[int, tuple] = {}
    for row in found:  # (id, task_id, department_id, status, trigger, scheduled, start, end, cost, month)
        seen = latest.get(row[1])
        if seen is None or (row[9], row[0]) > (seen[9], seen[0]):
            latest[row[1]] = row
    allowed = set(scope)
    moment = reader.ops.convert_datetimefield_value
    for task_id, (pk, _, department_id, status, trigger, scheduled, start, end, cost, month) in latest.items():
        if department_id not in allowed:
            continue
        health[task_id]["lastRun"] = {
            "id": pk, "year": month // 100, "month": month % 100, "status": status, "triggerType": trigger,
            "scheduledTime": moment(scheduled, None, reader), "startTime": moment(start, None, reader),
            "endTime": moment(end, None, reader), "costTime": cost}
    return health
