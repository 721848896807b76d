"""Thin REST views for tasks."""
from __future__ import annotations

from datetime import timezone as dt_timezone

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.tasks import selectors, services
from apps.tasks.declarative import tasks_apply
from apps.tasks.api import serializers as s
from apps.tasks.models import TaskType
from djs_platform import errors
from djs_platform.actor import Actor
from djs_platform.envelope import ok, paginated, parse_query
from djs_platform.fields import parse_body
from djs_platform.schema import NO_DATA


def expected_version(request, data: dict) -> int | None:
    """The ``version`` a write expects (issue 16): from the body or the ``If-Match`` header (``"5"`` or ``5``;
    ``*`` = any). Both given must agree. Malformed: 4001. None: no check, last write wins."""
    body = data.pop("version", None)
    raw = request.headers.get("If-Match")
    header = None
    if raw is not None and raw.strip() != "*":
        text = raw.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise errors.invalid("If-Match", 'must be the task\'s version, e.g. "5" (weak or other tags are '
                                             "not accepted)")
        header = int(text)
    if body is not None and header is not None and body != header:
        raise errors.invalid("version", f"the body says {body}, If-Match says {header}")
    return body if body is not None else header


def _out(request, task_id: int):
    return ok(s.TaskOutput(selectors.task_get(user=request.user, task_id=task_id)).data)


def _written(task):
    """The task a write just returned. Not re-read through ``task:view``: the write's own permission
    (task:create/update) is what the caller holds, and a 4003 after a committed write would lie."""
    return ok(s.TaskOutput(task).data)


class TaskListView(APIView):
    @extend_schema(parameters=[s.TaskQuery], responses=s.TaskOutput(many=True), tags=["tasks"])
    def get(self, request):
        q = parse_query(s.TaskQuery, request)
        qs = selectors.task_list(user=request.user, keyword=q.get("keyword"), department_id=q.get("departmentId"),
                                 task_type=q.get("taskType"), status=q.get("status"))
        return paginated(qs, q, s.TaskOutput)


class TaskCreateView(APIView):
    task_type: str = TaskType.HTTP
    input_class: type = s.HttpTaskInput

    def post(self, request):
        data = parse_body(self.input_class, request)
        task = services.task_create(actor=Actor.from_request(request), task_type=self.task_type, data=data)
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
    task_type: str = TaskType.HTTP
    input_class: type = s.HttpTaskUpdateInput

    def put(self, request, pk: int):
        data = parse_body(self.input_class, request)
        version = expected_version(request, data)
        task = services.task_update(actor=Actor.from_request(request), task_id=pk, task_type=self.task_type,
                                    data=data, expected_version=version)
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
        version = expected_version(request, data)
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
        "taskId": serializers.IntegerField(), "killRequested": serializers.BooleanField()}))
    def post(self, request, pk: int):
        services.task_kill(actor=Actor.from_request(request), task_id=pk)
        return ok({"taskId": pk, "killRequested": True})


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
        from apps.tasks.schedule import load_timezone

        zone = load_timezone(q["timezone"])
        return ok({"cron": q["cron"], "timezone": q["timezone"], "list": [
            {"local": fire.astimezone(zone).isoformat(), "utc": fire.astimezone(dt_timezone.utc).isoformat()
             .replace("+00:00", "Z")} for fire in fires]})


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
