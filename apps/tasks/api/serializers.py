"""Task request/response shapes.

The input classes of the task routes (``HttpTaskInput``, ``GrpcTaskInput``, ``ShellTaskInput`` and their update
forms) describe the request bodies for OpenAPI (``/v1/schema``, ``/v1/docs``); the views do not validate with
them: a body becomes a :class:`~apps.tasks.specs.TaskSpec`, whose checks are the rules (the same for gRPC and
declarative apply). Lengths and ranges below are the spec's constants.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.tasks import httprules
from apps.tasks.declarative import MAX_APPLY_ENTRIES, MAX_DEPARTMENT_PATH
from apps.tasks.models import ConcurrencyPolicy, MisfirePolicy, TaskType
from apps.tasks.routing import DEFAULT_STRATEGY, ROUTE_STRATEGIES
from apps.tasks.schedule import MAX_EXPRESSION_LENGTH, ScheduleError, load_timezone, parse_schedule
from apps.tasks.specs import (
    MAX_BODY,
    MAX_CHILDREN,
    MAX_DESCRIPTION,
    MAX_GRPC_METHOD,
    MAX_GRPC_SERVICE,
    MAX_NAME,
    MAX_RETRY,
    MAX_SECONDS,
    MAX_SHELL_ARG,
    MAX_SHELL_ARGS,
    MAX_SHELL_COMMAND,
    MAX_TIMEZONE,
    MAX_URL,
)
from djs_platform import inputs
from djs_platform.envelope import PageQuery, SortField
from djs_platform.fields import IdField, InputSerializer, StrictCharField, StrictIntegerField

#: The methods an HTTP task may use (apps/tasks/httprules.py).
HTTP_METHODS = httprules.HTTP_METHODS


class CronField(StrictCharField):
    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_length", MAX_EXPRESSION_LENGTH)
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
        try:
            value = inputs.json_object(data, max_bytes=self.max_bytes)
        except inputs.Invalid as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value if value is not None else {}

    def to_representation(self, value: Any) -> Any:
        return value


class HeadersField(JsonObjectTextField):
    """HTTP headers (apps/tasks/httprules.py: the rules a task is saved with and the executor applies)."""

    def to_internal_value(self, data: Any) -> dict[str, str]:
        headers = super().to_internal_value(data)
        problem = httprules.headers_problem(headers)
        if problem:
            raise serializers.ValidationError(problem)
        return headers


ROUTE_HELP = ("which registered instance gets each call when the target is an executor name: round_robin "
              "(weighted), random (weighted), first, consistent_hash (by task id), least_busy, failover "
              "(next instance when a connection cannot be established); docs/executors.md")


class TaskCommonInput(InputSerializer):
    name = StrictCharField(max_length=MAX_NAME)
    description = StrictCharField(max_length=MAX_DESCRIPTION, required=False, allow_null=True, allow_blank=True)
    departmentId = IdField()
    cron = CronField()
    timezone = StrictCharField(max_length=MAX_TIMEZONE, required=False,
                               help_text="IANA zone; default the platform zone (server.timezone)")
    retryCount = StrictIntegerField(min_value=0, max_value=MAX_RETRY, required=False, default=0)
    retryInterval = StrictIntegerField(min_value=0, max_value=MAX_SECONDS, required=False, default=0)
    timeout = StrictIntegerField(min_value=1, max_value=MAX_SECONDS, required=False, default=30)
    concurrencyPolicy = serializers.ChoiceField(choices=ConcurrencyPolicy.values, required=False,
                                                default=ConcurrencyPolicy.ALLOW)
    misfirePolicy = serializers.ChoiceField(choices=MisfirePolicy.values, required=False, default=MisfirePolicy.SKIP)
    status = StrictIntegerField(min_value=0, max_value=2)
    childTaskIds = serializers.ListField(
        child=IdField(), max_length=MAX_CHILDREN, required=False,
        help_text=f"tasks to trigger after each successful run, in order (at most {MAX_CHILDREN}; the same "
                  "department or below; no cycles; job.childDepth levels). On update: omitted = unchanged, [] = none")


class HttpTaskInput(TaskCommonInput):
    url = StrictCharField(max_length=MAX_URL, help_text="absolute http(s) URL without credentials, or "
                          "executor://<name>/<path> (a registered executor); a cloud "
                          "metadata or deny-listed target (security.egress) is refused when saved")
    httpMethod = StrictCharField(max_length=10, help_text=f"one of {', '.join(HTTP_METHODS)} (case-insensitive)")
    body = StrictCharField(max_length=MAX_BODY, required=False, allow_null=True, allow_blank=True,
                           trim_whitespace=False)
    headers = HeadersField(help_text=f"at most {httprules.MAX_HEADERS}; names RFC 9110 tokens, single-line values "
                                     "without control characters; the headers DJS sets cannot be set")
    fallbackUrl = StrictCharField(max_length=MAX_URL, required=False, allow_null=True, allow_blank=True)
    routeStrategy = serializers.ChoiceField(choices=ROUTE_STRATEGIES, required=False, default=DEFAULT_STRATEGY,
                                            help_text=ROUTE_HELP)


class GrpcTaskInput(TaskCommonInput):
    grpcService = StrictCharField(max_length=MAX_GRPC_SERVICE,
                                  help_text="host:port/package.Service, e.g. 10.0.0.5:50051/orders.Billing, or "
                                            "a registered service name (orders.Billing)")
    grpcMethod = StrictCharField(max_length=MAX_GRPC_METHOD)
    grpcParams = JsonObjectTextField()
    fallbackGrpcService = StrictCharField(max_length=MAX_GRPC_SERVICE, required=False, allow_null=True,
                                          allow_blank=True)
    fallbackGrpcMethod = StrictCharField(max_length=MAX_GRPC_METHOD, required=False, allow_null=True,
                                         allow_blank=True, help_text="default: grpcMethod")
    routeStrategy = serializers.ChoiceField(choices=ROUTE_STRATEGIES, required=False, default=DEFAULT_STRATEGY,
                                            help_text=ROUTE_HELP)


@extend_schema_field({"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                               {"type": "string", "description": "a JSON object as text"}], "nullable": True})
class ShellEnvField(JsonObjectTextField):
    """Environment variables added to a SHELL task's minimal environment; names DJS_* are set by DJS."""


