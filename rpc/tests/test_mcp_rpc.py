"""rpc.proto.ModelContextService: a task's runtime context as JSON."""
from __future__ import annotations

import json
from datetime import timedelta

import grpc
import pytest
from django.utils import timezone

from apps.records.models import RecordStatus
from apps.tasks.schedule import parse_schedule
from rpc.generated import mcp_pb2 as pb
from rpc.tests.conftest import fails
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


def context_of(client, model_id: str) -> dict:
    return json.loads(client.mcp.GetModelContext(pb.ModelContextRequest(model_id=model_id)).context)


def test_context_of_an_enabled_task(rpc, org, make_record):
    now = timezone.now()
    task = TaskFactory(department=org.a, name="hourly", status=1, cron_expression="15 * * * *",
                       timezone="Europe/Berlin", headers={"X-A": "1"}, max_retry=2,
                       next_execute_time=now + timedelta(minutes=10), last_execute_time=now - timedelta(minutes=50))
    rows = [make_record(task, scheduled=now - timedelta(minutes=m), cost=m) for m in range(1, 13)]
    make_record(task, scheduled=now - timedelta(days=35), status=RecordStatus.FAILED, cost=1000, error="boom")
    doc = context_of(rpc(org.member(org.a, {"task:view", "record:view"})), f"task:{task.pk}")
    assert (doc["modelId"], doc["type"]) == (f"task:{task.pk}", "task")
    config = doc["configuration"]
    assert (config["id"], config["name"], config["departmentId"], config["departmentName"], config["cron"],
            config["timezone"], config["headers"], config["retryCount"], config["taskType"]) == (
        task.pk, "hourly", org.a.pk, "A", "15 * * * *", "Europe/Berlin", {"X-A": "1"}, 2, "HTTP")
    schedule = doc["schedule"]
    assert (schedule["state"], schedule["status"], schedule["cron"]) == ("enabled", 1, "15 * * * *")
    expected = parse_schedule("15 * * * *", "Europe/Berlin").next_n(timezone.now() - timedelta(seconds=5), 6)
    utc = [fire["utc"] for fire in schedule["nextFireTimes"]]
    assert len(utc) == 5 and all(u.endswith("Z") for u in utc)
    assert utc in ([f.isoformat().replace("+00:00", "Z") for f in expected[:5]],
                   [f.isoformat().replace("+00:00", "Z") for f in expected[1:]])
    assert schedule["nextFireTimes"][0]["local"].endswith(("+01:00", "+02:00"))
    assert schedule["nextExecuteTime"] == (now + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    stats = doc["statistics"]
    assert (stats["successCount"], stats["failCount"], stats["runningCount"]) == (12, 1, 0)
    assert stats["avgExecutionTime"] == round((sum(range(1, 13)) + 1000) / 13, 1)
    recent = doc["recentExecutions"]
    assert [r["id"] for r in recent] == [r.pk for r in rows[:10]]  # the ten latest, newest first
    assert recent[0]["status"] == 1 and recent[0]["costTime"] == 1


def test_context_without_record_view_has_counts_but_no_executions(rpc, org, make_record):
    task = TaskFactory(department=org.a, status=0)
    make_record(task, scheduled=timezone.now() - timedelta(minutes=1))
    doc = context_of(rpc(org.member(org.a, {"task:view"})), f"task:{task.pk}")
    assert doc["recentExecutions"] is None and doc["statistics"]["successCount"] == 1


def test_disabled_task_has_no_next_fire_times_and_a_one_shot_task_one(rpc, org):
    disabled = TaskFactory(department=org.a, status=0)
    once_at = timezone.now() + timedelta(hours=1)
    one_shot = TaskFactory(department=org.a, status=2, next_execute_time=once_at)
    client = rpc(org.admin)
    assert context_of(client, f"task:{disabled.pk}")["schedule"]["nextFireTimes"] == []
    shot = context_of(client, f"task:{one_shot.pk}")["schedule"]
    assert shot["state"] == "one-shot"
    assert [f["utc"] for f in shot["nextFireTimes"]] == [once_at.isoformat().replace("+00:00", "Z")]


@pytest.mark.parametrize("model_id", ["", "task", "task:", "task:abc", "job:1", "task:1:2", "task:-1",
                                      "task:" + "9" * 30])
def test_other_model_ids_are_invalid(rpc, org, model_id):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(org.admin).mcp.GetModelContext(pb.ModelContextRequest(model_id=model_id)))
    assert err.details() == "model_id: must be task:<id>, e.g. task:42"


def test_context_needs_task_view_and_an_existing_task(rpc, org):
    task = TaskFactory(department=org.a, status=0)
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(org.member(org.a, {"record:view"})).mcp.GetModelContext(
        pb.ModelContextRequest(model_id=f"task:{task.pk}")))
    fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(org.admin).mcp.GetModelContext(
        pb.ModelContextRequest(model_id="task:999999999999")))
