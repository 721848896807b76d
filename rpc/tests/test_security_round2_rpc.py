"""Issue 16 over gRPC (scheduler.TaskScheduler): ResumeTask and ExecuteTaskImmediately need task:shell for what
runs a SHELL command (7), only top-department operators pause the platform (16), task names are unique per
department ignoring case (16)."""
from __future__ import annotations

import json
from dataclasses import replace

import grpc
import pytest
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.tasks.models import SchedulerNode, SchedulerState, Task, TaskChild, TriggerRequest
from apps.accounts.permissions import PERMISSION_CODES
from rpc.generated import scheduler_pb2 as pb
from rpc.tests.conftest import fails, trailer
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shell_on(settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)


def shell_task(department, status=0, name="backup"):
    return Task.objects.create(name=name, department=department, task_type="SHELL", cron_expression="0 3 * * *",
                               timezone="UTC", shell_command="/bin/true", status=status)


def test_resume_task_of_a_shell_task_needs_task_shell(rpc, org, shell_on):
    task = shell_task(org.a)
    before = Task.objects.filter(pk=task.pk).values().get()
    err = fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(org.member(org.a, {"task:update"})).scheduler
                .ResumeTask(pb.TaskRequest(task_id=task.pk)))
    assert "task:shell" in err.details() and trailer(err, "djs-code") == "4003"
    assert Task.objects.filter(pk=task.pk).values().get() == before
    rpc(org.member(org.a, {"task:update", "task:shell"})).scheduler.ResumeTask(pb.TaskRequest(task_id=task.pk))
    assert Task.objects.get(pk=task.pk).status == 1
    # pausing is always allowed with task:update
    rpc(org.member(org.a, {"task:update"})).scheduler.PauseTask(pb.TaskRequest(task_id=task.pk))
    assert Task.objects.get(pk=task.pk).status == 0


def test_executing_a_parent_of_a_shell_child_needs_task_shell(rpc, org, shell_on):
    now = timezone.now()
    SchedulerNode.objects.create(name="n", host="h", pid=1, started_at=now, heartbeat_at=now)
    parent = TaskFactory(department=org.a, status=0, name="parent")
    TaskChild.objects.create(parent=parent, child=shell_task(org.a1))
    err = fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(org.member(org.a, {"task:execute"})).scheduler
                .ExecuteTaskImmediately(pb.TaskRequest(task_id=parent.pk)))
    assert "task:shell" in err.details() and not TriggerRequest.objects.exists()
    rpc(org.member(org.a, {"task:execute", "task:shell"})).scheduler.ExecuteTaskImmediately(
        pb.TaskRequest(task_id=parent.pk))
    assert TriggerRequest.objects.count() == 1


@pytest.mark.parametrize("method", ["PauseScheduler", "ResumeScheduler"])
def test_a_department_operator_cannot_pause_or_resume_the_platform(rpc, org, method):
    if method == "ResumeScheduler":
        rpc(org.admin).scheduler.PauseScheduler(pb.PauseSchedulerRequest(reason="kept"))
    before, audits = list(SchedulerState.objects.values()), AuditLog.objects.count()
    client = rpc(org.member(org.a, PERMISSION_CODES)).scheduler
    request = pb.PauseSchedulerRequest(reason="x") if method == "PauseScheduler" else pb.ResumeSchedulerRequest()
    err = fails(grpc.StatusCode.PERMISSION_DENIED, lambda: getattr(client, method)(request))
    assert "top department" in err.details()
    assert list(SchedulerState.objects.values()) == before and AuditLog.objects.count() == audits
    getattr(rpc(org.member(org.hq, {"system:manage"})).scheduler, method)(request)


def test_schedule_task_refuses_a_name_taken_in_the_department_ignoring_case(rpc, org):
    params = json.dumps({"url": "http://127.0.0.1:9/", "httpMethod": "GET"}).encode()
    client = rpc(org.admin).scheduler
    client.ScheduleTask(pb.ScheduleTaskRequest(name="Export", cron_expression="0 2 * * *", handler="http",
                                               params=params, department_id=org.a.pk))
    err = fails(grpc.StatusCode.ALREADY_EXISTS, lambda: client.ScheduleTask(pb.ScheduleTaskRequest(
        name="EXPORT", cron_expression="0 2 * * *", handler="http", params=params, department_id=org.a.pk)))
    assert "Export" in err.details() and Task.objects.filter(department=org.a).count() == 1
