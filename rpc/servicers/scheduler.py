"""``scheduler.TaskScheduler``: thin calls into the task services and selectors REST uses."""
from __future__ import annotations

import json
from collections.abc import Callable

from django.utils.translation import gettext as _

from apps.records import selectors as record_selectors
from apps.tasks import httprules, services, specs
from apps.tasks import selectors as task_selectors
from apps.tasks.models import Task, TaskStatus, TaskType
from apps.tasks.specs import TaskSpec
from djs_platform import errors
from djs_platform.actor import Actor
from djs_platform.tenancy import require_permission
from rpc.errors import item_message
from rpc.generated import scheduler_pb2 as pb
from rpc.generated import scheduler_pb2_grpc
from rpc.interceptors import current_actor
from rpc.servicers.common import iso, require_id

MAX_BATCH = 100
HANDLERS: dict[str, str] = {"http": TaskType.HTTP, "grpc": TaskType.GRPC, "shell": TaskType.SHELL}
#: Top-level request fields that, when non-empty/non-zero, override the same field of ``params``: request field
#: -> TaskSpec field.
OVERRIDES = {"name": "name", "cron_expression": "cron", "max_retry": "max_retry", "department_id": "department_id",
             "timeout": "timeout"}


def task_spec(actor: Actor, request: pb.ScheduleTaskRequest) -> tuple[TaskSpec, Callable[[str], str]]:
    """The task a ``ScheduleTaskRequest`` asks for, and how to name a spec field as the caller sent it.

    ``params`` is a task document (the JSON body of ``POST /v1/tasks/http``, ``/grpc`` or ``/shell``) as UTF-8
    bytes; the top-level fields override it. What the seed's client leaves out gets gRPC's defaults: the caller's
    own department, status enabled, and for an HTTP task the method GET (POST when ``params`` has a body). The
    spec's checks are the REST routes' (strict types, unknown keys refused, cron grammar, URL and header rules).
    Errors name the request field (``cron_expression: ...``) or the ``params`` key (``params.url: ...``).
    """
    handler = request.handler.strip().lower()
    if handler not in HANDLERS:
        raise errors.invalid("handler", _("must be 'http', 'grpc' or 'shell'"))
    task_type = HANDLERS[handler]
    try:
        document = json.loads(request.params) if request.params.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.invalid("params", _("invalid JSON: %(exc)s") % {"exc": exc}) from None
    if not isinstance(document, dict):
        raise errors.invalid("params", _("must be a JSON object (the REST create body)"))
    values, unknown = specs.document_values(task_type, document)
    if unknown:
        fields = {f"params.{key}": messages for key, messages in unknown.items()}
        raise errors.InvalidArgument(_("%(field)s: unknown field") % {"field": next(iter(fields))}, fields=fields)
    names: dict[str, str] = {}  # spec field -> the request field it came from
    for proto_field, spec_field in OVERRIDES.items():
        value = getattr(request, proto_field)
        if value:
            values[spec_field] = value
            names[spec_field] = proto_field
    if request.HasField("status"):
        values["status"] = request.status
        names["status"] = "status"
    values.setdefault("status", TaskStatus.ENABLED)
    if "department_id" not in values:  # the seed's sample names none: the caller's own department
        values["department_id"] = actor.user.department_id
        names["department_id"] = "department_id"
    if task_type == TaskType.HTTP and "http_method" not in values:
        body = values.get("body")
        values["http_method"] = httprules.default_method(body if isinstance(body, str) else None)

    def wire_name(spec_field: str) -> str:
        head = spec_field.split(".", 1)[0]
        return names[head] + spec_field[len(head):] if head in names else "params." + specs.document_name(spec_field)

    with errors.field_names(wire_name):
        return TaskSpec.from_values(task_type, values), wire_name


def schedule_one(actor: Actor, request: pb.ScheduleTaskRequest) -> Task:
    """Check and create one task (``task_create`` is one transaction: all of it or nothing)."""
    spec, wire_name = task_spec(actor, request)
    with errors.field_names(wire_name):
        return services.task_create(actor=actor, spec=spec)


