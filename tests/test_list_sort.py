"""``?sort=<field>`` / ``?sort=-<field>`` on the lists users sort (docs/api.md "Sorting"): the rows come in that
order, ties broken by id in the same direction, and a field outside the list's allow-list answers 4001 naming the
allowed ones, in the request's language. Records are not sortable (newest first, cursor paging)."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from apps.accounts.models import ApiToken, AuditLog
from apps.alerts.models import Alert, AlertPolicy
from apps.executors.models import Executor
from conftest import Api, Org
from tests.factories import RoleFactory, TaskFactory

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _tasks(org: Org) -> list[int]:
    return [TaskFactory(department=org.a, next_execute_time=when).pk for when in (T0, T1, T1)]


def _users(org: Org) -> list[int]:
    return [org.member(org.a, real_name=name).pk for name in ("sort-a", "sort-b", "sort-b")]


def _roles(org: Org) -> list[int]:
    return [RoleFactory(codes=["task:view"], status=status).pk for status in (0, 1, 1)]


def _executors(org: Org) -> list[int]:
    return [Executor.objects.create(department=org.a, name=f"sort.Svc{i}", kind="grpc", weight=weight,
                                    address="93.184.216.34:50051", source="manual").pk
            for i, weight in enumerate((1, 5, 5))]


def _audit_logs(org: Org) -> list[int]:
    ids = [AuditLog.objects.create(user_id=org.admin.pk, username=org.admin.username, department_id=org.a.pk,
                                   action="task.update", object_type="task", object_id=str(i),
                                   object_repr=f"task-{i}").pk for i in range(3)]
    for pk, when in zip(ids, (T0, T1, T1)):
        AuditLog.objects.filter(pk=pk).update(create_time=when)
    return ids


def _alerts(org: Org) -> list[int]:
    ids = [Alert.objects.create(department_id=org.a.pk, kind="failure", message=f"failed {i}",
                                dedup_key=f"sort-test:{i}", status="sent").pk for i in range(3)]
    for pk, when in zip(ids, (T0, T1, T1)):
        Alert.objects.filter(pk=pk).update(create_time=when)
    return ids


def _policies(org: Org) -> list[int]:
    return [AlertPolicy.objects.create(department=org.a, task=TaskFactory(department=org.a), scope_key=f"sort:{i}",
                                       enabled=enabled, webhook_url="https://hooks.example.com/x").pk
            for i, enabled in enumerate((False, True, True))]


def _tokens(org: Org) -> list[int]:
    return [ApiToken.objects.create(user=org.admin, name=f"token-{i}", prefix="djs_pat_abcdef",
                                    token_hash=f"{i + 77:064x}", expires_at=when).pk
            for i, when in enumerate((T0 + timedelta(days=400), T1 + timedelta(days=400), T1 + timedelta(days=400)))]


# path: (field, builder of three rows whose field is low, high, high — the last two a tie)
SORTED: dict[str, tuple[str, Callable[[Org], list[int]]]] = {
    "tasks": ("nextExecuteTime", _tasks),
    "users": ("realName", _users),
    "roles": ("status", _roles),
    "executors": ("weight", _executors),
    "audit-logs": ("createTime", _audit_logs),
    "alerts": ("createTime", _alerts),
    "alert-policies": ("enabled", _policies),
    "users/{admin}/tokens": ("expiresAt", _tokens),
}


def _order(api: Api, path: str, sort: str, ids: list[int]) -> list[int]:
    """The ids among ``ids`` in the order the list answers them (one page of 100 holds them all)."""
    rows = api.get(path, sort=sort, size=100).expect(0).data["list"]
    return [row["id"] for row in rows if row["id"] in ids]


@pytest.mark.parametrize("path", sorted(SORTED))
def test_a_list_sorts_by_an_allowed_field_both_ways_with_ties_by_id(path, org, admin_api):
    field, build = SORTED[path]
    low, tie1, tie2 = build(org)
    path = path.format(admin=org.admin.pk)
    assert _order(admin_api, path, field, [low, tie1, tie2]) == [low, tie1, tie2]
    assert _order(admin_api, path, f"-{field}", [low, tie1, tie2]) == [tie2, tie1, low]


def test_tasks_sort_by_name(org, admin_api):
    ids = {name: TaskFactory(department=org.a, name=name).pk for name in ("sort-b", "sort-a", "sort-c")}
    names = [row["name"] for row in admin_api.get("tasks", departmentId=org.a.pk, sort="name").expect(0).data["list"]]
    assert names == ["sort-a", "sort-b", "sort-c"]
    rows = admin_api.get("tasks", departmentId=org.a.pk, sort="-name", size=2).expect(0).data
    assert [row["id"] for row in rows["list"]] == [ids["sort-c"], ids["sort-b"]] and rows["total"] == 3


@pytest.mark.parametrize("path", sorted(SORTED))
def test_an_unknown_sort_field_is_4001_naming_the_allowed_ones(path, org, admin_api):
    reply = admin_api.get(path.format(admin=org.admin.pk), sort="-bogus").expect(4001)
    assert reply.message.startswith("sort: unknown sort field bogus, one of id, "), reply.message
    assert list(reply.data["fields"]) == ["sort"]


def test_the_unknown_sort_field_message_follows_accept_language(org, admin_api):
    zh = admin_api.call("GET", "tasks?sort=priority", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4001)
    assert CJK.search(zh.message) and "priority" in zh.message and "nextExecuteTime" in zh.message, zh.message

