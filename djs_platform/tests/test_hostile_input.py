"""Hostile input over REST (issue 16, findings 3 and 13): a lone surrogate, NUL in a header value and JSON nested
thousands of levels deep answer 4001 and change nothing; a bad row written before the checks existed never takes
a list down (the renderer answers U+FFFD for what UTF-8 cannot carry)."""
from __future__ import annotations

import json

import pytest

from apps.accounts.models import AuditLog
from apps.tasks.models import Task
from djs_platform import validation
from tests.factories import TaskFactory

DEEP = 3000


def task_body(department, **over):
    body = {"name": "probe", "departmentId": department.pk, "cron": "*/5 * * * *", "url": "http://127.0.0.1:9/p",
            "httpMethod": "POST", "status": 0}
    body.update(over)
    return body


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def task_count() -> int:
    return Task.objects.count()


# --- finding 3: lone surrogates and NUL never reach the database ---------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("headers", {"X-Probe": "\udfff"}),                 # the reproduction
    ("headers", '{"X-Probe": "\\udfff"}'),              # the same, as the JSON text the original API sends
    ("headers", {"X-Probe": "a\ud800"}),
    ("name", "probe-\udfff"),
    ("description", "\ud83d alone"),
    ("body", '{"k": "\udfff"}'),
])
def test_a_lone_surrogate_in_a_task_is_refused_with_4001_and_nothing_is_stored(admin_api, org, field, value):
    before = task_count()
    reply = admin_api.post("tasks/http", task_body(org.a, **{field: value})).expect(4001)
    assert [k.split(".")[0] for k in reply.data["fields"]] == [field], reply.data
    assert "surrogate" in reply.message
    assert task_count() == before


@pytest.mark.parametrize("headers", [{"X-Probe": "a\x00b"}, '{"X-Probe": "a\\u0000b"}'])
def test_nul_in_a_header_value_is_refused_with_4001(admin_api, org, headers):
    before = task_count()
    reply = admin_api.post("tasks/http", task_body(org.a, headers=headers)).expect(4001)
    assert reply.data["fields"] == {"headers": [reply.message.split(": ", 1)[1]]}
    assert "NUL" in reply.message
    assert task_count() == before


def test_nul_in_trigger_header_overrides_is_refused(admin_api, org):
    task = TaskFactory(department=org.a, status=0)
    reply = admin_api.post(f"tasks/{task.pk}/trigger", {"headers": {"X-Probe": "\x00"}}).expect(4001)
    assert "headers" in reply.data["fields"]


def test_a_pair_of_surrogates_is_an_ordinary_character(admin_api, org):
    data = admin_api.post("tasks/http", task_body(org.a, headers={"X-Probe": "\U0001F600 ok"})).expect(0).data
    assert data["headers"] == {"X-Probe": "\U0001F600 ok"}


def test_a_lone_surrogate_in_a_query_string_value_answers_4001_not_500(admin_api, org):
    # Django decodes a query string with errors="replace", so the surrogate arrives as U+FFFD: harmless
    admin_api.get("tasks", keyword="%ED%BF%BF").expect(0)
    reply = admin_api.get("tasks", keyword="a%00b").expect(4001)
    assert list(reply.data["fields"]) == ["keyword"]


def store_legacy_surrogate(task: Task, department_id: int) -> bool:
    """Write a task header and an audit row holding a lone surrogate, as the API did before the checks. SQLite
    keeps it (JSON text with a "\\udfff" escape); MariaDB's JSON columns check JSON_VALID, which refuses such an
    escape, so there no such row can exist: returns False after proving the database refuses it."""
    from django.db import IntegrityError, connection, transaction

    try:
        with transaction.atomic():
            Task.objects.filter(pk=task.pk).update(headers={"X-Probe": "\udfff"})
            AuditLog.objects.create(username="root-admin", department_id=department_id, action="task.update",
                                    object_type="task", object_id=str(task.pk), object_repr="legacy",
                                    changes={"headers": {"X-Probe": "\udfff"}})
    except IntegrityError:
        assert connection.vendor == "mysql"
        return False
    return True


