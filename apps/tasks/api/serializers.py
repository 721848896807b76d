"""Task request/response shapes. The gRPC servicer validates ScheduleTask params with the same classes."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.tasks.models import ConcurrencyPolicy, MisfirePolicy, TaskType
from apps.tasks.schedule import ScheduleError, load_timezone, parse_schedule
from djs_platform.envelope import PageQuery
from djs_platform.fields import IdField, InputSerializer, StrictCharField, StrictIntegerField

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "idempotency-key", "traceparent",
                    "tracestate", "upgrade", "te", "trailer", "keep-alive", "proxy-authorization"}
GRPC_SERVICE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(?P<port>\d{1,5})/"
                          r"(?P<service>[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+)$")
GRPC_METHOD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_BODY = 65536
#: Most child tasks one task may name (childTaskIds).
MAX_CHILDREN = 20


def validate_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise serializers.ValidationError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise serializers.ValidationError("credentials in the URL are not allowed; use headers")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise serializers.ValidationError("invalid port") from None
    return value


def validate_grpc_service(value: str) -> str:
    match = GRPC_SERVICE.match(value)
    if not match or not 1 <= int(match.group("port")) <= 65535:
        raise serializers.ValidationError("must be host:port/package.Service, e.g. 10.0.0.5:50051/orders.Billing")
    return value


class CronField(StrictCharField):
    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)


@extend_schema_field({"oneOf": [{"type": "object", "additionalProperties": True},
                               {"type": "string", "description": "a JSON object as text"}], "nullable": True})
class JsonObjectTextField(serializers.Field):
    """A JSON object given either as an object or as a string holding one (the original sends strings)."""

    def __init__(self, *, max_bytes: int = MAX_BODY, **kwargs: Any):
        self.max_bytes = max_bytes
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            if not data.strip():
                return {}
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError(f"invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be a JSON object")
        if len(json.dumps(data)) > self.max_bytes:
            raise serializers.ValidationError(f"larger than {self.max_bytes} bytes")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class HeadersField(JsonObjectTextField):
    def to_internal_value(self, data: Any) -> dict[str, str]:
        headers = super().to_internal_value(data)
        if len(headers) > 50:
            raise serializers.ValidationError("at most 50 headers")
        for name, value in headers.items():
            if not HEADER_NAME.match(name):
                raise serializers.ValidationError(f"invalid header name {name!r}")
            if name.lower() in RESERVED_HEADERS:
                raise serializers.ValidationError(f"header {name!r} is set by DJS and cannot be overridden")
            if not isinstance(value, str) or "\r" in value or "\n" in value or len(value) > 8192:
                raise serializers.ValidationError(f"header {name!r} must be a single-line string")
        return headers


class TaskCommonInput(InputSerializer):
    name = StrictCharField(max_length=255)
    description = StrictCharField(max_length=10000, required=False, allow_null=True, allow_blank=True)
    departmentId = IdField()
    cron = CronField()
    timezone = StrictCharField(max_length=64, required=False)
    retryCount = StrictIntegerField(min_value=0, max_value=100, required=False, default=0)
    retryInterval = StrictIntegerField(min_value=0, max_value=86400, required=False, default=0)
    timeout = StrictIntegerField(min_value=1, max_value=86400, required=False, default=30)
    concurrencyPolicy = serializers.ChoiceField(choices=ConcurrencyPolicy.values, required=False,
                                                default=ConcurrencyPolicy.ALLOW)
    misfirePolicy = serializers.ChoiceField(choices=MisfirePolicy.values, required=False, default=MisfirePolicy.SKIP)
    status = StrictIntegerField(min_value=0, max_value=2)
    childTaskIds = serializers.ListField(
        child=IdField(), max_length=MAX_CHILDREN, required=False,
        help_text=f"tasks to trigger after each successful run, in order (at most {MAX_CHILDREN}; the same "
                  "department or below; no cycles; job.childDepth levels). On update: omitted = unchanged, [] = none")

    def validate_childTaskIds(self, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("lists a task more than once")
        return value

    def validate_timezone(self, value: str) -> str:
        try:
            load_timezone(value)
        except ScheduleError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("timezone", settings.TIME_ZONE)
        try:
            attrs["schedule"] = parse_schedule(attrs["cron"], attrs["timezone"])
        except ScheduleError as exc:
            raise serializers.ValidationError({"cron": [str(exc)]}) from None
        return attrs


class HttpTaskInput(TaskCommonInput):
    url = StrictCharField(max_length=2048, validators=[validate_http_url])
    httpMethod = StrictCharField(max_length=10)
    body = StrictCharField(max_length=MAX_BODY, required=False, allow_null=True, allow_blank=True,
                           trim_whitespace=False)
    headers = HeadersField()
    fallbackUrl = StrictCharField(max_length=2048, required=False, allow_null=True, allow_blank=True)

    def validate_httpMethod(self, value: str) -> str:
        if value.upper() not in HTTP_METHODS:
            raise serializers.ValidationError(f"must be one of {', '.join(HTTP_METHODS)}")
        return value.upper()

    def validate_fallbackUrl(self, value: str | None) -> str | None:
        return validate_http_url(value) if value else None


class GrpcTaskInput(TaskCommonInput):
    grpcService = StrictCharField(max_length=255, validators=[validate_grpc_service])
    grpcMethod = StrictCharField(max_length=128)
    grpcParams = JsonObjectTextField()
    fallbackGrpcService = StrictCharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    fallbackGrpcMethod = StrictCharField(max_length=128, required=False, allow_null=True, allow_blank=True)

    def validate_grpcMethod(self, value: str) -> str:
        if not GRPC_METHOD.match(value):
            raise serializers.ValidationError("must be a method name like GetOrder")
        return value

    def validate_fallbackGrpcService(self, value: str | None) -> str | None:
        return validate_grpc_service(value) if value else None

    def validate_fallbackGrpcMethod(self, value: str | None) -> str | None:
        if value and not GRPC_METHOD.match(value):
            raise serializers.ValidationError("must be a method name like GetOrder")
        return value or None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("fallbackGrpcMethod") and not attrs.get("fallbackGrpcService"):
            raise serializers.ValidationError({"fallbackGrpcService": ["required when fallbackGrpcMethod is set"]})
        return attrs


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _no_nul(value: str, what: str) -> str:
    if "\x00" in value:
        raise serializers.ValidationError(f"{what} must not contain NUL characters")
    return value


@extend_schema_field({"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                               {"type": "string", "description": "a JSON object as text"}], "nullable": True})
class ShellEnvField(JsonObjectTextField):
    """Environment variables added to a SHELL task's minimal environment; names DJS_* are set by DJS."""

    def to_internal_value(self, data: Any) -> dict[str, str]:
        env = super().to_internal_value(data)
        if len(env) > 100:
            raise serializers.ValidationError("at most 100 variables")
        for name, value in env.items():
            if not ENV_NAME.match(name):
                raise serializers.ValidationError(f"invalid variable name {name!r}")
            if name.upper().startswith("DJS_"):
                raise serializers.ValidationError(f"variable {name!r}: names DJS_* are set by DJS")
            if not isinstance(value, str) or "\x00" in value or len(value) > 8192:
                raise serializers.ValidationError(f"variable {name!r} must be a string without NUL characters")
        return env


