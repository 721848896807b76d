from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from djs_platform.tenancy import RestrictedQuerySet
from djs_platform.timestamps import UpdateTimeField


class TaskType(models.TextChoices):
    HTTP = "HTTP"
    GRPC = "GRPC"
    SHELL = "SHELL"


class TaskStatus(models.IntegerChoices):
    DISABLED = 0
    ENABLED = 1
    ONE_SHOT = 2  # fires once at its next scheduled time, then becomes disabled


class ConcurrencyPolicy(models.TextChoices):
    ALLOW = "allow"
    FORBID = "forbid"
    REPLACE = "replace"


class MisfirePolicy(models.TextChoices):
    SKIP = "skip"
    FIRE_ONCE = "fire_once"
    FIRE_ALL = "fire_all"


def task_name_key(name: str) -> str:
    """What makes two task names the same in one department: NFKC, then case-folded ("Report" = "REPORT")."""
    return unicodedata.normalize("NFKC", name).casefold()[:255]


class TaskQuerySet(RestrictedQuerySet):
    """Keeps ``name_key`` in step with ``name`` on the bulk paths that bypass :meth:`Task.save`."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.name_key = task_name_key(obj.name or "")
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        if isinstance(kwargs.get("name"), str):
            kwargs["name_key"] = task_name_key(kwargs["name"])
        return super().update(**kwargs)


class Task(models.Model):
    """A scheduled call. ``version`` is the optimistic lock every scheduler claim and every edit bumps;
    ``revision`` counts edits only (API, gRPC, declarative, autoPause): it is the ``version`` clients see and
    send back (``If-Match``), so a claim between a read and a write does not make the client's copy stale.
    ``name_key`` (:func:`task_name_key` of the name, kept by :meth:`save`) is unique per department."""

    name = models.CharField(max_length=255)
    # NULL only for rows written by raw SQL (bench loaders, the seed's INSERTs); NULLs never collide.
    name_key = models.CharField(max_length=255, null=True, editable=False)
    description = models.TextField(null=True, blank=True)
    department = models.ForeignKey("departments.Department", on_delete=models.PROTECT, related_name="tasks")
    task_type = models.CharField(max_length=10, choices=TaskType.choices)
    cron_expression = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64)
    url = models.CharField(max_length=2048, null=True, blank=True)
    http_method = models.CharField(max_length=10, default="GET")
    headers = models.JSONField(null=True, blank=True)
    body = models.TextField(null=True, blank=True)
    fallback_url = models.CharField(max_length=2048, null=True, blank=True)
    grpc_service = models.CharField(max_length=255, null=True, blank=True)
    grpc_method = models.CharField(max_length=255, null=True, blank=True)
    grpc_params = models.TextField(null=True, blank=True)
    fallback_grpc_service = models.CharField(max_length=255, null=True, blank=True)
    fallback_grpc_method = models.CharField(max_length=255, null=True, blank=True)
    # SHELL tasks (job.shell.enabled, permission task:shell): argv = [shell_command, *shell_args], no shell
    # interpolation unless the command itself is a shell ("sh", "-c", ...).
    shell_command = models.CharField(max_length=1024, null=True, blank=True)
    shell_args = models.JSONField(null=True, blank=True)      # list of strings
    shell_workdir = models.CharField(max_length=1024, null=True, blank=True)
    shell_env = models.JSONField(null=True, blank=True)       # {"NAME": "value"} added to a minimal environment
    timeout = models.IntegerField(default=30)
    max_retry = models.IntegerField(default=0)
    retry_interval = models.IntegerField(default=0)
    concurrency_policy = models.CharField(max_length=10, choices=ConcurrencyPolicy.choices,
                                          default=ConcurrencyPolicy.ALLOW)
    misfire_policy = models.CharField(max_length=10, choices=MisfirePolicy.choices, default=MisfirePolicy.SKIP)
    # Which registered instance gets a call when the target is an executor name (apps/tasks/routing.py).
    route_strategy = models.CharField(max_length=20, default="round_robin", db_default="round_robin")
    status = models.SmallIntegerField(choices=TaskStatus.choices, default=TaskStatus.DISABLED,
                                      db_default=0)
    retry_count = models.IntegerField(default=0)
    last_execute_time = models.DateTimeField(null=True, blank=True)
    next_execute_time = models.DateTimeField(null=True, blank=True)
    version = models.BigIntegerField(default=0)
    revision = models.BigIntegerField(default=0, db_default=0)
    kill_seq = models.BigIntegerField(default=0)  # bumped by every kill request; nodes cancel older runs
    # Bumped with every kill of ONE execution (ExecutionKill): a node running the task then reads which.
    record_kill_seq = models.BigIntegerField(default=0, db_default=0)
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    objects = TaskQuerySet.as_manager()

    class Meta:
        db_table = "task"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_execute_time"], name="idx_task_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1, 2]), name="task_status_valid"),
            models.CheckConstraint(condition=models.Q(task_type__in=["HTTP", "GRPC", "SHELL"]),
                                   name="task_type_valid"),
            models.CheckConstraint(condition=models.Q(timeout__gte=1), name="task_timeout_positive"),
            models.CheckConstraint(condition=models.Q(max_retry__gte=0), name="task_max_retry_non_negative"),
            models.CheckConstraint(condition=models.Q(retry_interval__gte=0),
                                   name="task_retry_interval_non_negative"),
            models.UniqueConstraint(fields=["department", "name_key"], name="uq_task_department_name"),
        ]

    def save(self, *args, **kwargs) -> None:
        self.name_key = task_name_key(self.name or "")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields and "name_key" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "name_key"]
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.name


class SchedulerNodeQuerySet(models.QuerySet):
    """The one definition of a live node: ``up`` and heard from within ``job.nodeTimeout``."""

    def alive(self, now: datetime, timeout: float | None = None) -> "SchedulerNodeQuerySet":
        return self.filter(status="up", heartbeat_at__gte=now - timedelta(seconds=_node_timeout(timeout)))

    def silent(self, now: datetime, timeout: float | None = None) -> "SchedulerNodeQuerySet":
        """Nodes that claim to run (up or draining) but have not heartbeated within the timeout: dead."""
        return self.filter(status__in=["up", "stopping"],
                           heartbeat_at__lt=now - timedelta(seconds=_node_timeout(timeout)))


def _node_timeout(timeout: float | None) -> float:
    return float(settings.DJS_SCHEDULER.node_timeout) if timeout is None else timeout


class SchedulerNode(models.Model):
    """One ``runscheduler`` process. A node silent for ``job.nodeTimeout`` is dead; survivors recover its work."""

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    status = models.CharField(max_length=10, default="up", db_default="up")  # up | stopping | down | dead
    running = models.IntegerField(default=0)
    version = models.CharField(max_length=32, default="")

    objects = SchedulerNodeQuerySet.as_manager()

    class Meta:
        db_table = "scheduler_node"
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="idx_node_alive")]

    def __str__(self) -> str:
        return self.name

    def is_alive(self, now: datetime, timeout: float | None = None) -> bool:
        """This row as :meth:`SchedulerNodeQuerySet.alive` judges it."""
        return self.status == "up" and self.heartbeat_at >= now - timedelta(seconds=_node_timeout(timeout))


class TaskChild(models.Model):
    """``parent`` triggers ``child`` after each of its successful runs (``position`` orders a parent's children).

    The API keeps the graph acyclic, within the parent's department scope and at most ``job.childDepth``
    levels deep (docs/child-tasks.md); deleting either task removes the link."""

    parent = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="child_links")
    child = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="parent_links")
    position = models.IntegerField(default=0)

    class Meta:
        db_table = "task_child"
        ordering = ["parent_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="uq_task_child"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("child")), name="task_child_not_self"),
        ]


class ExecutionKill(models.Model):
    """A request to stop one running execution (``POST /v1/records/{id}/kill``, gRPC ``KillExecution``): the record
    ``record_id`` of ``record_<month>``. The node running it sees the task's ``record_kill_seq`` move in its kill
    poll, reads these rows for the records it runs, cancels them (they end ``killed``) and deletes the rows."""

    month = models.IntegerField()  # YYYYMM of the record's table
    record_id = models.BigIntegerField()
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    requested_at = models.DateTimeField()

    class Meta:
        db_table = "execution_kill"
        constraints = [models.UniqueConstraint(fields=["month", "record_id"], name="uq_execution_kill")]


class TriggerRequest(models.Model):
    """A run waiting for a scheduler node: "run now" (REST trigger, gRPC ExecuteTaskImmediately, trigger MANUAL)
    or a child task after its parent succeeded (trigger CHILD: ``parent_record_id``/``parent_month`` name the
    parent's record, ``requested_at`` is the parent's end time, so a repeated request makes the same record).

    ``record_id``/``record_month`` name the record the request became (id in ``record_<record_month>``, YYYYMM),
    set by the node in the transaction that claims the request and inserts the record (``GET /v1/triggers/{id}``).
    Claimed without a record: the node dropped it (the task's department disabled, a CHILD task disabled, the
    task gone) or the same run was already recorded."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    overrides = models.JSONField(null=True, blank=True)
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    requested_at = models.DateTimeField()
    trigger_type = models.CharField(max_length=10, default="MANUAL")
    parent_record_id = models.BigIntegerField(null=True, blank=True)
    parent_month = models.IntegerField(null=True, blank=True)  # YYYYMM of the parent record's table
    depth = models.IntegerField(default=0)  # child level below the run that started the chain
    claimed_by = models.CharField(max_length=100, null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    record_id = models.BigIntegerField(null=True, blank=True)
    record_month = models.IntegerField(null=True, blank=True)  # YYYYMM of the record's table

    class Meta:
        db_table = "task_trigger"
        ordering = ["id"]
        indexes = [models.Index(fields=["claimed_by", "requested_at"], name="idx_trigger_pending")]

    @classmethod
    def link_records(cls, links: list[tuple[int, int, int, int]]) -> None:
        """Store ``(request id, record id, year, month)``: the record each claimed request became. One UPDATE for
        the batch (a CASE per column); the caller's transaction is the claim's."""
        if links:
            cls.objects.bulk_update([cls(pk=pk, record_id=record_id, record_month=year * 100 + month)
                                     for pk, record_id, year, month in links], ["record_id", "record_month"])


class SchedulerState(models.Model):
    """Platform-wide scheduler switches, one row (id 1). ``paused``: maintenance mode; every node stops
    claiming scheduled fires and manual triggers (they wait) and keeps heartbeating."""

    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by_id = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=255, default="", blank=True)
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    class Meta:
        db_table = "scheduler_state"

    def __str__(self) -> str:
        return "paused" if self.paused else "running"


class NodeMinute(models.Model):
    """One scheduler node's figures for one wall-clock minute (``apps.tasks.nodestats``), written by its
    heartbeat, kept 24 hours: ``GET /v1/nodes/stats``."""

    node_name = models.CharField(max_length=100)
    minute = models.DateTimeField()
    executions = models.IntegerField(default=0)
    failures = models.IntegerField(default=0)
    cost_sum = models.BigIntegerField(default=0)
    cost_count = models.IntegerField(default=0)
    lag_histogram = models.JSONField(default=list)  # counts per bucket of nodestats.LAG_BOUNDS_MS (+ overflow)

    class Meta:
        db_table = "scheduler_node_minute"
        constraints = [models.UniqueConstraint(fields=["node_name", "minute"], name="uq_node_minute")]
        indexes = [models.Index(fields=["minute"], name="ix_node_minute_time")]