def test_a_legacy_row_with_a_lone_surrogate_does_not_take_the_lists_down(admin_api, org):
    good = TaskFactory(department=org.a, name="good", status=0)
    bad = TaskFactory(department=org.a, name="legacy", status=0)
    if not store_legacy_surrogate(bad, org.a.pk):  # MariaDB: the database refuses it; the lists just work
        assert {good.pk, bad.pk} <= {row["id"] for row in admin_api.get("tasks", size=100).expect(0).data["list"]}
        return

    listed = admin_api.get("tasks", size=100).expect(0).data
    assert {good.pk, bad.pk} <= {row["id"] for row in listed["list"]}
    assert next(r for r in listed["list"] if r["id"] == bad.pk)["headers"] == {"X-Probe": "\ufffd"}
    assert admin_api.get(f"tasks/{bad.pk}").expect(0).data["headers"] == {"X-Probe": "\ufffd"}
    audit = admin_api.get("audit-logs", objectType="task", objectId=bad.pk).expect(0).data["list"]
    assert [(row["objectRepr"], row["changes"]) for row in audit] == [("legacy",
                                                                        {"headers": {"X-Probe": "\ufffd"}})]


# --- finding 13: JSON nested thousands of levels deep --------------------------------------------------------

def test_a_request_body_nested_3000_levels_answers_4001(admin_api, org):
    before = task_count()
    raw = json.dumps(task_body(org.a))[:-1] + ', "headers": ' + nested(DEEP) + "}"
    reply = admin_api.call("POST", "tasks/http", raw=raw).expect(4001)
    assert f"nested deeper than {validation.max_json_depth()}" in reply.message
    assert task_count() == before


@pytest.mark.parametrize("field", ["headers", "grpcParams"])
def test_json_text_nested_3000_levels_inside_a_field_answers_4001(admin_api, org, field):
    task = TaskFactory(department=org.a, status=0)
    reply = admin_api.post(f"tasks/{task.pk}/trigger", {field: '{"a": ' + nested(DEEP) + "}"}).expect(4001)
    assert field in reply.data["fields"]


def test_a_deep_grpc_params_text_on_create_answers_4001(admin_api, org):
    body = {"name": "deep", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
            "grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo",
            "grpcParams": '{"a": ' + nested(DEEP) + "}"}
    reply = admin_api.post("tasks/grpc", body).expect(4001)
    assert reply.data["fields"].keys() == {"grpcParams"}


def test_a_trigger_body_nested_3000_levels_answers_4001(admin_api, org):
    task = TaskFactory(department=org.a, status=0)
    admin_api.call("POST", f"tasks/{task.pk}/trigger", raw='{"grpcParams": ' + nested(DEEP, "{}") + "}").expect(4001)


def test_an_apply_document_nested_3000_levels_answers_4001(admin_api, org):
    before = task_count()
    raw = '{"tasks": [' + json.dumps(task_body(org.a))[:-1] + ', "grpcParams": ' + nested(DEEP, "{}") + "}]}"
    reply = admin_api.call("POST", "tasks/apply", raw=raw).expect(4001)
    assert "nested deeper" in reply.message
    assert task_count() == before


def test_an_apply_error_that_would_echo_a_lone_surrogate_answers_4001(admin_api, org):
    entry = task_body(org.a, **{"\udfff": 1})
    reply = admin_api.post("tasks/apply", {"tasks": [entry]}).expect(4001)
    assert list(reply.data["fields"]) == ["tasks[0].\\udfff"]
    assert task_count() == 0 or not Task.objects.filter(name="probe").exists()


def test_nesting_up_to_the_limit_is_accepted(admin_api, org):
    depth = validation.max_json_depth() - 3  # body object > grpcParams object > "a" list ...
    body = {"name": "deep-ok", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
            "grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo",
            "grpcParams": {"a": json.loads(nested(depth))}}
    admin_api.post("tasks/grpc", body).expect(0)


# --- the checks themselves -----------------------------------------------------------------------------------

def test_depth_scan_ignores_brackets_inside_strings_and_stops_early():
    assert validation.json_depth('{"a": "[[[[[[[["}') == 1
    assert validation.json_depth('["\\"[[", [[]]]') == 3
    assert validation.json_depth("[" * 10**6) > validation.max_json_depth()


def test_clean_replaces_only_lone_surrogates():
    value = {"k\udfff": ["a\ud800b", "\U0001F600", 5, None]}
    assert validation.clean(value) == {"k\ufffd": ["a\ufffdb", "\U0001F600", 5, None]}