class ShellTaskInput(TaskCommonInput):
    """A command run without a shell: argv = [shellCommand, *shellArgs]. For shell syntax, say so:
    ``shellCommand: "sh"``, ``shellArgs: ["-c", "..."]``."""

    shellCommand = StrictCharField(max_length=MAX_SHELL_COMMAND)
    shellArgs = serializers.ListField(
        child=StrictCharField(max_length=MAX_SHELL_ARG, allow_blank=True, trim_whitespace=False),
        max_length=MAX_SHELL_ARGS, required=False, default=list)
    shellWorkdir = StrictCharField(max_length=MAX_SHELL_COMMAND, required=False, allow_null=True, allow_blank=True,
                                   help_text="an absolute path")
    shellEnv = ShellEnvField()


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

    @extend_schema_field({"type": "string", "enum": ["pending", "recorded", "dropped"]})
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
    childOf = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                       help_text="only the tasks that name this task among their child tasks (its parents)")
    sort = SortField({"id": "id", "name": "name", "taskType": "task_type", "status": "status",
                      "nextExecuteTime": "next_execute_time", "lastExecuteTime": "last_execute_time",
                      "createTime": "create_time", "updateTime": "update_time"})


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
            load_timezone(attrs["timezone"])  # which field is wrong, whatever language the message is in
        except ScheduleError as exc:
            raise serializers.ValidationError({"timezone": [str(exc)]}) from None
        try:
            attrs["schedule"] = parse_schedule(attrs["cron"], attrs["timezone"])
        except ScheduleError as exc:
            raise serializers.ValidationError({"cron": [str(exc)]}) from None
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
    routeStrategy = serializers.CharField(source="route_strategy")
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
        ids = getattr(task, "child_task_ids", None)  # a list page's (selectors.task_page_details)
        return ids if ids is not None else [link.child_id for link in task.child_links.all()]  # detail: prefetched


