"""Tasks REST API: create/update HTTP and gRPC tasks, validation, status, delete, cron preview."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from apps.accounts.models import AuditLog
from apps.tasks.models import Task
from conftest import Api


def http_body(department, **over):
    body = {"name": "ping", "departmentId": department.pk, "cron": "*/5 * * * *", "url": "http://127.0.0.1:9/ping",
            "httpMethod": "POST", "body": '{"a": 1}', "headers": '{"X-Token": "t"}', "retryCount": 2,
            "retryInterval": 5, "fallbackUrl": "http://127.0.0.1:9/fallback", "status": 1}
    body.update(over)
    return body


def grpc_body(department, **over):
    body = {"name": "billing", "departmentId": department.pk, "cron": "0 3 * * *",
            "grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo",
            "grpcParams": '{"message": "hi"}', "status": 1}
    body.update(over)
    return body


def test_create_http_task_with_original_fields(admin_api, org):
    data = admin_api.post("tasks/http", http_body(org.a, timeout=7, timezone="Europe/Berlin",
                                                  concurrencyPolicy="forbid", misfirePolicy="fire_once",
                                                  description="d")).expect(0).data
    assert data["taskType"] == "HTTP" and data["httpMethod"] == "POST"
    assert data["headers"] == {"X-Token": "t"}  # the original sends a JSON string; stored as an object
    assert (data["retryCount"], data["retryInterval"], data["timeout"]) == (2, 5, 7)
    assert (data["concurrencyPolicy"], data["misfirePolicy"], data["timezone"]) == ("forbid", "fire_once",
                                                                                    "Europe/Berlin")
    assert data["nextExecuteTime"] is not None and data["lastExecuteTime"] is None
    assert data["creatorId"] == org.admin.pk and data["departmentName"] == "A"
    next_time = datetime.fromisoformat(data["nextExecuteTime"].replace("Z", "+00:00"))
    assert next_time > datetime.now(timezone.utc) and next_time.minute % 5 == 0
    assert AuditLog.objects.filter(action="task.create", object_id=str(data["id"])).exists()


def test_create_grpc_task(admin_api, org):
    data = admin_api.post("tasks/grpc", grpc_body(org.a, fallbackGrpcService="127.0.0.1:50052/djs.test.Target"))
    data = data.expect(0).data
    assert data["taskType"] == "GRPC" and data["grpcMethod"] == "Echo"
    assert data["fallbackGrpcMethod"] == "Echo"  # defaults to the primary method
    assert data["url"] is None


def test_disabled_task_has_no_next_fire_time_until_enabled(admin_api, org):
    data = admin_api.post("tasks/http", http_body(org.a, status=0)).expect(0).data
    assert data["nextExecuteTime"] is None
    enabled = admin_api.patch(f"tasks/{data['id']}/status", {"status": 1}).expect(0).data
    assert enabled["nextExecuteTime"] is not None and enabled["version"] == data["version"] + 1
    disabled = admin_api.patch(f"tasks/{data['id']}/status", {"status": 0}).expect(0).data
    assert disabled["nextExecuteTime"] is None


def test_update_replaces_fields_and_bumps_version(admin_api, org):
    created = admin_api.post("tasks/http", http_body(org.a)).expect(0).data
    updated = admin_api.put(f"tasks/http/{created['id']}", http_body(org.a1, name="ping2", cron="0 0 * * *",
                                                                      fallbackUrl=None)).expect(0).data
    assert (updated["name"], updated["departmentId"], updated["fallbackUrl"]) == ("ping2", org.a1.pk, None)
    assert updated["version"] == created["version"] + 1
    assert updated["nextExecuteTime"].endswith("00:00Z")


def test_updating_with_the_wrong_type_route_is_refused(admin_api, org):
    created = admin_api.post("tasks/http", http_body(org.a)).expect(0).data
    reply = admin_api.put(f"tasks/grpc/{created['id']}", grpc_body(org.a)).expect(4001)
    assert "PUT /tasks/http/" in reply.message
    assert Task.objects.get(pk=created["id"]).task_type == "HTTP"


@pytest.mark.parametrize("field, value, reason", [
    ("cron", "61 * * * *", "minute"),
    ("cron", "* * * *", "field"),
    ("cron", "@every 0s", "every"),
    ("timezone", "Mars/Olympus", "time zone"),
    ("url", "ftp://x/y", "http"),
    ("url", "http://user:pw@host/", "credentials"),
    ("httpMethod", "TRACE", "GET"),
    ("headers", '{"Host": "x"}', "set by DJS"),
    ("headers", "[1]", "JSON object"),
    ("headers", "{bad", "invalid JSON"),
    ("retryCount", -1, ""),
    ("timeout", 0, ""),
    ("status", 3, ""),
    ("departmentId", "1", ""),
    ("version", 5, "unknown field"),
    ("creatorId", 1, "unknown field"),
])
def test_invalid_http_task_fields_answer_4001_on_the_field(admin_api, org, field, value, reason):
    reply = admin_api.post("tasks/http", http_body(org.a, **{field: value})).expect(4001)
    assert field in reply.data["fields"]
    assert reason.lower() in " ".join(reply.data["fields"][field]).lower()
    assert Task.objects.count() == 0


@pytest.mark.parametrize("field, value", [
    ("grpcService", "no-port/djs.Svc"), ("grpcService", "host:99999/djs.Svc"), ("grpcService", "host:1/NoPackage"),
    ("grpcMethod", "bad method"), ("grpcParams", "[1,2]"), ("fallbackGrpcMethod", "1x"),
])
def test_invalid_grpc_task_fields_answer_4001(admin_api, org, field, value):
    reply = admin_api.post("tasks/grpc", grpc_body(org.a, **{field: value})).expect(4001)
    assert field in reply.data["fields"]
    assert Task.objects.count() == 0


def test_task_permissions_are_enforced(org):
    viewer = org.member(org.a, {"task:view"})
    task = Api(org.admin).post("tasks/http", http_body(org.a)).expect(0).data
    Api(viewer).get(f"tasks/{task['id']}").expect(0)
    Api(viewer).post("tasks/http", http_body(org.a)).expect(4003)
    Api(viewer).put(f"tasks/http/{task['id']}", http_body(org.a)).expect(4003)
    Api(viewer).patch(f"tasks/{task['id']}/status", {"status": 0}).expect(4003)
    Api(viewer).delete(f"tasks/{task['id']}").expect(4003)
    Api(viewer).post(f"tasks/{task['id']}/kill").expect(4003)
    Api(viewer).post(f"tasks/{task['id']}/trigger").expect(4003)
    nobody = org.member(org.a, set())
    Api(nobody).get("tasks").expect(4003)
    assert Task.objects.get(pk=task["id"]).status == 1


def test_list_filters(admin_api, org):
    admin_api.post("tasks/http", http_body(org.a, name="alpha")).expect(0)
    admin_api.post("tasks/grpc", grpc_body(org.b, name="beta", status=0)).expect(0)
    names = lambda reply: sorted(row["name"] for row in reply.expect(0).data["list"])  # noqa: E731
    assert names(admin_api.get("tasks", keyword="alp")) == ["alpha"]
    assert names(admin_api.get("tasks", taskType="GRPC")) == ["beta"]
    assert names(admin_api.get("tasks", departmentId=org.b.pk)) == ["beta"]
    assert names(admin_api.get("tasks", status=1)) == ["alpha"]
    admin_api.get("tasks", taskType="SOAP").expect(4001)


def test_delete_task_and_department_conflict(admin_api, org):
    task = admin_api.post("tasks/http", http_body(org.a1)).expect(0).data
    reply = admin_api.delete(f"departments/{org.a1.pk}").expect(4009)
    assert "tasks" in reply.message
    admin_api.delete(f"tasks/{task['id']}").expect(0)
    admin_api.get(f"tasks/{task['id']}").expect(4004)
    admin_api.delete(f"departments/{org.a1.pk}").expect(0)


def test_trigger_without_a_live_scheduler_node_is_a_conflict(admin_api, org):
    task = admin_api.post("tasks/http", http_body(org.a)).expect(0).data
    assert "no live scheduler node" in admin_api.post(f"tasks/{task['id']}/trigger").expect(4009).message


def test_kill_bumps_the_kill_sequence(admin_api, org):
    task = admin_api.post("tasks/http", http_body(org.a)).expect(0).data
    admin_api.post(f"tasks/{task['id']}/kill").expect(0)
    assert Task.objects.get(pk=task["id"]).kill_seq == 1


def test_cron_preview_lists_local_and_utc_times(admin_api):
    data = admin_api.get("tasks/cron-preview", cron="30 2 * * *", timezone="Europe/Berlin", count=3,
                         **{"from": "2026-03-28T12:00:00Z"}).expect(0).data
    assert [row["local"] for row in data["list"]] == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night: first instant after the gap
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert data["list"][0]["utc"] == "2026-03-29T01:00:00Z"


@pytest.mark.parametrize("params, field", [({"cron": "bad"}, "cron"), ({"cron": "* * * * *", "count": 51}, "count"),
                                           ({"cron": "* * * * *", "timezone": "Nope/Nope"}, "timezone"),
                                           ({}, "cron"), ({"cron": "* * * * *", "from": "yesterday"}, None)])
def test_cron_preview_rejects_bad_input(admin_api, params, field):
    reply = admin_api.get("tasks/cron-preview", **params).expect(4001)
    if field:
        assert field in reply.data["fields"]
