"""Thin REST views for tasks."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.records.api.serializers import MonthQuery
from apps.tasks import selectors, services, specs
from apps.tasks.api import serializers as s
from apps.tasks.declarative import parse_document, tasks_apply, tasks_export
from apps.tasks.models import TaskType
from apps.tasks.schedule import fire_times
from apps.tasks.specs import TaskSpec
from djs_platform import errors, inputs
from djs_platform.actor import Actor
from djs_platform.envelope import ok, page_body, page_of, parse_query
from djs_platform.fields import parse_body
from djs_platform.output import PlainOutput
from djs_platform.schema import NO_DATA

#: TaskListOutput without DRF's per-field work (djs_platform/output.py): the same dicts.
TASK_ROWS = PlainOutput(s.TaskListOutput)


def expected_version(request, body: int | None) -> int | None:
    """The ``version`` a write expects (issue 16): from the body (``body``, already checked) or the ``If-Match``
    header (``"5"`` or ``5``; ``*`` = any). Both given must agree. Malformed: 4001. None: no check, last write
    wins."""
    raw = request.headers.get("If-Match")
    header = None
    if raw is not None and raw.strip() != "*":
        text = raw.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise errors.invalid("If-Match", _('must be the task\'s version, e.g. "5" (weak or other tags are '
                                             "not accepted)"))
        header = int(text)
    if body is not None and header is not None and body != header:
        raise errors.invalid("version", _("the body says %(body)s, If-Match says %(header)s")
                                        % {"body": body, "header": header})
    return body if body is not None else header


def task_body(request) -> dict:
    if not isinstance(request.data, dict):
        raise errors.InvalidArgument(_("request body must be a JSON object"))
    return request.data


def document_values(task_type: str, body: dict, extra: tuple[str, ...] = ()) -> dict:
    """The body's fields as :class:`TaskSpec` values; a key the route does not know is 4001 (mass assignment)."""
    values, unknown = specs.document_values(task_type, body, extra=extra)
    if unknown:
        raise errors.InvalidArgument(_("%(field)s: unknown field") % {"field": next(iter(unknown))},
                                     fields=unknown)
    return values


def task_spec(task_type: str, values: dict, *, also: dict[str, list[str]] | None = None) -> TaskSpec:
    """The spec of a create/update body; its problems named as the body names them (``retryCount``), plus
    ``also`` (problems of the route's own fields, e.g. ``version``)."""
    try:
        with errors.field_names(specs.document_name):
            spec = TaskSpec.from_values(task_type, values)
    except errors.InvalidArgument as exc:
        if also and exc.fields:
            raise errors.InvalidArgument(exc.message, fields={**exc.fields, **also}) from None
        raise
    if also:
        first, messages = next(iter(also.items()))
        raise errors.InvalidArgument(_("%(field)s: %(message)s") % {"field": first, "message": messages[0]},
                                     fields=also)
    return spec


def _out(request, task_id: int):
    return ok(s.TaskOutput(selectors.task_get(user=request.user, task_id=task_id)).data)


def _written(task):
    """The task a write just returned. Not re-read through ``task:view``: the write's own permission
    (task:create/update) is what the caller holds, and a 4003 after a committed write would lie."""
    return ok(s.TaskOutput(task).data)


class TaskListView(APIView):
    @extend_schema(parameters=[s.TaskQuery], responses=s.TaskListOutput(many=True), tags=["tasks"])
    def get(self, request):
        q = parse_query(s.TaskQuery, request)
        qs = selectors.task_list(user=request.user, keyword=q.get("keyword"), department_id=q.get("departmentId"),
                                 task_type=q.get("taskType"), status=q.get("status"), child_of=q.get("childOf"))
        rows, total = page_of(qs, q)
        selectors.task_page_details(user=request.user, tasks=rows)
        return ok(page_body(TASK_ROWS.many(rows), total, q))


class TaskCreateView(APIView):
    """``POST /tasks/http|grpc|shell``: the body (``input_class`` documents it) becomes a :class:`TaskSpec`."""

    task_type: str = TaskType.HTTP
    input_class: type = s.HttpTaskInput

    def post(self, request):
        spec = task_spec(self.task_type, document_values(self.task_type, task_body(request)))
        with errors.field_names(specs.document_name):
            task = services.task_create(actor=Actor.from_request(request), spec=spec)
        return _written(task)


class HttpTaskCreateView(TaskCreateView):
    @extend_schema(request=s.HttpTaskInput, responses=s.TaskOutput, tags=["tasks"])
    def post(self, request):
        return super().post(request)


class GrpcTaskCreateView(TaskCreateView):
    task_type, input_class = TaskType.GRPC, s.GrpcTaskInput

    @extend_schema(request=s.GrpcTaskInput, responses=s.TaskOutput, tags=["tasks"])
    def post(self, request):
        return super().post(request)


class ShellTaskCreateView(TaskCreateView):
    task_type, input_class = TaskType.SHELL, s.ShellTaskInput

    @extend_schema(request=s.ShellTaskInput, responses=s.TaskOutput, tags=["tasks"],
                   description="Needs task:create and task:shell, and job.shell.enabled on the platform.")
    def post(self, request):
        return super().post(request)


