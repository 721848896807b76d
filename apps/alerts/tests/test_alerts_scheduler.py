"""Alerts raised by a real scheduler node: failing, hanging and late executions against real HTTP targets,
delivered to a real webhook receiver and a real SMTP server on loopback."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from apps.accounts.models import AuditLog
from apps.alerts.delivery import signature
from apps.alerts.models import Alert, AlertPolicy
from apps.records.models import RecordStatus
from apps.tasks.models import Task
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until
from tests.targets import HttpTarget, Respond, SmtpSink

UTC = timezone.utc
pytestmark = pytest.mark.django_db(transaction=True)
YEARLY = "0 0 1 1 *"


@pytest.fixture
def receiver():
    with HttpTarget() as server:
        yield server


@pytest.fixture
def smtp(settings):
    with SmtpSink() as sink:
        settings.DJS_ALERTS = replace(settings.DJS_ALERTS, smtp=replace(settings.DJS_ALERTS.smtp,
                                                                        host="127.0.0.1", port=sink.port,
                                                                        sender="djs@example.com"))
        yield sink


def policy(receiver, *, task: Task | None = None, department=None, secret: str = "k3y", **over) -> AlertPolicy:
    department = department or task.department
    values = dict(department=department, task=task, on_failure=True, webhook_url=receiver.url("/hook"),
                  webhook_secret=secret, cooldown_seconds=0,
                  scope_key=f"task:{task.pk}" if task else f"department:{department.pk}")
    values.update(over)
    return AlertPolicy.objects.create(**values)


def one_shot(department, url: str, in_seconds: float = 1.0, **over) -> Task:
    return TaskFactory(department=department, url=url, cron_expression=YEARLY, status=2,
                       next_execute_time=datetime.now(UTC) + timedelta(seconds=in_seconds), **over)


def hooks(receiver, n: int, timeout: float = 10.0) -> list[dict]:
    hits = receiver.wait_for(n, "/hook", timeout=timeout)
    for hit in hits:
        assert hit.header("X-DJS-Signature") == signature("k3y", hit.header("X-DJS-Timestamp"), hit.body)
    return [json.loads(hit.body) for hit in hits]


def test_failure_after_retries_alerts_by_signed_webhook_and_email(node_factory, http_target, receiver, smtp, org):
    http_target.on("/fail", status=500, body="boom")
    task = one_shot(org.a, http_target.url("/fail"), max_retry=1)
    policy(receiver, task=task, emails=["ops@example.com"])
    node_factory()
    (record,) = wait_until(finished(task, 1))
    assert record.status == RecordStatus.FAILED and record.retry_times == 1

    (payload,) = hooks(receiver, 1)
    assert (payload["kind"], payload["task"]["id"], payload["record"]["id"]) == ("failure", task.pk, record.pk)
    assert payload["record"]["retryTimes"] == 1 and payload["record"]["statusCode"] == 500
    assert payload["message"].startswith(f"Task {task.name} failed after 1 retry")
    (mail,) = smtp.wait_for(1)
    assert mail.recipients == ["ops@example.com"] and mail.subject == f"[DJS] failure: {task.name}"
    assert f"Record: #{record.pk}" in mail.text

    alert = wait_until(lambda: Alert.objects.filter(status="sent").first())
    assert (alert.kind, alert.record_id, alert.task_id, alert.department_id) == ("failure", record.pk, task.pk,
                                                                                 org.a.pk)
    assert sorted(d["channel"] for d in alert.deliveries) == ["email", "webhook"]
    assert Alert.objects.count() == 1


def test_success_raises_no_alert(node_factory, http_target, receiver, org):
    task = one_shot(org.a, http_target.url("/ok"))
    policy(receiver, task=task, lag_seconds=30, overrun_seconds=30)
    node_factory()
    wait_until(finished(task, 1))
    time.sleep(0.5)
    assert receiver.requests("/hook") == [] and not Alert.objects.exists()


def test_consecutive_failures_alert_once_and_pause_the_task(node_factory, http_target, receiver, org):
    http_target.on("/fail", status=503)
    task = TaskFactory(department=org.a, url=http_target.url("/fail"))  # every second
    policy(receiver, task=task, on_failure=False, consecutive_failures=3, auto_pause=True)
    node_factory()
    (payload,) = hooks(receiver, 1, timeout=15)
    assert payload["kind"] == "consecutive" and payload["taskPaused"] is True
    assert "failed 3 times in a row" in payload["message"] and "disabled" in payload["message"]
    task.refresh_from_db()
    assert task.status == 0 and task.next_execute_time is None
    audit = AuditLog.objects.get(action="task.autopause", object_id=str(task.pk))
    assert audit.username == "system" and audit.changes["status"] == {"old": 1, "new": 0}

    # fires claimed before the pause may still run (lookahead), then nothing more
    time.sleep(2.5)
    count = len(records_of(task))
    time.sleep(1.5)
    assert len(records_of(task)) == count <= 5
    assert [a.kind for a in Alert.objects.all()] == ["consecutive"] and len(receiver.requests("/hook")) == 1


def test_cooldown_folds_repeats_into_one_alert(node_factory, http_target, receiver, org):
    http_target.on("/fail", status=500)
    task = TaskFactory(department=org.a, url=http_target.url("/fail"))
    policy(receiver, task=task, cooldown_seconds=600)
    node_factory()
    wait_until(finished(task, 4), timeout=15)
    alert = wait_until(lambda: Alert.objects.filter(suppressed__gte=2).first(), timeout=5)
    assert Alert.objects.count() == 1 and alert.kind == "failure"
    assert len(receiver.requests("/hook")) == 1


def test_department_rate_limit_suppresses_beyond_max_per_minute(node_factory, http_target, receiver, org, settings):
    settings.DJS_ALERTS = replace(settings.DJS_ALERTS, max_per_minute=2)
    http_target.on("/fail", status=500)
    tasks = [TaskFactory(department=org.a, url=http_target.url("/fail"), name=f"t{i}") for i in range(4)]
    policy(receiver, department=org.a)  # the department default covers all four
    node_factory()
    for task in tasks:
        wait_until(finished(task, 2), timeout=15)
    # 8 failures or more: 2 alerts sent, the rest counted on them
    wait_until(lambda: sum(Alert.objects.values_list("suppressed", flat=True)) >= 6, timeout=10)
    assert len(hooks(receiver, 2)) == 2
    assert Alert.objects.count() == 2 and len(receiver.requests("/hook")) == 2


def test_overrun_alerts_while_the_execution_still_runs(node_factory, http_target, receiver, org):
    http_target.on("/slow", Respond(delay=3.0))
    task = one_shot(org.a, http_target.url("/slow"), timeout=10)
    policy(receiver, task=task, on_failure=False, overrun_seconds=1)
    node_factory()
    (payload,) = hooks(receiver, 1, timeout=10)
    assert payload["kind"] == "overrun" and payload["record"]["status"] == "running"
    assert payload["threshold"] == 1 and payload["seconds"] >= 1
    (record,) = records_of(task)
    assert record.status == RecordStatus.RUNNING  # alerted before the call answered
    (record,) = wait_until(finished(task, 1))
    assert record.status == RecordStatus.SUCCESS and Alert.objects.count() == 1


def test_late_start_alerts_lag(node_factory, http_target, receiver, org):
    # due 3 s ago, well inside the misfire threshold of this node: it fires at once, 3 s late
    task = one_shot(org.a, http_target.url("/ok"), in_seconds=-3)
    policy(receiver, task=task, on_failure=False, lag_seconds=1)  # before the node starts: in its first cache
    node_factory(misfire_threshold=60)
    (payload,) = hooks(receiver, 1)
    assert payload["kind"] == "lag" and payload["threshold"] == 1 and 3 <= payload["seconds"] < 60
    assert payload["record"]["triggerType"] == "SCHEDULE"


def test_department_default_applies_below_and_a_disabled_task_policy_mutes(node_factory, http_target, receiver, org):
    http_target.on("/fail", status=500)
    inherited = one_shot(org.a1, http_target.url("/fail"))
    muted = one_shot(org.a1, http_target.url("/fail"), name="muted")
    policy(receiver, department=org.a)
    policy(receiver, task=muted, enabled=False)
    node_factory()
    wait_until(finished(inherited, 1))
    wait_until(finished(muted, 1))
    (payload,) = hooks(receiver, 1)
    time.sleep(0.5)
    assert payload["task"]["id"] == inherited.pk and len(receiver.requests("/hook")) == 1
