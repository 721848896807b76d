"""TaskSpec, the typed input of the task services (issue 18 item 4): its checks, the names callers map back,
and the rules that exist once (HTTP methods and headers, cron preview formatting, the save-time egress check)."""
from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.accounts.models import AuditLog
from apps.tasks import httprules, services
from apps.tasks.executors import http as http_executor
from apps.tasks.models import Task
from apps.tasks.schedule import fire_times, parse_schedule
from apps.tasks.specs import TaskSpec, document_name, document_values
from conftest import Api, egress_settings
from djs_platform import errors
from djs_platform.actor import Actor

ROOT = Path(django_settings.BASE_DIR)
HTTP = {"name": "ping", "department_id": 1, "cron": "*/5 * * * *", "status": 1, "url": "http://127.0.0.1:9/ping",
        "http_method": "post"}


def invalid(task_type: str, **values) -> dict[str, list[str]]:
    with pytest.raises(errors.InvalidArgument) as exc:
        TaskSpec.from_values(task_type, values)
    return exc.value.fields


# --- the spec itself (no database) ---------------------------------------------------------------------

def test_a_spec_is_typed_normalised_and_carries_its_schedule():
    spec = TaskSpec.from_values("HTTP", {**HTTP, "name": "  ping ", "headers": '{"X-Token": "t"}', "body": " b ",
                                         "description": "", "child_task_ids": [3, 2], "fallback_url": ""})
    assert (spec.task_type, spec.name, spec.http_method, spec.headers, spec.body) == (
        "HTTP", "ping", "POST", {"X-Token": "t"}, " b ")
    assert (spec.description, spec.fallback_url, spec.child_task_ids, spec.timezone) == (
        None, None, (3, 2), django_settings.TIME_ZONE)
    assert (spec.timeout, spec.max_retry, spec.retry_interval, spec.concurrency_policy, spec.misfire_policy) == (
        30, 0, 0, "allow", "skip")
    assert spec.schedule == parse_schedule("*/5 * * * *", django_settings.TIME_ZONE)
    columns = spec.columns()
    assert (columns["cron_expression"], columns["http_method"], columns["grpc_service"], columns["shell_args"]) == (
        "*/5 * * * *", "POST", None, None)


def test_every_problem_is_named_by_the_spec_s_field_and_reported_together():
    fields = invalid("HTTP", **{**HTTP, "name": "", "max_retry": "2", "child_task_ids": [0, "x"],
                                "headers": {"Host": "x"}, "http_method": "TRACE"})
    assert fields == {"name": ["This field may not be blank."], "max_retry": ["A valid integer is required."],
                      "child_task_ids.0": ["Ensure this value is greater than or equal to 1."],
                      "child_task_ids.1": ["A valid integer is required."],
                      "http_method": ["must be one of GET, POST, PUT, PATCH, DELETE"],
                      "headers": ["header 'Host' is set by DJS and cannot be overridden"]}
    assert invalid("HTTP", name="x") == {"department_id": ["This field is required."],
                                          "cron": ["This field is required."], "status": ["This field is required."],
                                          "url": ["This field is required."],
                                          "http_method": ["This field is required."]}


def test_rules_across_fields_run_once_every_field_is_valid():
    assert invalid("HTTP", **{**HTTP, "cron": "61 * * * *"}) == {"cron": ["minute field: 61 is out of range 0-59"]}
    assert list(invalid("HTTP", **{**HTTP, "cron": "61 * * * *", "status": 9})) == ["status"]
    assert invalid("GRPC", name="g", department_id=1, cron="@daily", status=0, grpc_service="h:1/p.S",
                   grpc_method="M", fallback_grpc_method="N") == {
        "fallback_grpc_service": ["required when fallbackGrpcMethod is set"]}


def test_fields_of_another_type_are_unknown():
    assert invalid("GRPC", **HTTP) == {"http_method": ["unknown field"], "url": ["unknown field"]}


