"""Alert policies and alerts over REST: validation, permissions, department scope, the test endpoint with a
real webhook receiver and a real SMTP server."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from apps.alerts.delivery import signature
from apps.alerts.models import Alert, AlertPolicy
from conftest import LOOPBACK_EGRESS, Api, egress_settings
from tests.factories import TaskFactory
from tests.targets import HttpTarget, SmtpSink



def policy_body(**over):
    body = {"onFailure": True, "webhookUrl": "https://hooks.example.com/djs", "webhookSecret": "s3cret"}
    body.update(over)
    return body


def snapshot():
    return (list(AlertPolicy.objects.order_by("id").values()), Alert.objects.count())


def test_task_policy_round_trip_never_answers_the_secret(org):
    task = TaskFactory(department=org.a, name="nightly", status=0)
    api = Api(org.member(org.a, {"task:view", "task:update"}))
    created = api.post("alert-policies", policy_body(taskId=task.pk, emails=["ops@example.com"],
                                                     consecutiveFailures=3, autoPause=True)).expect(0).data
    assert created["taskId"] == task.pk and created["departmentId"] == org.a.pk
    assert created["taskName"] == "nightly" and created["hasWebhookSecret"] is True
    assert "webhookSecret" not in created and "s3cret" not in json.dumps(created)
    assert (created["consecutiveFailures"], created["autoPause"], created["cooldownSeconds"]) == (3, True, None)

    got = api.get(f"alert-policies/{created['id']}").expect(0).data
    assert got == created
    # PUT: fields left out keep their value, the secret too; "" removes it
    updated = api.put(f"alert-policies/{created['id']}", {"lagSeconds": 30}).expect(0).data
    assert (updated["lagSeconds"], updated["consecutiveFailures"], updated["hasWebhookSecret"]) == (30, 3, True)
    assert AlertPolicy.objects.get(pk=created["id"]).webhook_secret == "s3cret"
    updated = api.put(f"alert-policies/{created['id']}", {"webhookSecret": ""}).expect(0).data
    assert updated["hasWebhookSecret"] is False
    listed = api.get("alert-policies", taskId=task.pk).expect(0).data
    assert listed["total"] == 1 and listed["list"][0]["id"] == created["id"]
    api.delete(f"alert-policies/{created['id']}").expect(0)
    assert not AlertPolicy.objects.exists()


def test_one_policy_per_task_and_per_department(org):
    task = TaskFactory(department=org.a, status=0)
    admin = Api(org.admin)
    admin.post("alert-policies", policy_body(taskId=task.pk)).expect(0)
    before = snapshot()
    reply = admin.post("alert-policies", policy_body(taskId=task.pk)).expect(4009)
    assert "already has an alert policy" in reply.message
    admin.post("alert-policies", policy_body(departmentId=org.a.pk)).expect(0)
    admin.post("alert-policies", policy_body(departmentId=org.a.pk)).expect(4009)
    assert snapshot()[1] == before[1] and AlertPolicy.objects.count() == 2


@pytest.mark.parametrize("body, field", [
    ({"onFailure": True}, "webhookUrl"),                                          # no channel
    ({"onFailure": False, "webhookUrl": "https://h.example.com/"}, "onFailure"),  # no condition
    ({"autoPause": True, "webhookUrl": "https://h.example.com/"}, "autoPause"),   # autoPause alone
    ({"webhookUrl": "ftp://h.example.com/"}, "webhookUrl"),
    ({"webhookUrl": "https://user:pw@h.example.com/"}, "webhookUrl"),
    ({"emails": ["not-an-address"]}, "emails"),
    ({"emails": ["a@example.com", "A@example.com"]}, "emails"),
    ({"emails": "ops@example.com"}, "emails"),
    ({"emails": [f"u{i}@example.com" for i in range(21)]}, "emails"),
    ({"consecutiveFailures": -1, "emails": ["a@example.com"]}, "consecutiveFailures"),
    ({"consecutiveFailures": "3", "emails": ["a@example.com"]}, "consecutiveFailures"),
    ({"overrunSeconds": 0, "emails": ["a@example.com"]}, "overrunSeconds"),
    ({"lagSeconds": 86401, "emails": ["a@example.com"]}, "lagSeconds"),
    ({"enabled": "true", "emails": ["a@example.com"]}, "enabled"),
    ({"cooldownSeconds": -5, "emails": ["a@example.com"]}, "cooldownSeconds"),
    ({"departmentId": 1, "emails": ["a@example.com"]}, "departmentId"),          # with taskId: not both
    ({"creatorId": 1, "emails": ["a@example.com"]}, "creatorId"),                # mass assignment
])
def test_bad_policy_is_4001_and_changes_nothing(org, body, field):
    task = TaskFactory(department=org.a, status=0)
    before = snapshot()
    reply = Api(org.admin).post("alert-policies", {"taskId": task.pk, **body}).expect(4001)
    assert field in reply.data["fields"], reply.data
    assert snapshot() == before


def test_bad_update_changes_nothing(org):
    task = TaskFactory(department=org.a, status=0)
    api = Api(org.admin)
    pid = api.post("alert-policies", policy_body(taskId=task.pk)).expect(0).data["id"]
    before = snapshot()
    api.put(f"alert-policies/{pid}", {"webhookUrl": None}).expect(4001)  # would leave no channel
    api.put(f"alert-policies/{pid}", {"taskId": task.pk}).expect(4001)   # a policy does not move
    assert snapshot() == before


def test_permissions_and_department_scope(org):
    own = TaskFactory(department=org.a, name="own", status=0)
    sibling = TaskFactory(department=org.b, name="sibling", status=0)
    child = TaskFactory(department=org.a1, name="child", status=0)
    editor = Api(org.member(org.a, {"task:view", "task:update"}))
    viewer = Api(org.member(org.a, {"task:view", "record:view"}))
    manager = Api(org.member(org.a, {"task:view", "task:update", "department:manage"}))
    defaults_only = Api(org.member(org.a, {"task:view", "department:manage"}))

    viewer.post("alert-policies", policy_body(taskId=own.pk)).expect(4003)
    editor.post("alert-policies", policy_body(departmentId=org.a.pk)).expect(4003)  # defaults: department:manage
    defaults_only.post("alert-policies", policy_body(departmentId=org.a.pk)).expect(4003)  # and task:update
    editor.post("alert-policies", policy_body(departmentId=org.b.pk)).expect(4003)  # 4003 before the scope
    reply = editor.post("alert-policies", policy_body(taskId=sibling.pk)).expect(4001)
    assert reply.data["fields"]["taskId"] == [f"task {sibling.pk} not found"]
    manager.post("alert-policies", policy_body(departmentId=org.b.pk)).expect(4001)
    manager.post("alert-policies", policy_body(departmentId=org.hq.pk)).expect(4001)  # the parent: outside

    child_policy = editor.post("alert-policies", policy_body(taskId=child.pk)).expect(0).data
    default = manager.post("alert-policies", policy_body(departmentId=org.a.pk)).expect(0).data
    foreign = Api(org.admin).post("alert-policies", policy_body(taskId=sibling.pk)).expect(0).data

    # a policy outside the scope does not exist for the actor, whatever the verb
    for path in (f"alert-policies/{foreign['id']}", ):
        editor.get(path).expect(4004)
        editor.put(path, {"lagSeconds": 5}).expect(4004)
        editor.delete(path).expect(4004)
        editor.post(path + "/test").expect(4004)
    ids = {p["id"] for p in viewer.get("alert-policies", size=100).expect(0).data["list"]}
    assert ids == {child_policy["id"], default["id"]}
    # editing a department default needs department:manage too; any write needs task:update
    editor.put(f"alert-policies/{default['id']}", {"lagSeconds": 5}).expect(4003)
    editor.delete(f"alert-policies/{default['id']}").expect(4003)
    defaults_only.put(f"alert-policies/{default['id']}", {"lagSeconds": 5}).expect(4003)
    manager.put(f"alert-policies/{default['id']}", {"lagSeconds": 5}).expect(0)
    Api(org.member(org.a, {"task:update"})).get("alert-policies").expect(4003)  # listing needs task:view
    assert AlertPolicy.objects.get(pk=foreign["id"]).lag_seconds is None


def test_alert_list_is_scoped_and_filtered(org):
    for dept, kind in ((org.a, "failure"), (org.a1, "lag"), (org.b, "failure")):
        Alert.objects.create(department_id=dept.pk, task_id=1, task_name="t", kind=kind, message="m",
                             dedup_key=f"{kind}:{dept.pk}", status="sent")
    api = Api(org.member(org.a, {"record:view"}))
    data = api.get("alerts").expect(0).data
    assert data["total"] == 2 and {a["departmentId"] for a in data["list"]} == {org.a.pk, org.a1.pk}
    assert api.get("alerts", kind="lag").expect(0).data["total"] == 1
    api.get("alerts", kind="nonsense").expect(4001)
    foreign = Alert.objects.get(department_id=org.b.pk)
    api.get(f"alerts/{foreign.pk}").expect(4004)
    Api(org.member(org.a, {"task:view"})).get("alerts").expect(4003)


def test_test_endpoint_delivers_signed_webhook_and_email(org, settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    task = TaskFactory(department=org.a, name="nightly", status=0)
    with HttpTarget() as receiver, SmtpSink() as smtp:
        settings.DJS_ALERTS = replace(settings.DJS_ALERTS, smtp=replace(settings.DJS_ALERTS.smtp,
                                                                        host="127.0.0.1", port=smtp.port,
                                                                        sender="djs@example.com"))
        api = Api(org.admin)
        pid = api.post("alert-policies", policy_body(taskId=task.pk, webhookUrl=receiver.url("/hook"),
                                                     emails=["ops@example.com", "oncall@example.com"])
                       ).expect(0).data["id"]
        alert = api.post(f"alert-policies/{pid}/test").expect(0).data
        assert alert["kind"] == "test" and alert["status"] == "sent", alert
        assert {d["channel"]: d["ok"] for d in alert["deliveries"]} == {"webhook": True, "email": True}

        (hit,) = receiver.wait_for(1, "/hook")
        assert hit.method == "POST" and hit.header("Content-Type") == "application/json"
        assert hit.header("X-DJS-Signature") == signature("s3cret", hit.header("X-DJS-Timestamp"), hit.body)
        payload = json.loads(hit.body)
        assert (payload["id"], payload["kind"], payload["task"]["id"]) == (alert["id"], "test", task.pk)

        (mail,) = smtp.wait_for(1)
        assert sorted(mail.recipients) == ["oncall@example.com", "ops@example.com"]
        assert mail.subject == "[DJS] test: nightly" and "Test alert of alert policy" in mail.text
    listed = api.get("alerts", taskId=task.pk).expect(0).data
    assert [a["id"] for a in listed["list"]] == [alert["id"]]


def test_test_endpoint_records_failed_deliveries(org, settings):
    """A receiver answering 500, a mail server refusing recipients, a webhook to a denied address: the
    alert is stored as failed with each channel's error; the API answer is still 200."""
    settings.DJS_EGRESS = egress_settings()  # default policy: loopback is denied
    task = TaskFactory(department=org.a, status=0)
    with HttpTarget() as receiver, SmtpSink(refuse=True) as smtp:
        settings.DJS_ALERTS = replace(settings.DJS_ALERTS, smtp=replace(settings.DJS_ALERTS.smtp,
                                                                        host="127.0.0.1", port=smtp.port))
        api = Api(org.admin)
        pid = api.post("alert-policies", policy_body(taskId=task.pk, webhookUrl=receiver.url("/hook"),
                                                     emails=["ops@example.com"])).expect(0).data["id"]
        alert = api.post(f"alert-policies/{pid}/test").expect(0).data
        assert alert["status"] == "failed"
        errors = {d["channel"]: d["error"] for d in alert["deliveries"]}
        assert "loopback" in errors["webhook"] and "refused" in errors["email"]
        assert receiver.requests("/hook") == [] and smtp.mails() == []

        settings.DJS_EGRESS = LOOPBACK_EGRESS
        receiver.on("/hook", status=500)
        settings.DJS_ALERTS = replace(settings.DJS_ALERTS, smtp=replace(settings.DJS_ALERTS.smtp, host=""))
        alert = api.post(f"alert-policies/{pid}/test").expect(0).data
        errors = {d["channel"]: d["error"] for d in alert["deliveries"]}
        assert alert["status"] == "failed" and errors["webhook"].startswith("HTTP 500")
        assert "alerts.smtp.host is empty" in errors["email"]


def test_retention_deletes_alerts_with_their_months(org):
    """Record retention runs the alerts app's registered prune step: alerts older than the oldest kept month go."""
    from datetime import datetime, timezone

    from apps.records.services import records_prune

    old = Alert.objects.create(department_id=org.a.pk, task_name="t", kind="failure", message="m", dedup_key="old")
    kept = Alert.objects.create(department_id=org.a.pk, task_name="t", kind="failure", message="m", dedup_key="new")
    Alert.objects.filter(pk=old.pk).update(create_time=datetime(2017, 12, 31, 12, tzinfo=timezone.utc))
    Alert.objects.filter(pk=kept.pk).update(create_time=datetime(2018, 1, 2, tzinfo=timezone.utc))
    records_prune(keep_months=1, now=datetime(2018, 1, 15, tzinfo=timezone.utc))  # keeps January 2018 on
    assert list(Alert.objects.values_list("pk", flat=True)) == [kept.pk]
