"""A disabled department stops its subtree's tasks (issue 16, decision; docs/security.md): scheduler nodes do
not claim them, manual and child triggers of them are not run, the API refuses "run now"; enabling the
department again lets them run (each task's misfire policy decides about missed instants)."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from apps.departments.models import Department
from apps.departments.selectors import disabled_department_ids_clear
from apps.tasks.models import TriggerRequest
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def set_status(department: Department, status: int) -> None:
    Department.objects.filter(pk=department.pk).update(status=status)
    disabled_department_ids_clear()


def test_tasks_below_a_disabled_department_do_not_run_until_it_is_enabled(node_factory, http_target, org,
                                                                          admin_api):
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    below = TaskFactory(department=org.a1, url=http_target.url("/below"), status=2, cron_expression="0 0 1 1 *",
                        next_execute_time=at, misfire_policy="fire_once")
    other = TaskFactory(department=org.b, url=http_target.url("/other"), status=2, cron_expression="0 0 1 1 *",
                        next_execute_time=at)
    set_status(org.a, 0)  # A's subtree (A1) is disabled with it
    node = node_factory()
    wait_until(finished(other, 1), timeout=10)
    reply = admin_api.post(f"tasks/{below.pk}/trigger").expect(4009)
    assert "disabled" in reply.message
    time.sleep(1.5)  # several polls after the instant
    assert http_target.hits("/below") == 0 and records_of(below) == []
    assert not TriggerRequest.objects.exists()

    set_status(org.a, 1)
    wait_until(finished(below, 1), timeout=10)
    assert http_target.hits("/below") == 1
    node.stop()


def test_a_trigger_queued_before_the_department_was_disabled_is_dropped(node_factory, http_target, org):
    task = TaskFactory(department=org.a, url=http_target.url("/t"), status=0, next_execute_time=None)
    TriggerRequest.objects.create(task=task, requested_at=datetime.now(UTC))
    set_status(org.a, 0)
    node_factory()
    wait_until(lambda: TriggerRequest.objects.filter(claimed_by__isnull=False).exists(), timeout=10)
    time.sleep(0.5)
    assert http_target.hits("/t") == 0 and records_of(task) == []