@pytest.mark.parametrize("values, field, message", [
    ({"headers": {"X-A": "a\x00b"}}, "headers", "header 'X-A' must not contain NUL characters"),
    ({"name": "\udfff"}, "name", "lone UTF-16 surrogate"),
    ({"body": "[" * 70 + "]" * 70}, "body", "JSON nested deeper than"),
])
def test_the_hostile_input_checks_apply_to_every_caller(values, field, message):
    fields = invalid("HTTP", **{**HTTP, **values})
    assert list(fields) == [field] and message in fields[field][0]


def test_a_spec_built_directly_is_checked_by_the_services(org):
    spec = TaskSpec(task_type="HTTP", name="direct", department_id=org.a.pk, cron="@hourly", status=0,
                    url="http://127.0.0.1:9/x", http_method="get", headers={"Connection": "close"})
    with pytest.raises(errors.InvalidArgument) as exc:
        services.task_create(actor=Actor(user=org.admin, via="cli"), spec=spec)
    assert exc.value.fields == {"headers": ["header 'Connection' is set by DJS and cannot be overridden"]}
    task = services.task_create(actor=Actor(user=org.admin, via="cli"),
                                spec=TaskSpec(task_type="HTTP", name="direct", department_id=org.a.pk, cron="@hourly",
                                              status=0, url="http://127.0.0.1:9/x", http_method="get"))
    assert (task.http_method, task.timezone, task.creator_id) == ("GET", django_settings.TIME_ZONE, org.admin.pk)
    assert AuditLog.objects.get(action="task.create").via == "cli"


def test_service_errors_use_the_spec_s_names(org):
    member = org.member(org.a)
    spec = TaskSpec.from_values("HTTP", {**HTTP, "department_id": org.b.pk, "http_method": "GET"})
    with pytest.raises(errors.InvalidArgument) as exc:
        services.task_create(actor=Actor(user=member), spec=spec)
    assert exc.value.fields == {"department_id": [f"department {org.b.pk} not found"]}
    spec = TaskSpec.from_values("HTTP", {**HTTP, "department_id": org.a.pk, "child_task_ids": [10**9]})
    with pytest.raises(errors.InvalidArgument) as exc:
        services.task_create(actor=Actor(user=member), spec=spec)
    assert exc.value.fields == {"child_task_ids": ["task 1000000000 not found"]}
    assert not Task.objects.exists()


# --- names: one field, each caller's name ------------------------------------------------------------------

def test_document_names_are_the_rest_body_s():
    assert [document_name(n) for n in ("max_retry", "child_task_ids.3", "department_id", "cron", "grpc_params",
                                       "shell_workdir", "If-Match")] == [
        "retryCount", "childTaskIds.3", "departmentId", "cron", "grpcParams", "shellWorkdir", "If-Match"]
    values, unknown = document_values("SHELL", {"shellCommand": "x", "retryCount": 1, "url": "u", "version": 2},
                                      extra=("version",))
    assert values == {"shell_command": "x", "max_retry": 1} and unknown == {"url": ["unknown field"]}


def test_rest_renames_spec_and_service_errors_to_camel_case(admin_api, org):
    body = {"name": "n", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0, "url": "http://127.0.0.1:9/",
            "httpMethod": "GET", "retryCount": 101, "childTaskIds": [10**9]}
    assert admin_api.post("tasks/http", body).expect(4001).data["fields"] == {
        "retryCount": ["Ensure this value is less than or equal to 100."]}
    body["retryCount"] = 1
    reply = admin_api.post("tasks/http", body).expect(4001)
    assert reply.message == "childTaskIds: task 1000000000 not found"
    assert reply.data["fields"] == {"childTaskIds": ["task 1000000000 not found"]}


def test_a_bad_version_is_reported_after_the_task_s_own_fields(admin_api, org):
    created = admin_api.post("tasks/http", {"name": "n", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
                                            "url": "http://127.0.0.1:9/", "httpMethod": "GET"}).expect(0).data
    reply = admin_api.put(f"tasks/http/{created['id']}", {"name": "", "departmentId": org.a.pk, "cron": "0 3 * * *",
                                                          "status": 0, "url": "http://127.0.0.1:9/",
                                                          "httpMethod": "GET", "version": -1}).expect(4001)
    assert list(reply.data["fields"]) == ["name", "version"] and reply.message.startswith("name: ")


# --- rules that exist once ---------------------------------------------------------------------------------

