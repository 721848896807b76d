"""Issue 16, findings 6a and 15: an alert policy follows its task when the task moves to another department,
and ``POST /alert-policies/{id}/test`` is rate-limited per user and bounded in time."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from apps.alerts import services
from apps.alerts.models import Alert, AlertPolicy
from conftest import LOOPBACK_EGRESS, Api
from tests.factories import TaskFactory
from tests.targets import HttpTarget, Respond



def policy_body(**over):
    return {"onFailure": True, "webhookUrl": "https://hooks.example.com/djs", **over}


def http_body(task, department):
    return {"name": task.name, "departmentId": department.pk, "cron": task.cron_expression,
            "url": task.url, "httpMethod": "GET", "status": task.status}


# --- 6a ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_after_a_task_moves_its_policy_belongs_to_the_new_department_only(org):
    task = TaskFactory(department=org.a, name="nightly", status=0)
    a_user = Api(org.member(org.a, {"task:view", "task:update", "record:view"}))
    b_user = Api(org.member(org.b, {"task:view", "task:update", "record:view"}))
    pid = a_user.post("alert-policies", policy_body(taskId=task.pk)).expect(0).data["id"]
    Api(org.admin).put(f"tasks/http/{task.pk}", http_body(task, org.b)).expect(0)

    before = list(AlertPolicy.objects.values())
    a_user.get(f"alert-policies/{pid}").expect(4004)
    a_user.put(f"alert-policies/{pid}", {"webhookUrl": "https://a.example.com/steal"}).expect(4004)
    a_user.post(f"alert-policies/{pid}/test").expect(4004)
    a_user.delete(f"alert-policies/{pid}").expect(4004)
    assert a_user.get("alert-policies").expect(0).data["total"] == 0
    assert list(AlertPolicy.objects.values()) == before and not Alert.objects.exists()

    got = b_user.get(f"alert-policies/{pid}").expect(0).data
    assert (got["taskId"], got["departmentId"], got["departmentName"]) == (task.pk, org.b.pk, "B")
    assert [p["id"] for p in b_user.get("alert-policies").expect(0).data["list"]] == [pid]
    assert b_user.get("alert-policies", departmentId=org.b.pk).expect(0).data["total"] == 1
    b_user.put(f"alert-policies/{pid}", {"lagSeconds": 30}).expect(0)
    reply = b_user.post("alert-policies", policy_body(taskId=task.pk)).expect(4009)
    assert f"id {pid}" in reply.message  # B edits the one it now owns


@pytest.mark.django_db
def test_a_policy_left_in_the_old_department_by_an_earlier_move_is_scoped_through_its_task(org):
    """Rows written before the fix keep the old department; access is decided by the task's department."""
    task = TaskFactory(department=org.b, name="moved", status=0)
    policy = AlertPolicy.objects.create(department=org.a, task=task, scope_key=f"task:{task.pk}",
                                        webhook_url="https://a.example.com/hook")
    Api(org.member(org.a, {"task:view", "task:update"})).get(f"alert-policies/{policy.pk}").expect(4004)
    Api(org.member(org.b, {"task:view", "task:update"})).get(f"alert-policies/{policy.pk}").expect(0)


@pytest.mark.django_db(transaction=True)
def test_alerts_of_a_moved_task_follow_its_current_department(node_factory, http_target, org):
    from datetime import datetime, timedelta, timezone

    from tests.scheduling import finished, wait_until

    http_target.on("/fail", status=500)
    with HttpTarget() as receiver:
        task = TaskFactory(department=org.a, url=http_target.url("/fail"), cron_expression="0 0 1 1 *", status=0)
        Api(org.admin).post("alert-policies", policy_body(taskId=task.pk, webhookUrl=receiver.url("/hook"),
                                                          cooldownSeconds=0)).expect(0)
        Api(org.admin).put(f"tasks/http/{task.pk}", http_body(task, org.b)).expect(0)
        task.refresh_from_db()
        task.status, task.next_execute_time = 2, datetime.now(timezone.utc) + timedelta(seconds=1)
        task.save()
        node_factory()
        wait_until(finished(task, 1))
        receiver.wait_for(1, "/hook", timeout=15)
    alert = wait_until(lambda: Alert.objects.filter(task_id=task.pk, kind="failure").first())
    assert alert.department_id == org.b.pk
    assert Api(org.member(org.a, {"record:view"})).get("alerts").expect(0).data["total"] == 0
    assert Api(org.member(org.b, {"record:view"})).get("alerts").expect(0).data["total"] == 1


# --- 15 -----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_test_alerts_are_rate_limited_per_user_with_retry_after(org, settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    task = TaskFactory(department=org.a, status=0)
    with HttpTarget() as receiver:
        pid = Api(org.admin).post("alert-policies", policy_body(taskId=task.pk, webhookUrl=receiver.url("/hook"))
                                  ).expect(0).data["id"]
        user = Api(org.member(org.a, {"task:view", "task:update"}))
        for _ in range(services.TEST_ALERTS_PER_MINUTE):
            user.post(f"alert-policies/{pid}/test").expect(0)
        alerts = Alert.objects.count()
        reply = user.post(f"alert-policies/{pid}/test").expect(4029)
        assert "test alerts" in reply.message
        assert 1 <= int(reply.response["Retry-After"]) <= 60
        assert Alert.objects.count() == alerts  # a refused test sends and stores nothing
        assert len(receiver.requests("/hook")) == services.TEST_ALERTS_PER_MINUTE
        # the limit is per user: another user still may
        Api(org.member(org.a, {"task:view", "task:update"})).post(f"alert-policies/{pid}/test").expect(0)


@pytest.mark.django_db
def test_a_hanging_webhook_holds_the_test_request_only_for_the_short_test_timeout(org, settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    # what nodes wait; the test must not
    settings.DJS_ALERTS = replace(settings.DJS_ALERTS, webhook_timeout=120.0)
    task = TaskFactory(department=org.a, status=0)
    with HttpTarget() as receiver:
        receiver.on("/hook", Respond(hang=True))
        pid = Api(org.admin).post("alert-policies", policy_body(taskId=task.pk, webhookUrl=receiver.url("/hook"))
                                  ).expect(0).data["id"]
        started = time.monotonic()
        alert = Api(org.admin).post(f"alert-policies/{pid}/test").expect(0).data
        elapsed = time.monotonic() - started
    assert alert["status"] == "failed" and "timed out" in alert["deliveries"][0]["error"].lower()
    assert elapsed < services.TEST_TIMEOUT + 5, elapsed