class ShellTaskInput(TaskCommonInput):
    """A command run without a shell: argv = [shellCommand, *shellArgs]. For shell syntax, say so:
    ``shellCommand: "sh"``, ``shellArgs: ["-c", "..."]``."""

    shellCommand = StrictCharField(max_length=1024)
    shellArgs = serializers.ListField(
        child=StrictCharField(max_length=8192, allow_blank=True, trim_whitespace=False), max_length=200,
        required=False, default=list)
    shellWorkdir = StrictCharField(max_length=1024, required=False, allow_null=True, allow_blank=True)
    shellEnv = ShellEnvField()

    def validate_shellCommand(self, value: str) -> str:
        return _no_nul(value, "the command")

    def validate_shellArgs(self, value: list[str]) -> list[str]:
        for arg in value:
            _no_nul(arg, "arguments")
        return value

    def validate_shellWorkdir(self, value: str | None) -> str | None:
        if not value:
            return None
        _no_nul(value, "the working directory")
        if not value.startswith("/"):
            raise serializers.ValidationError("must be an absolute path")
        return value


VERSION_HELP = ("optional optimistic concurrency: the `version` you read; 4009 when the task changed since "
                "(also as the `If-Match` header). Without it the write is last-write-wins.")


def version_field() -> StrictIntegerField:
    return StrictIntegerField(min_value=0, required=False, help_text=VERSION_HELP)


class HttpTaskUpdateInput(HttpTaskInput):
    version = version_field()


class GrpcTaskUpdateInput(GrpcTaskInput):
    version = version_field()


class ShellTaskUpdateInput(ShellTaskInput):
    version = version_field()


class StatusInput(InputSerializer):
    status = StrictIntegerField(min_value=0, max_value=2)
    version = version_field()


