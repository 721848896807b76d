"""What a node works on: a :class:`Fire` (one execution it owns); what it runs with is
``settings.DJS_SCHEDULER`` (:class:`djs_platform.conf.SchedulerSettings`)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from apps.records.models import TriggerType, month_of

VERSION = "1.0"

#: The task columns a node reads when it claims (the snapshot a fire runs with).
TASK_FIELDS = ("id", "name", "department_id", "task_type", "cron_expression", "timezone", "url", "http_method",
               "headers", "body", "fallback_url", "grpc_service", "grpc_method", "grpc_params",
               "fallback_grpc_service", "fallback_grpc_method", "shell_command", "shell_args", "shell_workdir",
               "shell_env", "timeout", "max_retry", "retry_interval",
               "concurrency_policy", "misfire_policy", "route_strategy", "status", "next_execute_time", "version", "kill_seq",
               "record_kill_seq")


@dataclass
class Fire:
    """One execution this node owns: a claimed scheduled instant, a manual trigger, a take-over or a recovery.

    Lives on the node's event loop; the database threads receive it as an argument and hand it back."""

    task: dict[str, Any]
    scheduled: datetime
    trigger: str
    record_id: int = 0
    start_now: bool = False
    overrides: dict[str, Any] | None = None
    kill_seq: int = 0
    retry_times: int = 0
    handle: asyncio.Task | None = None
    killed: bool = False
    # CHILD runs: the parent's record (id in record_<parent_month>, YYYYMM) and the level below the chain's start
    parent_record_id: int | None = None
    parent_month: int | None = None
    depth: int = 0
    # A re-run of a started execution whose node died (X-DJS-Recovery: 1); a take-over runs as a first attempt.
    recovery: bool = False
    taken_over_from: str | None = None
    # Start mark (DESIGN §14.2): ``mark_at`` is the start time its record gets (chosen once, kept across retries),
    # ``marking`` while the UPDATE is in flight, ``start_mark`` once it committed (only then is the fire sent).
    mark_at: datetime | None = None
    marking: bool = False
    start_mark: datetime | None = None
    lag: float | None = None  # seconds from the scheduled instant to the call's start (set when it starts)
    # Broadcast (route strategy ``broadcast``, docs/executors.md): the claimed record is shard 0; when its start
    # is marked the node inserts shards 1..n-1, one per live instance. ``planned`` holds the live instances
    # between planning and the mark; ``pinned`` is the instance a shard calls (its record's ``instance``).
    shard: int = 0
    shard_total: int | None = None
    pinned: str | None = None
    planned: list[str] | None = None

    @cached_property
    def table(self) -> tuple[int, int]:
        """(year, month) of the record's month table (``scheduled`` never changes: computed once)."""
        return month_of(self.scheduled)

    @property
    def key(self) -> tuple[int, int, int]:
        """(year, month, record id): record ids repeat across month tables (each numbers from 1), so a fire
        of last month's table (a recovery, a run across midnight) and one of this month's may share an id."""
        return (*self.table, self.record_id)


def releasable(fire: Fire) -> bool:
    """An on-time scheduled fire whose start mark was never attempted: the kind a maintenance pause gives back to
    its task (manual, recovery and misfire catch-up runs start at once when claimed). Once a mark was attempted
    its record may say "started", so the fire runs rather than being given back."""
    return (fire.handle is None and fire.mark_at is None and fire.trigger == TriggerType.SCHEDULE
            and not fire.start_now)