# --- declarative tasks (POST /tasks/apply; apps/tasks/declarative.py validates the entries) ---------------

# MAX_APPLY_ENTRIES (entries per document) and MAX_DEPARTMENT_PATH (a department's name path) are declarative's.

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
    """The ``tasks`` list, passed on as sent: the declarative service checks it entry by entry as the
    single-task routes check a body (a :class:`~apps.tasks.specs.TaskSpec` each), so the REST route,
    ``manage.py apply_tasks`` and ``scheduler.jobs`` answer identical errors."""

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


# --- the task list's health columns (issue 20) -----------------------------------------------------------------

class LastRunOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="the record (GET /records/{id}?year=&month=)")
    year = serializers.IntegerField(help_text="year of the record's month table")
    month = serializers.IntegerField(help_text="month of the record's month table")
    status = serializers.IntegerField(help_text="0 running (waiting while startTime is null), 1 success, 2 failed, "
                                                "3 killed, 4 skipped, 5 lost")
    triggerType = serializers.CharField()
    scheduledTime = serializers.DateTimeField()
    startTime = serializers.DateTimeField(allow_null=True)
    endTime = serializers.DateTimeField(allow_null=True)
    costTime = serializers.IntegerField(allow_null=True)


class TaskHealthOutput(serializers.Serializer):
    runs = serializers.IntegerField(help_text="finished executions over the last 7 local days (today included)")
    successCount = serializers.IntegerField()
    failCount = serializers.IntegerField()
    successRate = serializers.FloatField(allow_null=True, help_text="successCount / (successCount + failCount); "
                                                                    "null without either")
    running = serializers.IntegerField(help_text="executions started and not finished now")
    lastRun = LastRunOutput(allow_null=True, help_text="the newest execution in the current or previous month "
                                                       "(docs/api.md)")


class TaskListOutput(TaskOutput):
    """A row of ``GET /tasks``: the task plus its health (``health``: docs/api.md "Task list health")."""

    # The list view reads a page's health with ``selectors.task_page_details`` and writes the rows with a
    # PlainOutput of this class (djs_platform/output.py).

    health = TaskHealthOutput(allow_null=True, help_text="last 7 days, running now, last run (scoped like records)")


# --- export and import of the declarative YAML (issue 20) ---------------------------------------------------

class TaskIdsField(serializers.CharField):
    """``ids=3,5,8``: task ids, comma-separated, each at most once."""

    def __init__(self, *, max_ids: int, **kwargs: Any) -> None:
        self.max_ids = max_ids
        kwargs.setdefault("max_length", max_ids * 21)
        kwargs.setdefault("help_text", f"task ids, comma-separated (at most {max_ids})")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[int]:
        text = super().to_internal_value(data)
        parts = [part.strip() for part in text.split(",")]
        if not all(part.isascii() and part.isdigit() and len(part) <= 18 and int(part) >= 1 for part in parts):
            raise serializers.ValidationError(_("must be task ids separated by commas, e.g. 3,5,8"))
        ids = [int(part) for part in parts]
        if len(ids) > self.max_ids:
            raise serializers.ValidationError(_("at most %(max)s tasks") % {"max": self.max_ids})
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(_("lists a task more than once"))
        return ids


class TaskExportQuery(serializers.Serializer):
    ids = TaskIdsField(max_ids=MAX_APPLY_ENTRIES)


class TaskExportOutput(serializers.Serializer):
    document = serializers.CharField(help_text="the YAML document POST /tasks/import, djsctl tasks apply and "
                                               "manage.py apply_tasks take")
    count = serializers.IntegerField(help_text="tasks in the document")
    filename = serializers.CharField(help_text="a file name to save it under")


class TaskImportInput(InputSerializer):
    document = StrictCharField(max_length=2 * 1024 * 1024, trim_whitespace=False,
                               help_text="a YAML (or JSON) document of declarative tasks (docs/djsctl.md)")
    dryRun = StrictBooleanField(required=False, default=False)