IF_MATCH = OpenApiParameter("If-Match", str, location=OpenApiParameter.HEADER, required=False,
                            description=s.VERSION_HELP)


class TaskUpdateView(APIView):
    """``PUT /tasks/http|grpc|shell/{id}``: the whole task as a :class:`TaskSpec`, plus the optional ``version``."""

    task_type: str = TaskType.HTTP
    input_class: type = s.HttpTaskUpdateInput

    def put(self, request, pk: int):
        body = task_body(request)
        values = document_values(self.task_type, body, extra=("version",))
        version, version_problem = None, {}
        if "version" in body:
            try:
                version = inputs.integer(body["version"], min_value=0)
            except inputs.Invalid as exc:
                version_problem = {"version": exc.messages}
        spec = task_spec(self.task_type, values, also=version_problem)
        version = expected_version(request, version)
        with errors.field_names(specs.document_name):
            task = services.task_update(actor=Actor.from_request(request), task_id=pk, spec=spec,
                                        expected_version=version)
        return _written(task)


class HttpTaskUpdateView(TaskUpdateView):
    @extend_schema(request=s.HttpTaskUpdateInput, responses=s.TaskOutput, tags=["tasks"], parameters=[IF_MATCH])
    def put(self, request, pk: int):
        return super().put(request, pk)


class GrpcTaskUpdateView(TaskUpdateView):
    task_type, input_class = TaskType.GRPC, s.GrpcTaskUpdateInput

    @extend_schema(request=s.GrpcTaskUpdateInput, responses=s.TaskOutput, tags=["tasks"], parameters=[IF_MATCH])
    def put(self, request, pk: int):
        return super().put(request, pk)


class ShellTaskUpdateView(TaskUpdateView):
    task_type, input_class = TaskType.SHELL, s.ShellTaskUpdateInput

    @extend_schema(request=s.ShellTaskUpdateInput, responses=s.TaskOutput, tags=["tasks"], parameters=[IF_MATCH],
                   description="Needs task:update and task:shell, and job.shell.enabled on the platform.")
    def put(self, request, pk: int):
        return super().put(request, pk)


class TaskDetailView(APIView):
    @extend_schema(responses=s.TaskOutput, tags=["tasks"])
    def get(self, request, pk: int):
        return _out(request, pk)

    @extend_schema(responses=NO_DATA, tags=["tasks"])
    def delete(self, request, pk: int):
        services.task_delete(actor=Actor.from_request(request), task_id=pk)
        return ok(None)


class TaskStatusView(APIView):
    @extend_schema(request=s.StatusInput, responses=s.TaskOutput, tags=["tasks"], parameters=[IF_MATCH],
                   description="Needs task:update; enabling (1) or one-shot (2) a task that runs a SHELL command "
                               "(itself or a child task below it) also needs task:shell.")
    def patch(self, request, pk: int):
        data = parse_body(s.StatusInput, request)
        version = expected_version(request, data.pop("version", None))
        task = services.task_set_status(actor=Actor.from_request(request), task_id=pk, status=data["status"],
                                        expected_version=version)
        return _written(task)


class TaskTriggerView(APIView):
    @extend_schema(request=s.TriggerInput, tags=["tasks"], responses=inline_serializer("TriggerOutput", {
        "triggerId": serializers.IntegerField(), "taskId": serializers.IntegerField(),
        "requestedAt": serializers.DateTimeField()}))
    def post(self, request, pk: int):
        data = parse_body(s.TriggerInput, request)
        trigger = services.task_trigger(actor=Actor.from_request(request), task_id=pk, overrides=data)
        return ok({"triggerId": trigger.pk, "taskId": pk,
                   "requestedAt": serializers.DateTimeField().to_representation(trigger.requested_at)})


class TriggerDetailView(APIView):
    @extend_schema(responses=s.TriggerStatusOutput, tags=["tasks"],
                   description="Which record a trigger request (the `triggerId` of `POST /tasks/{id}/trigger`) "
                               "became. Needs task:view on its task; another department's answers 4004.")
    def get(self, request, pk: int):
        return ok(s.TriggerStatusOutput(selectors.trigger_get(user=request.user, trigger_id=pk)).data)


class TaskKillView(APIView):
    @extend_schema(request=None, tags=["tasks"], responses=inline_serializer("KillOutput", {
        "taskId": serializers.IntegerField(), "killRequested": serializers.BooleanField(),
        "running": serializers.IntegerField(help_text="executions running when the kill was asked (0: nothing "
                                                      "to stop)")}))
    def post(self, request, pk: int):
        services.task_kill(actor=Actor.from_request(request), task_id=pk)
        return ok({"taskId": pk, "killRequested": True, "running": selectors.task_running_count(task_id=pk)})


