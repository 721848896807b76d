"""`GET /v1/triggers/{id}` (issue 18 item 11, seed 000's `ctl trigger` -> `get-instance` flow): which record a
run-now request became. The link is written by the scheduler node in the transaction that claims the request
and inserts the record, so a real node (own thread and event loop) makes it here; tenancy as for every other
object (another department's trigger answers 4004 like a missing one)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from apps.departments.models import Department
from apps.departments.selectors import disabled_department_ids_clear
from apps.records.models import RecordStatus, month_of
from apps.tasks.models import SchedulerNode, TriggerRequest
from conftest import Api
from apps.accounts.permissions import PERMISSION_CODES
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until

KEYS = {"id", "taskId", "taskName", "triggerType", "requestedAt", "requestedById", "state", "claimedBy", "claimedAt",
        "recordId", "recordYear", "recordMonth"}


def a_live_node_row() -> None:
    """`POST /tasks/{id}/trigger` needs a live node (else 4009); a heartbeat row without a process behind it
    keeps the request pending until the test starts a real node."""
    now = timezone.now()
    SchedulerNode.objects.create(name="heartbeat-only", host="h", pid=1, started_at=now, heartbeat_at=now)


@pytest.mark.django_db(transaction=True)
def test_a_trigger_tells_the_record_it_became(node_factory, http_target, department, org):
    http_target.on("/now", status=200, body='{"ok": true}')
    task = TaskFactory(department=department, url=http_target.url("/now"), status=0)
    api = Api(org.admin)
    a_live_node_row()
    posted = api.post(f"tasks/{task.pk}/trigger", {}).expect(0).data

    waiting = api.get(f"triggers/{posted['triggerId']}").expect(0).data
    assert set(waiting) == KEYS
    assert (waiting["id"], waiting["taskId"], waiting["taskName"], waiting["triggerType"]) == (
        posted["triggerId"], task.pk, task.name, "MANUAL")
    assert (waiting["state"], waiting["recordId"], waiting["recordYear"], waiting["claimedBy"]) == (
        "pending", None, None, None)
    assert waiting["requestedAt"] == posted["requestedAt"] and waiting["requestedById"] == org.admin.pk

    node_factory()

    def recorded():
        data = api.get(f"triggers/{posted['triggerId']}").expect(0).data
        return data if data["state"] == "recorded" else None

    data = wait_until(recorded)
    (row,) = wait_until(finished(task, 1, "MANUAL"))
    assert data["recordId"] == row.pk and (data["recordYear"], data["recordMonth"]) == month_of(row.scheduled_time)
    assert data["claimedBy"] == row.executor and data["claimedAt"] is not None
    record = api.get(f"records/{data['recordId']}", year=data["recordYear"], month=data["recordMonth"]).expect(0).data
    assert (record["taskId"], record["triggerType"], record["status"], record["statusCode"]) == (
        task.pk, "MANUAL", RecordStatus.SUCCESS, 200)
    assert record["response"] == '{"ok": true}'
    stored = TriggerRequest.objects.get(pk=posted["triggerId"])
    assert (stored.record_id, stored.record_month) == (row.pk, row.scheduled_time.year * 100 + row.scheduled_time.month)


@pytest.mark.django_db(transaction=True)
def test_a_trigger_the_node_dropped_says_so_and_names_no_record(node_factory, http_target, org):
    http_target.on("/never", status=200)
    task = TaskFactory(department=org.a1, url=http_target.url("/never"), status=0)
    api = Api(org.admin)
    a_live_node_row()
    trigger_id = api.post(f"tasks/{task.pk}/trigger", {}).expect(0).data["triggerId"]
    Department.objects.filter(pk=org.a.pk).update(status=0)  # A disabled: its subtree's tasks do not run
    disabled_department_ids_clear()
    node_factory()

    def claimed():
        data = api.get(f"triggers/{trigger_id}").expect(0).data
        return data if data["state"] != "pending" else None

    data = wait_until(claimed)
    assert (data["state"], data["recordId"], data["recordYear"], data["recordMonth"]) == ("dropped", None, None, None)
    assert data["claimedBy"] is not None
    assert records_of(task) == [] and http_target.hits("/never") == 0


def _trigger(task) -> TriggerRequest:
    return TriggerRequest.objects.create(task=task, requested_at=datetime(2026, 5, 1, tzinfo=UTC))


def test_triggers_of_other_departments_answer_4004_like_missing_ones(org):
    """The actor sits in A: A's and A1's triggers are visible, B's (sibling) and HQ's (parent) are not."""
    actor = Api(org.member(org.a, PERMISSION_CODES - {"system:manage"}))
    triggers = {name: _trigger(TaskFactory(department=getattr(org, name), status=0)) for name in ("a", "a1", "b", "hq")}
    for name in ("a", "a1"):
        assert actor.get(f"triggers/{triggers[name].pk}").expect(0).data["taskId"] == triggers[name].task_id
    missing = actor.get(f"triggers/{max(t.pk for t in triggers.values()) + 1000}").expect(4004)
    for name in ("b", "hq"):
        foreign = actor.get(f"triggers/{triggers[name].pk}").expect(4004)
        assert (foreign.message, foreign.data) == (missing.message, missing.data) == ("trigger not found", None)


def test_reading_a_trigger_needs_task_view_and_a_token(org):
    trigger = _trigger(TaskFactory(department=org.a, status=0))
    Api(org.member(org.a, {"record:view", "task:execute"})).get(f"triggers/{trigger.pk}").expect(4003)
    Api().get(f"triggers/{trigger.pk}").expect(4010)
    data = Api(org.member(org.a, {"task:view"})).get(f"triggers/{trigger.pk}").expect(0).data
    assert data["state"] == "pending" and data["requestedAt"] == "2026-05-01T00:00:00Z"


@pytest.mark.parametrize("path", ["triggers/0", "triggers/99999999999", "triggers/abc", "triggers/1/x"])
def test_unknown_trigger_paths_answer_4004(admin_api, path):
    admin_api.get(path).expect(4004)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_triggers_are_read_only(admin_api, org, method):
    trigger = _trigger(TaskFactory(department=org.a, status=0))
    admin_api.call(method, f"triggers/{trigger.pk}", {}).expect(4005)
    assert TriggerRequest.objects.filter(pk=trigger.pk).exists()
