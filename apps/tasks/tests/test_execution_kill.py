"""Killing ONE execution (issue 20 defect 3): ``POST /v1/records/{id}/kill?year&month`` and gRPC ``KillExecution``
stop that run on whichever node runs it — the record ends ``killed`` — while the task's other runs go on; a run
that is not running is a conflict, another department's is not found, and nothing changes on a refusal."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from apps.records.models import RecordStatus, month_of
from apps.tasks.models import ExecutionKill, Task
from tests.factories import TaskFactory, add_record, records_of
from tests.scheduling import wait_until

UTC = timezone.utc


def _started(task: Task) -> list:
    return [r for r in records_of(task) if r.status == RecordStatus.RUNNING and r.start_time is not None]


@pytest.mark.django_db(transaction=True)
def test_killing_one_execution_stops_that_run_and_leaves_the_tasks_other_run_going(
        node_factory, http_target, department, admin_api):
    http_target.on("/slow", hang=True)
    task = TaskFactory(department=department, url=http_target.url("/slow"), cron_expression="* * * * * *",
                       timeout=60, concurrency_policy="allow",
                       next_execute_time=(datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0))
    node_factory()
    http_target.wait_for(2, "/slow", timeout=10)
    Task.objects.filter(pk=task.pk).update(status=0)  # no third run: two hang now
    victim, other = wait_until(lambda: sorted(_started(task), key=lambda r: r.pk)[:2] if len(_started(task)) >= 2
                               else None)
    year, month = month_of(victim.scheduled_time)
    asked = time.monotonic()
    reply = admin_api.post(f"records/{victim.pk}/kill?year={year}&month={month}").expect(0)
    assert reply.data == {"recordId": victim.pk, "taskId": task.pk, "killRequested": True}
    killed = wait_until(lambda: next((r for r in records_of(task) if r.pk == victim.pk
                                      and r.status == RecordStatus.KILLED), None), timeout=5)
    assert time.monotonic() - asked < 2.5
    assert (killed.success, killed.error) == (False, "killed")
    still = next(r for r in records_of(task) if r.pk == other.pk)
    assert still.status == RecordStatus.RUNNING  # the task's other run goes on
    assert not ExecutionKill.objects.exists()  # the node consumed the request


@pytest.mark.django_db
def test_an_execution_that_is_not_running_or_not_in_scope_is_refused_and_nothing_changes(org, api, admin_api):
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    task = TaskFactory(department=org.a)
    finished = add_record(task_id=task.pk, task_name=task.name, department_id=org.a.pk, scheduled_time=at,
                          status=RecordStatus.SUCCESS, executor="n1")
    waiting = add_record(task_id=task.pk, task_name=task.name, department_id=org.a.pk, start_time=None,
                         scheduled_time=at + timedelta(seconds=1), status=RecordStatus.RUNNING, executor="n1")
    path = f"records/{finished.pk}/kill?year=2026&month=3"
    reply = admin_api.post(path).expect(4009)
    assert reply.message == f"execution {finished.pk} is not running (success)"
    admin_api.post(f"records/{waiting.pk}/kill?year=2026&month=3").expect(4009)  # claimed, not started yet
    admin_api.post(f"records/{finished.pk}/kill?year=2026").expect(4001)
    admin_api.post(f"records/{finished.pk}/kill?year=2026&month=13").expect(4001)
    admin_api.post(f"records/{finished.pk}/kill?year=2026&month=4").expect(4004)  # another month: not found
    api(org.member(org.b)).post(path).expect(4004)             # another department's execution
    api(org.member(org.a, {"task:view", "record:view"})).post(path).expect(4003)  # no task:execute
    assert not ExecutionKill.objects.exists()
    assert Task.objects.get(pk=task.pk).record_kill_seq == 0