class TriggerInput(InputSerializer):
    """Optional one-off overrides for a manual run (the task itself is not changed)."""

    body = StrictCharField(max_length=MAX_BODY, required=False, allow_null=True, allow_blank=True,
                           trim_whitespace=False)
    headers = HeadersField()
    grpcParams = JsonObjectTextField()


class TriggerStatusOutput(serializers.Serializer):
    """``GET /triggers/{id}``: a run-now (or CHILD) request and the record it became."""

    id = serializers.IntegerField()
    taskId = serializers.IntegerField(source="task_id")
    taskName = serializers.CharField(source="task.name")
    triggerType = serializers.CharField(source="trigger_type", help_text="MANUAL (run now) or CHILD")
    requestedAt = serializers.DateTimeField(source="requested_at")
    requestedById = serializers.IntegerField(source="requested_by_id", allow_null=True)
    state = serializers.SerializerMethodField(help_text=(
        "pending: no scheduler node has taken it yet; recorded: a node took it and made the record recordId "
        "(read it with GET /records/{recordId}?year=recordYear&month=recordMonth); dropped: a node took it and "
        "ran nothing (the task's department was disabled, or a CHILD task was disabled)"))
    claimedBy = serializers.CharField(source="claimed_by", allow_null=True, help_text="the scheduler node")
    claimedAt = serializers.DateTimeField(source="claimed_at", allow_null=True)
    recordId = serializers.IntegerField(source="record_id", allow_null=True)
    recordYear = serializers.SerializerMethodField(help_text="year of the record's month table")
    recordMonth = serializers.SerializerMethodField(help_text="month of the record's month table")

    def get_state(self, trigger) -> str:
        if trigger.claimed_by is None:
            return "pending"
        return "recorded" if trigger.record_id is not None else "dropped"

    def get_recordYear(self, trigger) -> int | None:
        return trigger.record_month // 100 if trigger.record_month else None

    def get_recordMonth(self, trigger) -> int | None:
        return trigger.record_month % 100 if trigger.record_month else None


class TaskQuery(PageQuery):
    keyword = serializers.CharField(max_length=100, required=False, allow_blank=True)
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    taskType = serializers.ChoiceField(choices=TaskType.values, required=False)
    status = serializers.IntegerField(min_value=0, max_value=2, required=False)


class CronPreviewQuery(serializers.Serializer):
    cron = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, required=False)
    count = serializers.IntegerField(min_value=1, max_value=50, required=False, default=5)
    # `from`, a Python keyword, is read in validate().

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        raw = self.initial_data.get("from")
        if raw:
            value = serializers.DateTimeField().run_validation(raw)
            attrs["start"] = value
        attrs.setdefault("timezone", settings.TIME_ZONE)
        try:
            attrs["schedule"] = parse_schedule(attrs["cron"], attrs["timezone"])
        except ScheduleError as exc:
            field = "timezone" if "time zone" in str(exc) else "cron"
            raise serializers.ValidationError({field: [str(exc)]}) from None
        return attrs


class TaskOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    departmentId = serializers.IntegerField(source="department_id")
    departmentName = serializers.CharField(source="department.name")
    taskType = serializers.CharField(source="task_type")
    cron = serializers.CharField(source="cron_expression")
    timezone = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    httpMethod = serializers.CharField(source="http_method")
    headers = serializers.JSONField(allow_null=True)
    body = serializers.CharField(allow_null=True)
    fallbackUrl = serializers.CharField(source="fallback_url", allow_null=True)
    grpcService = serializers.CharField(source="grpc_service", allow_null=True)
    grpcMethod = serializers.CharField(source="grpc_method", allow_null=True)
    grpcParams = serializers.CharField(source="grpc_params", allow_null=True)
    fallbackGrpcService = serializers.CharField(source="fallback_grpc_service", allow_null=True)
    fallbackGrpcMethod = serializers.CharField(source="fallback_grpc_method", allow_null=True)
    shellCommand = serializers.CharField(source="shell_command", allow_null=True)
    shellArgs = serializers.ListField(source="shell_args", child=serializers.CharField(), allow_null=True)
    shellWorkdir = serializers.CharField(source="shell_workdir", allow_null=True)
    shellEnv = serializers.DictField(source="shell_env", child=serializers.CharField(), allow_null=True)
    timeout = serializers.IntegerField()
    retryCount = serializers.IntegerField(source="max_retry")
    retryInterval = serializers.IntegerField(source="retry_interval")
    concurrencyPolicy = serializers.CharField(source="concurrency_policy")
    misfirePolicy = serializers.CharField(source="misfire_policy")
    status = serializers.IntegerField()
    lastExecuteTime = serializers.DateTimeField(source="last_execute_time", allow_null=True)
    nextExecuteTime = serializers.DateTimeField(source="next_execute_time", allow_null=True)
    version = serializers.IntegerField(source="revision", help_text="counts edits (not scheduler runs); send it "
                                       "back as `version` or `If-Match` to refuse a write over a newer edit")
    creatorId = serializers.IntegerField(source="creator_id", allow_null=True)
    childTaskIds = serializers.SerializerMethodField(help_text="tasks triggered after each successful run, in order")
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")

    @extend_schema_field({"type": "array", "items": {"type": "integer"}})
    def get_childTaskIds(self, task) -> list[int]:
        return [link.child_id for link in task.child_links.all()]  # prefetched by the list and detail selectors


