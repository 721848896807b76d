"""The tenant-isolation check (STYLE.md #12) in gRPC: HQ > A > A1, HQ > B; the actor sits in A with every
permission but system:manage.

* every task-addressed method answers NOT_FOUND for B's (sibling) and HQ's (parent) task, with the same
  message as for a missing id, and changes nothing;
* list methods show A's and A1's rows, never B's or HQ's;
* create cannot target B (INVALID_ARGUMENT on the department field, nothing created); A1 is fine.
"""
from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.tasks.models import SchedulerNode, Task, TriggerRequest
from rpc.generated import data_pb2, mcp_pb2, scheduler_pb2
from rpc.tests.conftest import Rpc, fails
from tests.factories import TaskFactory
from tests.isolation import ACTOR_CODES

pytestmark = pytest.mark.django_db(transaction=True)
MISSING = 10**12

TASK_METHODS: dict[str, Callable[[Rpc, int], object]] = {
    "PauseTask": lambda c, i: c.scheduler.PauseTask(scheduler_pb2.TaskRequest(task_id=i)),
    "ResumeTask": lambda c, i: c.scheduler.ResumeTask(scheduler_pb2.TaskRequest(task_id=i)),
    "GetTaskStatus": lambda c, i: c.scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=i)),
    "ExecuteTaskImmediately": lambda c, i: c.scheduler.ExecuteTaskImmediately(scheduler_pb2.TaskRequest(task_id=i)),
    "DeleteTask": lambda c, i: c.scheduler.DeleteTask(scheduler_pb2.TaskRequest(task_id=i)),
    "KillTask": lambda c, i: c.scheduler.KillTask(scheduler_pb2.TaskRequest(task_id=i)),
    "GetModelContext": lambda c, i: c.mcp.GetModelContext(mcp_pb2.ModelContextRequest(model_id=f"task:{i}")),
    "GetTaskHistory": lambda c, i: c.data.GetTaskHistory(data_pb2.TaskHistoryRequest(task_id=i)),
}


@pytest.fixture
def actor(org):
    return org.member(org.a, ACTOR_CODES)


@pytest.fixture
def tasks(org) -> dict[str, Task]:
    return {name: TaskFactory(department=getattr(org, name), status=1, next_execute_time=None)
            for name in ("a", "a1", "b", "hq")}


@pytest.fixture
def live_node(db):
    # A live node, so ExecuteTaskImmediately is not refused for a reason other than scope.
    now = timezone.now()
    return SchedulerNode.objects.create(name="node-iso", host="h", pid=1, started_at=now, heartbeat_at=now)


@pytest.mark.parametrize("method", list(TASK_METHODS))
@pytest.mark.parametrize("foreign", ["b", "hq"])
def test_task_of_another_department_is_not_found_and_unchanged(rpc, org, actor, tasks, live_node, method, foreign):
    client = rpc(actor)
    task = tasks[foreign]
    before = Task.objects.filter(pk=task.pk).values().get()
    err = fails(grpc.StatusCode.NOT_FOUND, lambda: TASK_METHODS[method](client, task.pk))
    missing = fails(grpc.StatusCode.NOT_FOUND, lambda: TASK_METHODS[method](client, MISSING))
    assert err.details() == missing.details() == "task not found"  # indistinguishable from a missing id
    assert Task.objects.filter(pk=task.pk).values().get() == before
    assert not AuditLog.objects.exists() and not TriggerRequest.objects.exists()


@pytest.mark.parametrize("method", list(TASK_METHODS))
def test_task_of_own_and_child_department_is_reachable(rpc, org, actor, tasks, live_node, method):
    client = rpc(actor)
    for name in ("a1", "a"):
        TASK_METHODS[method](client, tasks[name].pk)


def test_a_child_department_member_does_not_reach_the_parent(rpc, org, tasks):
    child = rpc(org.member(org.a1, ACTOR_CODES))
    child.scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=tasks["a1"].pk))
    fails(grpc.StatusCode.NOT_FOUND, lambda: child.scheduler.GetTaskStatus(
        scheduler_pb2.TaskRequest(task_id=tasks["a"].pk)))


def test_lists_show_only_own_department_and_children(rpc, org, actor, tasks, make_record):
    now = timezone.now()
    records = {name: make_record(task, scheduled=now) for name, task in tasks.items()}
    b_user, hq_user, a1_user = org.member(org.b), org.member(org.hq), org.member(org.a1)
    client = rpc(actor)
    history = client.data.GetTaskHistory(data_pb2.TaskHistoryRequest(limit=100))
    assert {r.id for r in history.records} == {records["a"].pk, records["a1"].pk}
    departments = client.data.GetDepartmentList(data_pb2.DepartmentListRequest(size=100))
    assert {d.id for d in departments.departments} == {org.a.pk, org.a1.pk}
    users = {u.id for u in client.data.GetUserList(data_pb2.UserListRequest(size=100)).users}
    assert a1_user.pk in users and actor.pk in users and not users & {b_user.pk, hq_user.pk, org.admin.pk}
    stats = client.data.GetTaskStatistics(data_pb2.TaskStatisticsRequest())
    assert stats.task_count == 2


def test_create_cannot_target_a_foreign_department(rpc, org, actor):
    client = rpc(actor)
    params = json.dumps({"url": "http://127.0.0.1:9/", "httpMethod": "GET"}).encode()

    def create(department) -> scheduler_pb2.ScheduleTaskRequest:
        return scheduler_pb2.ScheduleTaskRequest(name="n", cron_expression="0 * * * *", handler="http",
                                                 params=params, department_id=department.pk)

    for department in (org.b, org.hq):
        err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: client.scheduler.ScheduleTask(create(department)))
        assert err.details().startswith("department_id: ")
    batch = client.scheduler.BatchScheduleTasks(scheduler_pb2.BatchScheduleTasksRequest(tasks=[create(org.b)]))
    assert not batch.overall_success and "department_id" in batch.results[0].message
    assert not Task.objects.exists()
    created = client.scheduler.ScheduleTask(create(org.a1))
    assert Task.objects.get(pk=created.task_id).department_id == org.a1.pk