class ExecutionKillView(APIView):
    @extend_schema(request=None, parameters=[MonthQuery], tags=["records"], responses=inline_serializer(
        "ExecutionKillOutput", {"recordId": serializers.IntegerField(), "taskId": serializers.IntegerField(),
                                "killRequested": serializers.BooleanField()}),
        description="Stop one running execution (task:execute): the node running it cancels it within about a "
                    "second and the record ends `killed`; the task's other runs go on. 4009 when it is not running.")
    def post(self, request, pk: int):
        q = parse_query(MonthQuery, request)
        record = services.execution_kill(actor=Actor.from_request(request), year=q["year"], month=q["month"],
                                         record_id=pk)
        return ok({"recordId": record.pk, "taskId": record.task_id, "killRequested": True})


class CronPreviewView(APIView):
    @extend_schema(
        tags=["tasks"],
        parameters=[OpenApiParameter("cron", str, required=True), OpenApiParameter("timezone", str),
                    OpenApiParameter("count", int), OpenApiParameter("from", str, description="ISO-8601 time")],
        responses=inline_serializer("CronPreviewOutput", {"list": serializers.ListField(child=inline_serializer(
            "FireTime", {"local": serializers.CharField(), "utc": serializers.CharField()}))}),
    )
    def get(self, request):
        q = parse_query(s.CronPreviewQuery, request)
        start = q.get("start") or timezone.now()
        fires = q["schedule"].next_n(start, q["count"])
        return ok({"cron": q["cron"], "timezone": q["timezone"], "list": fire_times(fires, q["timezone"])})


class TaskApplyView(APIView):
    @extend_schema(
        request=s.TaskApplyInput, responses=s.TaskApplyOutput, tags=["tasks"],
        description="Declarative tasks (docs/djsctl.md): create or update the listed tasks by (department, name); "
                    "`prune` also deletes the other tasks of the departments the request names; `dryRun` "
                    "answers the same report and changes nothing. Needs task:create / task:update for the "
                    "tasks it creates / updates and task:delete for `prune`. Any invalid entry answers 4001 "
                    "(field `tasks[i].field`) and nothing is applied.")
    def post(self, request):
        data = parse_body(s.TaskApplyInput, request)
        document = {"tasks": data["tasks"]}
        if "departments" in data:
            document["departments"] = data["departments"]
        report = tasks_apply(actor=Actor.from_request(request), document=document, dry_run=data["dryRun"],
                             prune=data["prune"])
        return ok(s.TaskApplyOutput(report).data)


def _scheduler_state():
    return ok(s.SchedulerStateOutput(selectors.scheduler_state_get()).data)


class SchedulerStateView(APIView):
    @extend_schema(responses=s.SchedulerStateOutput, tags=["system"],
                   description="Maintenance mode (platform-wide): whether scheduling is paused, since when, by whom "
                               "and why. Readable by every signed-in user.")
    def get(self, request):
        return _scheduler_state()


class SchedulerPauseView(APIView):
    @extend_schema(request=s.SchedulerPauseInput, responses=s.SchedulerStateOutput, tags=["system"],
                   description="Needs system:manage. Every node stops claiming scheduled fires and manual triggers "
                               "within one poll interval; running executions finish. Idempotent.")
    def post(self, request):
        data = parse_body(s.SchedulerPauseInput, request)
        services.scheduler_pause(actor=Actor.from_request(request), reason=data.get("reason", ""))
        return _scheduler_state()


class SchedulerResumeView(APIView):
    @extend_schema(request=None, responses=s.SchedulerStateOutput, tags=["system"],
                   description="Needs system:manage. Nodes claim again; missed fire times follow each task's "
                               "misfire policy, waiting manual triggers run. Idempotent.")
    def post(self, request):
        parse_body(s.SchedulerResumeInput, request)
        services.scheduler_resume(actor=Actor.from_request(request))
        return _scheduler_state()


class TaskExportView(APIView):
    @extend_schema(parameters=[s.TaskExportQuery], responses=s.TaskExportOutput, tags=["tasks"],
                   description="The declarative YAML of the given tasks (docs/djsctl.md), exactly what apply needs "
                               "to make them: applied where they exist they are `unchanged`. Needs task:view; a "
                               "task outside the scope and a missing one are 4004 alike (`fields.ids` names it).")
    def get(self, request):
        q = parse_query(s.TaskExportQuery, request)
        document, tasks = tasks_export(user=request.user, task_ids=q["ids"])
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return ok({"document": document, "count": len(tasks), "filename": f"djs-tasks-{stamp}.yaml"})


class TaskImportView(APIView):
    @extend_schema(request=s.TaskImportInput, responses=s.TaskApplyOutput, tags=["tasks"],
                   description="`POST /tasks/apply` for a YAML text (the console's Import): the document is parsed "
                               "(no anchors or aliases; invalid YAML is 4001 on `document` with its line) and "
                               "applied with the rules, permissions and report of apply; never prunes.")
    def post(self, request):
        data = parse_body(s.TaskImportInput, request)
        document = parse_document(data["document"])
        report = tasks_apply(actor=Actor.from_request(request), document=document, dry_run=data["dryRun"])
        return ok(s.TaskApplyOutput(report).data)
