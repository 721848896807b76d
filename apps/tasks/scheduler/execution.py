"""What one fire sends and what its record says afterwards (no I/O: the node runs the call)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apps.departments.selectors import ancestry
from apps.records.models import (
    ATTEMPT_ERROR_LIMIT,
    ATTEMPTS_LIMIT,
    ERROR_LIMIT,
    INSTANCE_LIMIT,
    RESPONSE_LIMIT,
    RecordStatus,
)
from apps.tasks import routing
from apps.tasks.engine import idempotency_key
from apps.tasks.executors import ExecutionPlan
from apps.tasks.executors.targets import calls_of
from apps.tasks.scheduler.fires import Fire


def plan_for(fire: Fire, department_parents: dict[int, int | None]) -> ExecutionPlan:
    """The plan of one fire: its targets built from the task row as claimed (with a manual trigger's
    overrides)."""
    task = fire.task
    overrides = fire.overrides
    row: Mapping[str, Any] = task
    if overrides:
        params = overrides.get("grpcParams")
        row = {**task, "headers": overrides.get("headers", task["headers"]),
               "body": overrides.get("body", task["body"]),
               "grpc_params": json.dumps(params) if params is not None else task["grpc_params"]}
    return ExecutionPlan.from_row(
        row, task_id=task["id"], task_type=task["task_type"], timeout=float(task["timeout"]),
        max_retry=max(0, task["max_retry"] - fire.retry_times), retry_interval=float(task["retry_interval"]),
        idempotency_key=idempotency_key(task["id"], fire.scheduled, fire.shard if fire.shard_total else None),
        department_path=ancestry(task["department_id"], department_parents) if task["task_type"] == "SHELL" else (),
        record_id=fire.record_id, department_id=task["department_id"], route_strategy=task["route_strategy"],
        recovery=fire.recovery, shard=(fire.shard, fire.shard_total) if fire.shard_total else None,
        pinned=fire.pinned)


def broadcast_target(fire: Fire) -> routing.NamedTarget | None:
    """The registry name a broadcast fire that has no shards yet spreads over (None: not such a fire; a broadcast
    task whose primary target is a literal address runs as one call)."""
    task = fire.task
    if task["route_strategy"] != routing.BROADCAST or fire.shard_total is not None or fire.start_mark is not None:
        return None
    calls = calls_of(task["task_type"], task)
    return calls[0][1].named() if calls else None


def outcome_result(fire: Fire, outcome: Any, started: datetime) -> dict[str, Any]:
    result = {"status": RecordStatus.SUCCESS if outcome.success else RecordStatus.FAILED,
              "success": outcome.success, "status_code": outcome.status_code,
              "response": bound(outcome.response, RESPONSE_LIMIT), "error": bound(outcome.error, ERROR_LIMIT),
              "cost_time": outcome.cost_ms, "retry_times": fire.retry_times + outcome.retry_times,
              "used_fallback": outcome.used_fallback, "start_time": started}
    if outcome.instance is not None:  # the registered instance that answered (only for registry names)
        result["instance"] = bound(outcome.instance, INSTANCE_LIMIT)
    if len(outcome.attempts) > 1:  # one call: the record's own columns say it all
        result["attempts"] = attempts_json(outcome.attempts)
    return result


def attempts_json(attempts: list) -> str:
    """Every call of the execution for the record drawer: at most ATTEMPTS_LIMIT (the first ones and the last),
    each error cut to ATTEMPT_ERROR_LIMIT characters."""
    kept = attempts if len(attempts) <= ATTEMPTS_LIMIT else [*attempts[:ATTEMPTS_LIMIT - 1], attempts[-1]]
    return json.dumps([{"attempt": a.attempt, "target": a.target, "instance": a.instance, "statusCode": a.status_code,
                        "costMs": a.cost_ms, "error": bound(a.error, ATTEMPT_ERROR_LIMIT)} for a in kept],
                      ensure_ascii=False, separators=(",", ":"))


def cancelled_result(fire: Fire, started: datetime, now: datetime) -> dict[str, Any]:
    """A kill, or the node's shutdown deadline cutting the run (the record ends ``killed``, never re-run)."""
    return {"status": RecordStatus.KILLED, "success": False, "start_time": started,
            "error": "killed" if fire.killed else "cancelled: scheduler node shutting down",
            "cost_time": int((now - started).total_seconds() * 1000)}


def internal_error_result(exc: Exception, started: datetime) -> dict[str, Any]:
    return {"status": RecordStatus.FAILED, "success": False, "start_time": started,
            "error": bound(f"internal error: {exc}", ERROR_LIMIT)}


def bound(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit]