def test_the_executor_and_the_spec_share_one_method_and_header_rule_set():
    assert http_executor.HTTP_METHODS is httprules.HTTP_METHODS == ("GET", "POST", "PUT", "PATCH", "DELETE")
    assert http_executor.HEADER_NAME is httprules.HEADER_NAME
    with pytest.raises(ValueError, match="unsupported HTTP method 'HEAD'"):
        http_executor._validate(url="http://127.0.0.1/", method="HEAD", headers={}, body=None)
    assert invalid("HTTP", **{**HTTP, "http_method": "head"}) == {
        "http_method": ["must be one of GET, POST, PUT, PATCH, DELETE"]}


@pytest.mark.parametrize("headers, message", [
    ({"X-A": "a\x01b"}, "header 'X-A' must not contain control characters"),
    ({"X-DJS-Recovery": "1"}, "header 'X-DJS-Recovery' is set by DJS and cannot be overridden"),
    ({"Idempotency-Key": "k"}, "header 'Idempotency-Key' is set by DJS and cannot be overridden"),
    ({"X-A": "a\nb"}, "header 'X-A' must be a single-line string"),
    ({"X" * 101: "v"}, f"invalid header name {'X' * 101!r}"),
])
def test_headers_the_executor_would_refuse_or_drop_are_refused_at_save(headers, message):
    assert invalid("HTTP", **{**HTTP, "headers": headers}) == {"headers": [message]}


def test_trigger_overrides_follow_the_same_header_rules(admin_api, org):
    created = admin_api.post("tasks/http", {"name": "n", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
                                            "url": "http://127.0.0.1:9/", "httpMethod": "GET"}).expect(0).data
    reply = admin_api.post(f"tasks/{created['id']}/trigger", {"headers": {"X-A": "a\x01b"}}).expect(4001)
    assert reply.data["fields"] == {"headers": ["header 'X-A' must not contain control characters"]}


def test_the_gRPC_default_method_is_get_or_post_with_a_body():
    assert (httprules.default_method(None), httprules.default_method(""), httprules.default_method("{}")) == (
        "GET", "GET", "POST")


def test_cron_preview_and_the_mcp_context_format_fire_times_alike(admin_api):
    fires = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
    assert fire_times(fires, "Europe/Berlin") == [
        {"local": "2026-03-29T01:30:00+01:00", "utc": "2026-03-29T00:30:00Z"},
        {"local": "2026-03-29T03:30:00+02:00", "utc": "2026-03-29T01:30:00Z"}]
    preview = admin_api.get("tasks/cron-preview", cron="30 * * * *", timezone="Europe/Berlin", count=2,
                            **{"from": "2026-03-29T00:00:00Z"}).expect(0).data
    assert preview["list"] == fire_times(fires, "Europe/Berlin")
    for path in ("apps/tasks/api/views.py", "rpc/servicers/mcp.py"):
        assert "isoformat" not in (ROOT / path).read_text(), path  # both use schedule.fire_times


# --- the save-time egress check ----------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, reason", [
    ("url", "http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("url", "http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe is a cloud metadata address"),
    ("url", "http://metadata.google.internal/x", "host metadata.google.internal is a cloud metadata endpoint"),
    ("url", "http://2130706433/", "2130706433 is not a canonical IP address"),
    ("fallback_url", "http://evil.example/x", "host evil.example is in denyHosts"),
    ("url", "http://10.9.9.9/", "10.9.9.9 is in denyCidrs"),
])
def test_targets_denied_wherever_they_run_are_refused_at_save(settings, field, value, reason):
    settings.DJS_EGRESS = egress_settings(deny_hosts=["evil.example"], deny_cidrs=["10.9.0.0/16"])
    assert invalid("HTTP", **{**HTTP, field: value}) == {field: [f"egress denied: {reason}"]}


def test_the_save_time_check_leaves_node_dependent_targets_to_the_call(settings):
    # loopback and private ranges closed, and still saved: the node decides when it calls
    settings.DJS_EGRESS = egress_settings()
    for url in ("http://127.0.0.1:9/", "http://10.0.0.5/", "http://internal.example/"):
        assert TaskSpec.from_values("HTTP", {**HTTP, "url": url}).url == url
    # an operator who opens metadata on purpose
    settings.DJS_EGRESS = egress_settings(allow_cidrs=["169.254.169.254/32"])
    assert TaskSpec.from_values("HTTP", {**HTTP, "url": "http://169.254.169.254/"}).url


