"""``rpc.proto.ModelContextService``: a task's runtime context as one JSON document (for tools and models)."""
from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.records import selectors as record_selectors
from apps.records.api.serializers import RecordOutput
from apps.tasks import selectors as task_selectors
from apps.tasks.api.serializers import TaskOutput
from apps.tasks.models import Task, TaskStatus
from apps.tasks.schedule import ScheduleError, fire_times, parse_schedule
from djs_platform import errors, validation
from djs_platform.tenancy import has_permission
from rpc.generated import mcp_pb2 as pb
from rpc.generated import mcp_pb2_grpc
from rpc.interceptors import current_actor
from rpc.servicers.common import iso

MODEL_ID = re.compile(r"^task:(\d{1,18})$")
NEXT_FIRES = 5
RECENT_EXECUTIONS = 10
SUMMARY_MONTHS = 12
STATES = {TaskStatus.DISABLED: "disabled", TaskStatus.ENABLED: "enabled", TaskStatus.ONE_SHOT: "one-shot"}


def schedule_context(task: Task) -> dict[str, Any]:
    """Cron, zone, state and the next fire times (none while disabled; a one-shot task fires once)."""
    context: dict[str, Any] = {"cron": task.cron_expression, "timezone": task.timezone, "status": task.status,
                               "state": STATES.get(task.status, str(task.status)),
                               "lastExecuteTime": iso(task.last_execute_time) or None,
                               "nextExecuteTime": iso(task.next_execute_time) or None, "nextFireTimes": []}
    try:
        schedule = parse_schedule(task.cron_expression, task.timezone)
    except ScheduleError as exc:
        context["error"] = str(exc)
        return context
    if task.status == TaskStatus.DISABLED:
        fires = []
    elif task.status == TaskStatus.ONE_SHOT:
        fires = [task.next_execute_time] if task.next_execute_time else []
    else:
        fires = schedule.next_n(timezone.now(), NEXT_FIRES)
    context["nextFireTimes"] = fire_times(fires, task.timezone)
    return context


def task_context(user, task_id: int) -> dict[str, Any]:
    task = task_selectors.task_get(user=user, task_id=task_id)
    summary = record_selectors.task_run_summary(user=user, task_id=task.pk, months=SUMMARY_MONTHS)
    recent = None
    if has_permission(user, "record:view"):  # execution details are records: the REST records permission
        rows = record_selectors.task_recent_records(user=user, task_id=task.pk, limit=RECENT_EXECUTIONS,
                                                    months=SUMMARY_MONTHS)
        recent = RecordOutput(rows, many=True).data
    return {
        "modelId": f"task:{task.pk}",
        "type": "task",
        "generatedAt": iso(timezone.now()),
        "configuration": TaskOutput(task).data,
        "schedule": schedule_context(task),
        "statistics": {"months": SUMMARY_MONTHS, "successCount": summary["successCount"],
                       "failCount": summary["failCount"], "runningCount": summary["runningCount"],
                       "avgExecutionTime": summary["avgCostTime"], "lastRetryTimes": summary["lastRetryTimes"]},
        "recentExecutions": recent,
    }


class ModelContextServicer(mcp_pb2_grpc.ModelContextServiceServicer):
    def GetModelContext(self, request, context):
        """``model_id`` = ``task:<id>``; needs ``task:view`` with the task in scope (else NOT_FOUND).
        ``recentExecutions`` is null without ``record:view``."""
        match = MODEL_ID.match(request.model_id.strip())
        if not match:
            raise errors.invalid("model_id", _("must be task:<id>, e.g. task:42"))
        document = task_context(current_actor().user, int(match.group(1)))
        # validation.dumps: a legacy row's lone surrogate becomes U+FFFD instead of failing the call
        return pb.ModelContextResponse(context=validation.dumps(document, ensure_ascii=False, default=str))