# --- declarative tasks (POST /tasks/apply; apps/tasks/declarative.py validates the entries) ---------------

#: Most entries one document may hold (a file, a request, ``scheduler.jobs``).
MAX_APPLY_ENTRIES = 1000
#: Longest department reference by name path ("Headquarters/Ops/Billing").
MAX_DEPARTMENT_PATH = 2000

TASK_ENTRY_SCHEMA = {
    "type": "object", "additionalProperties": True,
    "description": "One task: the body of POST /tasks/http, /tasks/grpc or /tasks/shell plus `type` (HTTP, GRPC "
                   "or SHELL; default HTTP); the department either as `departmentId` or as `department` (an id, "
                   "or a name path from the top such as \"Headquarters/Ops\"). Keyed by (department, name).",
}
DEPARTMENT_REF_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 1},
                                   {"type": "string", "minLength": 1, "maxLength": MAX_DEPARTMENT_PATH}]}


@extend_schema_field({"type": "array", "maxItems": MAX_APPLY_ENTRIES, "items": TASK_ENTRY_SCHEMA})
class TaskEntriesField(serializers.Field):
    """The ``tasks`` list, passed on as sent: the declarative service checks it entry by entry with the
    same input serializers as the single-task routes, so the REST route, ``manage.py apply_tasks`` and
    ``scheduler.jobs`` answer identical errors."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "array", "maxItems": MAX_APPLY_ENTRIES, "items": DEPARTMENT_REF_SCHEMA})
class DepartmentRefsField(TaskEntriesField):
    """Extra departments the document owns (for ``prune``), checked by the declarative service."""


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean; ``"true"``, ``1`` and ``"yes"`` are refused."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class TaskApplyInput(InputSerializer):
    tasks = TaskEntriesField()
    departments = DepartmentRefsField(required=False)
    dryRun = StrictBooleanField(required=False, default=False)
    prune = StrictBooleanField(required=False, default=False)


class AppliedTaskOutput(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="position in `tasks`; null for pruned tasks")
    id = serializers.IntegerField(allow_null=True, help_text="null for a task a dry run would create")
    name = serializers.CharField()
    departmentId = serializers.IntegerField(source="department_id")
    departmentName = serializers.CharField(source="department_name")
    taskType = serializers.CharField(source="task_type")
    changes = serializers.ListField(child=serializers.CharField(), help_text="fields an update changes")


class TaskApplyOutput(serializers.Serializer):
    dryRun = serializers.BooleanField(source="dry_run")
    prune = serializers.BooleanField()
    created = AppliedTaskOutput(many=True)
    updated = AppliedTaskOutput(many=True)
    unchanged = AppliedTaskOutput(many=True)
    pruned = AppliedTaskOutput(many=True)


# --- maintenance mode ---------------------------------------------------------------------------------

class SchedulerPauseInput(InputSerializer):
    """Optional body of ``POST /scheduler/pause``."""

    reason = StrictCharField(max_length=255, required=False, allow_blank=True, default="",
                             help_text="why scheduling is paused, shown to every user (at most 255 characters)")


class SchedulerResumeInput(InputSerializer):
    """``POST /scheduler/resume`` takes no fields (a body, if sent, is an empty JSON object)."""


class PausedByOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(allow_null=True, help_text="null once that user is deleted")


class SchedulerStateOutput(serializers.Serializer):
    paused = serializers.BooleanField(help_text="true: no node claims scheduled fires or manual triggers")
    pausedAt = serializers.DateTimeField(source="paused_at", allow_null=True)
    pausedBy = PausedByOutput(source="paused_by", allow_null=True)
    reason = serializers.CharField(allow_blank=True)
