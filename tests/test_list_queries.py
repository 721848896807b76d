"""List endpoints run a fixed number of SQL queries, however many rows they return (no N+1).

Every list route of the URLconf is covered: paginated ones are called with ``size=1`` and ``size=50`` over
more than 50 rows that carry related data (tasks and users in several departments, users and roles with
roles and permissions); the unpaginated ones (departments, nodes, permissions) with one row and with 50+.
A new GET route fails :func:`test_every_get_route_is_classified` until it is added here, either as a list
(then it gets the query check) or as a known non-list route.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone as dj_timezone

from apps.accounts.models import ApiToken, AuditLog, Permission, User
from apps.alerts.models import Alert, AlertPolicy
from apps.executors.models import Executor
from apps.records.models import RecordStatus, record_model
from apps.tasks.models import SchedulerNode, Task
from conftest import Api, Org
from apps.accounts.permissions import PERMISSION_CODES
from tests.factories import DepartmentFactory, RoleFactory, UserFactory

ROWS = 55  # > 50, so size=50 returns a full page
YEAR, MONTH = 2026, 3  # a month table conftest creates before the test transactions


@dataclass
class ListCase:
    """``path`` with ``small`` and ``large`` query parameters (paginated or filtered), or, for lists without
    either, ``grow`` adds rows between the two calls."""

    path: str
    small: dict = field(default_factory=dict)
    large: dict = field(default_factory=dict)
    grow: Callable[[Org], None] | None = None
    base: dict = field(default_factory=dict)


def _add_nodes(org: Org) -> None:
    now = dj_timezone.now()
    SchedulerNode.objects.bulk_create([
        SchedulerNode(name=f"node-{i}", host=f"host-{i % 3}", pid=1000 + i, started_at=now - timedelta(hours=1),
                      heartbeat_at=now - timedelta(seconds=i), status="up" if i % 4 else "dead", running=i % 5,
                      version="1.0") for i in range(1, ROWS)])


def _add_executor_names(org: Org) -> None:
    Executor.objects.bulk_create([Executor(department=org.hq, name=f"grown.Svc{i}", kind="grpc",
                                           address="93.184.216.34:50051", source="manual") for i in range(ROWS)])


def _add_permissions(org: Org) -> None:
    Permission.objects.bulk_create([Permission(name=f"Extra {i}", code=f"zz:extra-{i}", description="test row")
                                    for i in range(ROWS)])


PAGED = {"small": {"size": 1}, "large": {"size": 50}}
CASES: dict[str, ListCase] = {
    "task-list": ListCase("tasks", **PAGED),
    "record-list": ListCase("records", base={"year": YEAR, "month": MONTH}, **PAGED),
    "user-list": ListCase("users", **PAGED),
    "role-list": ListCase("roles", **PAGED),
    "audit-log-list": ListCase("audit-logs", **PAGED),
    "department-list": ListCase("departments", small={"keyword": "qd-001"}, large={"keyword": "qd-"}),
    "department-list?tree": ListCase("departments", base={"tree": "true"}, small={"keyword": "qd-001"},
                                     large={"keyword": "qd-"}),
    "node-list": ListCase("nodes", grow=_add_nodes),
    "alert-policy-list": ListCase("alert-policies", **PAGED),
    "alert-list": ListCase("alerts", **PAGED),
    "permission-list": ListCase("permissions", grow=_add_permissions),
    "user-token-list": ListCase("users/{admin}/tokens", **PAGED),  # the admin's own API tokens (issue 19)
    "executor-list": ListCase("executors", **PAGED),  # the executor registry (issue 19)
    "executor-names": ListCase("executors/names", grow=_add_executor_names),  # names of the admin's department
    # ?sort= (docs/api.md "Sorting") changes the ORDER BY only, never the number of queries
    "task-list?sort": ListCase("tasks", base={"sort": "-nextExecuteTime"}, **PAGED),
    "user-list?sort": ListCase("users", base={"sort": "realName"}, **PAGED),
    "role-list?sort": ListCase("roles", base={"sort": "-updateTime"}, **PAGED),
    "audit-log-list?sort": ListCase("audit-logs", base={"sort": "createTime"}, **PAGED),
    "alert-policy-list?sort": ListCase("alert-policies", base={"sort": "-enabled"}, **PAGED),
    "alert-list?sort": ListCase("alerts", base={"sort": "createTime"}, **PAGED),
    "user-token-list?sort": ListCase("users/{admin}/tokens", base={"sort": "-lastUsedAt"}, **PAGED),
    "executor-list?sort": ListCase("executors", base={"sort": "-lastHeartbeat"}, **PAGED),
    "record-list?range": ListCase("records", base={"year": YEAR, "month": MONTH, "start": "2026-03-01T00:00:00Z",
                                                   "end": "2026-03-02T00:00:00Z"}, **PAGED),
}
# GET routes that are not lists (single objects, summaries, docs, infrastructure).
NOT_LISTS = {"health", "shutdown", "auth-userinfo", "user-detail", "role-detail", "department-detail",
             "task-detail", "task-cron-preview", "record-detail", "record-stats", "schema", "docs", "metrics",
             "web-console", "scheduler-state", "record-log", "alert-policy-detail", "alert-detail",
             "trigger-detail", "not-found", "node-stats", "executor-detail", "features",
             "task-export"}
CATCH_ALL = "^.*$"


@pytest.fixture
def populated(org: Org) -> Org:
    """More than 50 rows of every listed resource, with related rows spread out."""
    departments = [org.a, org.a1, org.b, org.hq]
    departments += [DepartmentFactory(name=f"qd-{i:03d}", parent=departments[i % 3]) for i in range(1, ROWS)]
    roles = [RoleFactory(codes=codes) for codes in (["task:view"], ["task:view", "record:view"],
                                                    ["user:manage", "role:manage", "task:view"])]
    roles += [RoleFactory(codes=["task:view", "task:create"] if i % 2 else ["record:view"]) for i in range(ROWS)]
    for i in range(ROWS):
        UserFactory(department=departments[i % len(departments)], role=roles[i % len(roles)])
    Task.objects.bulk_create([
        Task(name=f"task-{i}", department=departments[i % 7], task_type="HTTP" if i % 3 else "GRPC",
             cron_expression="*/5 * * * *", timezone="UTC", url=f"http://127.0.0.1:9/{i}", status=i % 2,
             creator=org.admin) for i in range(ROWS)])
    model = record_model(YEAR, MONTH)
    start = datetime(YEAR, MONTH, 1, tzinfo=timezone.utc)
    model.objects.bulk_create([
        model(task_id=1 + i % 9, task_name=f"task-{i % 9}", department_id=departments[i % 7].pk,
              task_type="HTTP", trigger_type="SCHEDULE", scheduled_time=start + timedelta(minutes=i),
              status=RecordStatus.SUCCESS if i % 4 else RecordStatus.FAILED, executor="node-1")
        for i in range(ROWS)])
    AuditLog.objects.bulk_create([
        AuditLog(user_id=org.admin.pk, username=org.admin.username, department_id=departments[i % 7].pk,
                 action="task.update", object_type="task", object_id=str(i), object_repr=f"task-{i}",
                 changes={"name": ["a", "b"]}) for i in range(ROWS)])
    tasks = list(Task.objects.filter(name__startswith="task-").order_by("id"))
    AlertPolicy.objects.bulk_create([
        AlertPolicy(department_id=task.department_id, task=task, scope_key=f"task:{task.pk}", creator=org.admin,
                    webhook_url=f"https://hooks.example.com/{i}", emails=["ops@example.com"])
        for i, task in enumerate(tasks)])
    Alert.objects.bulk_create([
        Alert(department_id=task.department_id, policy_id=None, task_id=task.pk, task_name=task.name,
              kind="failure", record_id=i, record_month=YEAR * 100 + MONTH, message=f"failed {i}",
              dedup_key=f"failure:{i}", status="sent", deliveries=[{"channel": "webhook", "target": "t", "ok": True,
                                                                     "statusCode": 200, "error": None}])
        for i, task in enumerate(tasks)])
    SchedulerNode.objects.create(name="node-0", host="host-0", pid=999, started_at=dj_timezone.now(),
                                 heartbeat_at=dj_timezone.now())
    creators = list(User.objects.order_by("id")[:7])
    ApiToken.objects.bulk_create([
        ApiToken(user=org.admin, name=f"token-{i}", prefix="djs_pat_abcdef", token_hash=f"{i:064x}",
                 created_by=creators[i % len(creators)], revoked_at=dj_timezone.now() if i % 3 == 0 else None)
        for i in range(ROWS)])
    Executor.objects.bulk_create([
        Executor(department=departments[i % 7], name=f"svc.n{i}", kind="grpc" if i % 9 else "http",
                 address=f"93.184.216.34:{1000 + i}", source="manual" if i % 2 else "self",
                 ttl_seconds=None if i % 2 else 30, last_heartbeat=None if i % 2 else dj_timezone.now(),
                 registered_by=org.admin) for i in range(ROWS)])
    return org


def _rows(data) -> list:
    return data["list"] if isinstance(data, dict) else data


def _call(api: Api, path: str, params: dict) -> tuple[int, int]:
    """(queries, rows) of one GET."""
    with CaptureQueriesContext(connection) as ctx:
        data = api.get(path, **params).expect(0).data
    return len(ctx.captured_queries), len(_rows(data))


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_list_queries_do_not_grow_with_the_page(case_name, populated, admin_api):
    case = CASES[case_name]
    case = ListCase(case.path.format(admin=populated.admin.pk), case.small, case.large, case.grow, case.base)
    small_params, large_params = {**case.base, **case.small}, {**case.base, **case.large}
    _call(admin_api, case.path, small_params)  # warm per-process caches (record tables, ...)
    small_queries, small_rows = _call(admin_api, case.path, small_params)
    if case.grow:
        case.grow(populated)
    large_queries, large_rows = _call(admin_api, case.path, large_params)
    # the permission list's small call is the whole catalogue (every permission code)
    assert small_rows <= max(11, len(PERMISSION_CODES)) and large_rows >= 50, (small_rows, large_rows)
    print(f"{case_name}: {small_queries} queries for {small_rows} row(s), {large_queries} for {large_rows}")
    assert large_queries == small_queries, (
        f"GET /v1/{case.path}: {small_queries} queries for {small_rows} row(s) but {large_queries} for "
        f"{large_rows} rows (N+1?)")


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_every_get_route_is_classified():
    """Each route answering GET is either a covered list or a known non-list; names ``*-list`` must be
    covered. Fails when a route is added or renamed until this file says what it is."""
    covered = {name.split("?")[0] for name in CASES}
    unknown, uncovered_lists = [], []
    for route, pattern in _routes(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class is not None and not hasattr(view_class, "get"):
            continue  # write-only routes (login, create/update endpoints)
        if pattern.name is None and str(pattern.pattern) == CATCH_ALL:
            continue  # the JSON 404 for unknown routes
        if pattern.name in covered:
            continue
        if (pattern.name or "").endswith("-list"):
            uncovered_lists.append(route)
        elif pattern.name not in NOT_LISTS:
            unknown.append(f"{route} ({pattern.name})")
    assert not uncovered_lists, f"list routes without a query-count case: {uncovered_lists}"
    assert not unknown, f"GET routes neither covered as lists nor known as non-lists: {unknown}"
    missing = covered - {p.name for _, p in _routes(get_resolver().url_patterns)}
    assert not missing, f"cases for routes that no longer exist: {missing}"
