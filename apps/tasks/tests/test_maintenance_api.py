"""Maintenance mode through REST: ``POST /v1/scheduler/pause|resume`` (system:manage), ``GET /v1/scheduler/state``
(everyone) and the pause as ``GET /v1/nodes`` shows it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import AuditLog
from apps.tasks.models import SchedulerNode, SchedulerState
from conftest import Api
from apps.accounts.permissions import PERMISSION_CODES

pytestmark = pytest.mark.django_db

RUNNING = {"paused": False, "pausedAt": None, "pausedBy": None, "reason": ""}


def state_row() -> list[dict]:
    return list(SchedulerState.objects.values())


def test_the_platform_runs_until_someone_pauses_it(org):
    nobody = org.member(org.a1, set())  # no permission code at all: the state is still readable
    assert Api(nobody).get("scheduler/state").expect(0).data == RUNNING
    assert state_row() == []  # a read does not create the row


def test_admin_pauses_with_a_reason_and_every_user_sees_who_why_and_since_when(org):
    before = timezone.now()
    reply = Api(org.admin).post("scheduler/pause", {"reason": "  database upgrade  "}).expect(0).data
    assert reply["paused"] is True and reply["reason"] == "database upgrade"
    assert reply["pausedBy"] == {"id": org.admin.pk, "username": org.admin.username}
    assert before <= parse_datetime(reply["pausedAt"]) <= timezone.now()
    viewer = org.member(org.b, {"task:view"})
    assert Api(viewer).get("scheduler/state").expect(0).data == reply
    audit = AuditLog.objects.get(action="scheduler.pause")
    assert (audit.user_id, audit.object_type, audit.via, audit.changes) == (
        org.admin.pk, "scheduler", "rest", {"paused": {"old": False, "new": True}, "reason": "database upgrade"})


def test_pause_without_a_body_and_resume_clear_the_state(org):
    admin = Api(org.admin)
    assert admin.call("POST", "scheduler/pause").expect(0).data["reason"] == ""  # no body at all
    assert admin.get("scheduler/state").expect(0).data["paused"] is True
    assert admin.call("POST", "scheduler/resume").expect(0).data == RUNNING
    assert admin.get("scheduler/state").expect(0).data == RUNNING
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "scheduler.pause", "scheduler.resume"]


def test_pausing_twice_keeps_the_first_pause_and_resuming_twice_is_harmless(org):
    first = Api(org.admin).post("scheduler/pause", {"reason": "first"}).expect(0).data
    other = org.member(org.hq, {"system:manage"})
    again = Api(other).post("scheduler/pause", {"reason": "second"}).expect(0).data
    assert again == first  # same time, same user, same reason
    Api(other).post("scheduler/resume").expect(0)
    assert Api(org.admin).post("scheduler/resume").expect(0).data == RUNNING
    changes = list(AuditLog.objects.order_by("id").values_list("changes", flat=True))
    assert [c["paused"] for c in changes] == [{"old": False, "new": True}, {"old": True, "new": True},
                                              {"old": True, "new": False}, {"old": False, "new": False}]


@pytest.mark.parametrize("path", ["scheduler/pause", "scheduler/resume"])
def test_pause_and_resume_need_system_manage_and_a_refusal_changes_nothing(org, path):
    everything_else = org.member(org.hq, PERMISSION_CODES - {"system:manage"})
    if path.endswith("resume"):
        Api(org.admin).post("scheduler/pause", {"reason": "kept"}).expect(0)
    before, audits = state_row(), AuditLog.objects.count()
    reply = Api(everything_else).post(path, {}).expect(4003)
    assert "system:manage" in reply.message
    assert state_row() == before and AuditLog.objects.count() == audits


def test_anonymous_callers_get_4010(org):
    for method, path in (("GET", "scheduler/state"), ("POST", "scheduler/pause"), ("POST", "scheduler/resume")):
        Api().call(method, path).expect(4010)
    assert state_row() == []


@pytest.mark.parametrize("body, raw, field", [
    ({"reason": "x" * 256}, None, "reason"),
    ({"reason": 5}, None, "reason"),
    ({"reason": None}, None, "reason"),
    ({"reason": ["a"]}, None, "reason"),
    ({"reason": "ok", "paused": False}, None, "paused"),
    (None, "[1, 2]", None),
    (None, '"pause"', None),
    (None, "{not json", None),
])
def test_bad_pause_input_is_4001_and_changes_nothing(org, body, raw, field):
    admin = Api(org.admin)
    reply = admin.call("POST", "scheduler/pause", body, raw=raw).expect(4001)
    if field:
        assert field in reply.data["fields"], reply.data
    assert state_row() == [] and not AuditLog.objects.exists()
    assert admin.get("scheduler/state").expect(0).data == RUNNING


def test_resume_refuses_fields_and_stays_paused(org):
    admin = Api(org.admin)
    paused = admin.post("scheduler/pause", {"reason": "maintenance"}).expect(0).data
    reply = admin.post("scheduler/resume", {"force": True}).expect(4001)
    assert reply.data["fields"] == {"force": ["unknown field"]}
    assert admin.get("scheduler/state").expect(0).data == paused
    assert AuditLog.objects.filter(action="scheduler.resume").count() == 0


def test_nodes_show_the_platform_switch_and_which_nodes_have_seen_it(org):
    now = timezone.now()
    seen = SchedulerNode.objects.create(name="n-seen", host="h", pid=1, started_at=now, heartbeat_at=now)
    stale = SchedulerNode.objects.create(name="n-stale", host="h", pid=2, started_at=now, heartbeat_at=now)
    viewer = Api(org.member(org.a1, {"task:view"}))

    def nodes() -> dict[str, tuple[bool, bool]]:
        return {n["name"]: (n["paused"], n["schedulerPaused"]) for n in viewer.get("nodes").expect(0).data}

    assert nodes() == {"n-seen": (False, False), "n-stale": (False, False)}
    Api(org.admin).post("scheduler/pause").expect(0)
    # Neither node has heartbeated since the pause began; then one does (it read the switch on that tick).
    assert nodes() == {"n-seen": (False, True), "n-stale": (False, True)}
    SchedulerNode.objects.filter(pk=seen.pk).update(heartbeat_at=timezone.now() + timedelta(milliseconds=10))
    assert nodes() == {"n-seen": (True, True), "n-stale": (False, True)}
    SchedulerNode.objects.filter(pk=stale.pk).update(status="down", heartbeat_at=timezone.now() + timedelta(seconds=1))
    assert nodes()["n-stale"] == (False, True)  # a stopped node claims nothing anyway: not shown as paused
    Api(org.admin).post("scheduler/resume").expect(0)
    assert nodes() == {"n-seen": (False, False), "n-stale": (False, False)}