class TaskSchedulerServicer(scheduler_pb2_grpc.TaskSchedulerServicer):
    def ScheduleTask(self, request, context):
        task = schedule_one(current_actor(), request)
        return pb.ScheduleTaskResponse(task_id=task.pk, success=True, message=f"task {task.pk} created")

    def BatchScheduleTasks(self, request, context):
        actor = current_actor()
        count = len(request.tasks)
        if not count:
            raise errors.invalid("tasks", _("at least one task is required"))
        if count > MAX_BATCH:
            raise errors.invalid("tasks", _("at most %(max_batch)s tasks per batch, got %(count)s")
                                          % {"max_batch": MAX_BATCH, "count": count})
        require_permission(actor.user, "task:create")
        results = []
        for index, item in enumerate(request.tasks):
            try:
                task = schedule_one(actor, item)
            except Exception as exc:  # noqa: BLE001 - reported per item; the other items still run
                results.append(pb.ScheduleTaskResponse(
                    success=False, message=f"tasks[{index}]: {item_message(exc, 'BatchScheduleTasks')}"))
            else:
                results.append(pb.ScheduleTaskResponse(task_id=task.pk, success=True,
                                                       message=f"task {task.pk} created"))
        created = sum(1 for r in results if r.success)
        return pb.BatchScheduleTasksResponse(results=results, overall_success=created == count,
                                             message=f"{created} of {count} tasks created")

    def PauseTask(self, request, context):
        task = services.task_set_status(actor=current_actor(), task_id=require_id("task_id", request.task_id),
                                        status=TaskStatus.DISABLED)
        return pb.TaskResponse(success=True, message=f"task {task.pk} paused")

    def ResumeTask(self, request, context):
        task = services.task_set_status(actor=current_actor(), task_id=require_id("task_id", request.task_id),
                                        status=TaskStatus.ENABLED)
        return pb.TaskResponse(success=True, message=f"task {task.pk} resumed; next fire {iso(task.next_execute_time)}")

    def GetTaskStatus(self, request, context):
        user = current_actor().user
        task = task_selectors.task_get(user=user, task_id=require_id("task_id", request.task_id))
        summary = record_selectors.task_run_summary(user=user, task_id=task.pk)
        return pb.TaskStatusResponse(
            task_id=task.pk, status=task.status, last_execute_time=iso(task.last_execute_time),
            next_execute_time=iso(task.next_execute_time), retry_count=summary["lastRetryTimes"] or 0,
            success_count=summary["successCount"], fail_count=summary["failCount"],
            avg_execution_time=float(summary["avgCostTime"] or 0), running_count=summary["runningCount"])

    def ExecuteTaskImmediately(self, request, context):
        trigger = services.task_trigger(actor=current_actor(), task_id=require_id("task_id", request.task_id))
        return pb.TaskResponse(success=True, message=f"task {trigger.task_id} queued to run now (trigger {trigger.pk})")

    def DeleteTask(self, request, context):
        task_id = require_id("task_id", request.task_id)
        services.task_delete(actor=current_actor(), task_id=task_id)
        return pb.TaskResponse(success=True, message=f"task {task_id} deleted")

    def KillTask(self, request, context):
        task = services.task_kill(actor=current_actor(), task_id=require_id("task_id", request.task_id))
        return pb.TaskResponse(success=True, message=f"kill requested for every running execution of task {task.pk}")

    def KillExecution(self, request, context):
        record = services.execution_kill(actor=current_actor(), year=request.year, month=request.month,
                                         record_id=require_id("record_id", request.record_id))
        return pb.TaskResponse(success=True, message=f"kill requested for execution {record.pk} of task {record.task_id}")

    def PauseScheduler(self, request, context):
        services.scheduler_pause(actor=current_actor(), reason=request.reason)
        return scheduler_state_response("scheduling paused on every node")

    def ResumeScheduler(self, request, context):
        services.scheduler_resume(actor=current_actor())
        return scheduler_state_response("scheduling resumed")


def scheduler_state_response(message: str) -> pb.SchedulerStateResponse:
    """The maintenance state after a pause/resume, as ``GET /v1/scheduler/state`` shows it."""
    state = task_selectors.scheduler_state_get()
    by = state.paused_by or {}
    return pb.SchedulerStateResponse(success=True, message=message, paused=state.paused,
                                     paused_at=iso(state.paused_at), paused_by=by.get("id") or 0,
                                     paused_by_username=by.get("username") or "", reason=state.reason)
