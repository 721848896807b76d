"""POST /v1/tasks/{id}/kill says how many executions were running (issue 20, defect 8): the console answers
"Nothing of this task is running" at 0 instead of "Kill requested"."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.records.models import RecordStatus, month_of, record_model
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def running_record(task, scheduled: datetime, status: int = RecordStatus.RUNNING):
    return record_model(*month_of(scheduled)).objects.create(
        task_id=task.pk, task_name=task.name, department_id=task.department_id, task_type=task.task_type,
        trigger_type="SCHEDULE", scheduled_time=scheduled, start_time=scheduled, status=status, executor="n1")


def test_kill_of_an_idle_task_says_nothing_was_running(admin_api, org):
    task = TaskFactory(department=org.a)
    running_record(task, datetime.now(UTC) - timedelta(minutes=1), status=RecordStatus.SUCCESS)
    data = admin_api.post(f"tasks/{task.pk}/kill").expect(0).data
    assert data == {"taskId": task.pk, "killRequested": True, "running": 0}


def test_kill_counts_the_running_executions(admin_api, org):
    task, other = TaskFactory(department=org.a), TaskFactory(department=org.a)
    now = datetime.now(UTC)
    running_record(task, now - timedelta(seconds=30))
    running_record(task, now - timedelta(seconds=10))
    running_record(other, now - timedelta(seconds=10))
    assert admin_api.post(f"tasks/{task.pk}/kill").expect(0).data["running"] == 2