def test_grpc_targets_get_the_save_time_check(settings):
    settings.DJS_EGRESS = egress_settings()
    values = {"name": "g", "department_id": 1, "cron": "@daily", "status": 0, "grpc_method": "M"}
    assert invalid("GRPC", **values, grpc_service="169.254.169.254:80/p.S") == {
        "grpc_service": ["egress denied: 169.254.169.254 is a cloud metadata address"]}
    assert invalid("GRPC", **values, grpc_service="127.0.0.1:1/p.S", fallback_grpc_service="[fd00:ec2::254]:1/p.S") \
        == {"fallback_grpc_service": ["egress denied: fd00:ec2::254 is a cloud metadata address"]}


# --- layering ------------------------------------------------------------------------------------------------

def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", ["apps/tasks/declarative.py", "apps/tasks/services.py", "apps/tasks/specs.py",
                                  "rpc/servicers/scheduler.py", "apps/alerts/services.py", "apps/alerts/specs.py"])
def test_services_and_non_rest_callers_do_not_import_the_rest_serializers(path):
    modules = imported_modules(ROOT / path)
    assert not {m for m in modules if ".api" in m}, path


def test_declarative_uses_only_public_task_services():
    source = (ROOT / "apps/tasks/declarative.py").read_text()
    assert "services._" not in source


def test_the_audit_helpers_live_beside_the_audit_log():
    from apps.accounts import audit
    from apps.accounts import services as account_services

    assert account_services.audit_record is audit.audit_record  # older imports keep working
    for path in ("apps/tasks/services.py", "apps/alerts/services.py", "apps/departments/services.py",
                 "apps/tasks/declarative.py"):
        assert "apps.accounts.services" not in imported_modules(ROOT / path), path


def test_rest_answers_are_unchanged_for_a_plain_create(org):
    body = {"name": "ping", "departmentId": org.a.pk, "cron": "*/5 * * * *", "url": "http://127.0.0.1:9/ping",
            "httpMethod": "post", "headers": '{"X-Token": "t"}', "status": 1}
    data = Api(org.admin).post("tasks/http", body).expect(0).data
    assert (data["httpMethod"], data["headers"], data["timezone"], data["retryCount"], data["childTaskIds"]) == (
        "POST", {"X-Token": "t"}, django_settings.TIME_ZONE, 0, [])


def test_the_documented_request_bodies_name_exactly_the_spec_s_fields():
    """The input serializers only document the bodies (OpenAPI); they must not drift from what the spec takes."""
    from apps.alerts.api import serializers as alert_serializers
    from apps.alerts.specs import EDITABLE, SCOPE, api_name
    from apps.tasks.api import serializers as s
    from apps.tasks.specs import COMMON_FIELDS, DOCUMENT_NAMES, TYPE_FIELDS

    for task_type, create, update in (("HTTP", s.HttpTaskInput, s.HttpTaskUpdateInput),
                                      ("GRPC", s.GrpcTaskInput, s.GrpcTaskUpdateInput),
                                      ("SHELL", s.ShellTaskInput, s.ShellTaskUpdateInput)):
        documented = {DOCUMENT_NAMES[name] for name in COMMON_FIELDS + TYPE_FIELDS[task_type]}
        assert set(create().fields) == documented, task_type
        assert set(update().fields) == documented | {"version"}, task_type
    assert set(alert_serializers.AlertPolicyCreateInput().fields) == {api_name(n) for n in EDITABLE + SCOPE}
    assert set(alert_serializers.AlertPolicyUpdateInput().fields) == {api_name(n) for n in EDITABLE}


def test_a_url_that_does_not_even_parse_is_a_field_error_not_a_crash(admin_api, org):
    reply = admin_api.post("tasks/http", {"name": "n", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
                                          "url": "http://[::1", "httpMethod": "GET"}).expect(4001)
    assert reply.data["fields"] == {"url": ["must be an absolute http:// or https:// URL"]}
