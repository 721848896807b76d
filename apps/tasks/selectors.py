"""Reads for tasks, always within the actor's scope."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.tasks.models import SchedulerState, Task, TriggerRequest
from djs_platform.tenancy import get_in_scope


def task_list(*, user: User, keyword: str | None = None, department_id: int | None = None,
              task_type: str | None = None, status: int | None = None) -> QuerySet[Task]:
    # The department (for departmentName) comes from a second query over the page's rows, not a JOIN: with
    # the join MySQL/MariaDB drive the plan from the small department table and filesort every task in scope
    # to find one page (~100 ms at 10k tasks); alone, ``ORDER BY id DESC LIMIT n`` walks the primary key.
    qs = Task.objects.restrict(user, "task:view").prefetch_related("department", "child_links")
    if keyword:
        qs = qs.filter(name__icontains=keyword)
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    if task_type:
        qs = qs.filter(task_type=task_type)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


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
    from django.utils import timezone

    from apps.tasks.models import SchedulerNode

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
    from django.utils import timezone

    from apps.tasks import nodestats
    from apps.tasks.models import NodeMinute, SchedulerNode

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
    from django.utils import timezone

    from apps.tasks.scheduler.repository import running_elsewhere

    return len(running_elsewhere(task_id, timezone.now()))
