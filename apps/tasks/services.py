"""Writes for tasks: create/update (HTTP, gRPC, SHELL), delete, status, trigger, kill.

``task_create`` and ``task_update`` take a :class:`~apps.tasks.specs.TaskSpec` (the typed input every way in
builds: REST, gRPC, declarative apply). Field errors they raise use the spec's field names (``department_id``,
``child_task_ids``, ``shell_workdir``); callers rename them to their wire names, as they do the spec's own."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from apps.accounts.audit import audit_record, camel, diff
from apps.records.models import RecordStatus, existing_record_tables, record_model, table_name
from apps.departments.models import Department
from apps.departments.selectors import ancestry, department_parents, disabled_department_ids
from apps.tasks.models import (ExecutionKill, SchedulerNode, SchedulerState, Task, TaskChild, TaskStatus, TaskType,
                               TriggerRequest,
                               task_name_key)
from apps.tasks.executors.runas import ShellIdentities, ShellIdentityError, workdir_problem
from apps.tasks.schedule import Schedule, parse_schedule
from apps.tasks import signals
from apps.tasks.selectors import SCHEDULER_STATE_ID
from apps.tasks.specs import TaskSpec
from djs_platform import errors, inputs
from djs_platform.actor import Actor
from djs_platform.tenancy import descendants_of, get_in_scope, require_department_in_scope, require_permission

AUDITED_FIELDS = ("name", "description", "department_id", "cron_expression", "timezone", "url", "http_method",
                  "headers", "body", "fallback_url", "grpc_service", "grpc_method", "grpc_params",
                  "fallback_grpc_service", "fallback_grpc_method", "shell_command", "shell_args", "shell_workdir",
                  "shell_env", "timeout", "max_retry", "retry_interval", "concurrency_policy", "misfire_policy",
                  "route_strategy", "status")


# --- audit: task secrets never reach the audit log (issue 16, finding 10) --------------------------------

#: Fields whose values may carry credentials: maps keep their keys, each value becomes "changed".
SECRET_MAPS = ("headers", "shellEnv", "grpcParams")
#: Fields kept only as "changed" (a request body, argv: ``mysqldump -pSECRET``).
SECRET_TEXTS = ("body", "shellArgs")


def _as_map(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def redact_created(changes: dict[str, Any]) -> dict[str, Any]:
    """Audit ``changes`` of a create (``{apiField: value}``) without secret values."""
    for field in SECRET_MAPS:
        if field in changes:
            changes[field] = {key: "changed" for key in _as_map(changes[field])} or "changed"
    for field in SECRET_TEXTS:
        if field in changes:
            changes[field] = "changed"
    return changes


def redact_diff(changes: dict[str, Any]) -> dict[str, Any]:
    """Audit ``changes`` of an update (``{apiField: {"old", "new"}}``) without secret values: for a map, the
    keys added, removed or changed; for a text, "changed"."""
    for field in SECRET_MAPS:
        if field in changes:
            old, new = _as_map(changes[field]["old"]), _as_map(changes[field]["new"])
            changes[field] = {key: "changed" for key in sorted(old.keys() | new.keys())
                              if old.get(key) != new.get(key)} or "changed"
    for field in SECRET_TEXTS:
        if field in changes:
            changes[field] = "changed"
    return changes


# --- optimistic concurrency and names (issue 16) --------------------------------------------------------

def check_version(task: Task, expected: int | None) -> None:
    """``expected`` (the ``version`` a client read, from the body or ``If-Match``) must be the task's current
    edit revision, else 4009 and nothing is written. None: no check (last write wins)."""
    if expected is not None and expected != task.revision:
        raise errors.Conflict(gettext("task %(task_id)s was changed since it was read: you sent version "
                                      "%(expected)s, the current version %(revision)s; read it again and re-apply "
                                      "your change")
                              % {"task_id": task.pk, "expected": expected, "revision": task.revision})


def check_name(name: str, department_id: int, exclude: int | None = None) -> None:
    """Task names are unique per department, ignoring case (4009)."""
    qs = Task.objects.filter(department_id=department_id, name_key=task_name_key(name))
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    other = qs.values_list("id", "name").first()
    if other is not None:
        raise errors.AlreadyExists(gettext("department %(department_id)s already has a task named '%(name)s' (task "
                                           "%(task_id)s); task names are unique per department, ignoring case")
                                   % {"department_id": department_id, "name": other[1], "task_id": other[0]})


def _save_unique(task: Task, **kwargs: Any) -> None:
    """Save; a concurrent writer that took the name first (the unique key) is the same 4009."""
    try:
        with transaction.atomic():
            task.save(**kwargs)
    except IntegrityError:
        check_name(task.name, task.department_id, exclude=task.pk)
        raise


def next_fire(schedule: Schedule, status: int, now: datetime | None = None) -> datetime | None:
    """The next fire time for an enabled (or one-shot) task; disabled tasks have none."""
    if status == TaskStatus.DISABLED:
        return None
    return schedule.next_after(now or timezone.now())


def require_shell(actor: Actor, action: str) -> None:
    """SHELL tasks run commands on the scheduler hosts: only where the platform allows them
    (``job.shell.enabled``) and only for actors holding ``task:shell`` (besides the action's own code)."""
    if not settings.DJS_SHELL.enabled:
        raise errors.Forbidden(gettext("SHELL tasks are disabled on this platform (job.shell.enabled); cannot "
                                       "%(action)s") % {"action": action})
    require_permission(actor.user, "task:shell")


def check_shell_workdir(values: dict[str, Any]) -> None:
    """A SHELL task's ``shellWorkdir`` must be usable by the OS user its commands run as (``job.shell.runAs``
    or its department's entry; docs/security.md, finding 2): checked here at save, on this host, and by the
    node again before each run. 4001 on ``shell_workdir`` otherwise."""
    workdir = values.get("shell_workdir")
    if not workdir or not settings.DJS_SHELL.enabled:
        return
    try:
        identities = ShellIdentities.of(settings.DJS_SHELL)
    except ShellIdentityError:
        return  # a wrong identity setting is the node's start-up error, not this task's
    path = ancestry(values["department_id"], department_parents())
    if problem := workdir_problem(workdir, identities.for_departments(path)):
        raise errors.invalid("shell_workdir", problem)


def shell_below(task_ids: set[int]) -> bool:
    """Whether running one of these tasks runs a SHELL command further down its child chains."""
    _, below = _levels(set(task_ids), up=False, limit=int(settings.DJS_SCHEDULER.child_depth))
    return bool(below) and Task.objects.filter(pk__in=below, task_type=TaskType.SHELL).exists()


def require_shell_run(actor: Actor, task: Task, action: str) -> None:
    """``task:shell`` for every transition that makes a SHELL command run (issue 16, finding 7): enabling or
    running a SHELL task (also the platform switch), or a task with a SHELL task among its children."""
    if task.task_type == TaskType.SHELL:
        require_shell(actor, action)
    elif shell_below({task.pk}):
        require_permission(actor.user, "task:shell")


@transaction.atomic
def task_create(*, actor: Actor, spec: TaskSpec) -> Task:
    """Create the task ``spec`` describes (``task:create``; SHELL also ``task:shell``), in the actor's scope."""
    spec = spec.checked()
    require_permission(actor.user, "task:create")
    if spec.task_type == TaskType.SHELL:
        require_shell(actor, gettext("create a SHELL task"))
    require_department_in_scope(actor.user, spec.department_id, field="department_id")
    values = spec.columns()
    check_shell_workdir(values)
    check_name(values["name"], values["department_id"])
    schedule = spec.schedule or parse_schedule(values["cron_expression"], values["timezone"])
    task = Task(**values, creator=actor.user, next_execute_time=next_fire(schedule, values["status"]))
    _save_unique(task, force_insert=True)
    changes = redact_created({camel(k): v for k, v in values.items() if v not in (None, "")})
    if spec.child_task_ids:
        _set_children(actor=actor, task=task, child_ids=list(spec.child_task_ids))
        changes["childTaskIds"] = list(spec.child_task_ids)
    audit_record(actor=actor, action="task.create", object_type="task", object_id=task.pk, object_repr=task.name,
                 department_id=task.department_id, changes=changes)
    return task


def _task_for_write(actor: Actor, task_id: int, permission: str) -> Task:
    return get_in_scope(Task.objects.restrict(actor.user, permission).select_for_update(), task_id, "task")


@transaction.atomic
def task_update(*, actor: Actor, task_id: int, spec: TaskSpec, expected_version: int | None = None) -> Task:
    """Replace every field of task ``task_id`` with ``spec`` (``child_task_ids`` None keeps the children);
    ``expected_version``: the optimistic check (:func:`check_version`)."""
    spec = spec.checked()
    task_type = spec.task_type
    if task_type == TaskType.SHELL:  # before the lookup: a missing permission is 4003 wherever the task is
        require_permission(actor.user, "task:update")
        require_shell(actor, gettext("change a SHELL task"))
    if spec.child_task_ids is not None or spec.department_id != Task.objects.filter(pk=task_id).values_list(
            "department_id", flat=True).first():
        # A graph edit (children, or a move re-checked against the graph) takes the graph lock before the task's
        # row lock, as every graph edit does: the other order deadlocks on MariaDB (the new task_child rows
        # share-lock their child task, which a concurrent editor of that task would hold while waiting here).
        graph_lock()
    task = _task_for_write(actor, task_id, "task:update")
    if task.task_type != task_type:
        raise errors.InvalidArgument(
            gettext("task %(task_id)s is a %(task_type)s task; use PUT /tasks/%(path)s/%(task_id)s")
            % {"task_id": task.pk, "task_type": task.task_type, "path": task.task_type.lower()})
    check_version(task, expected_version)
    if spec.department_id != task.department_id:
        require_department_in_scope(actor.user, spec.department_id, field="department_id")
    values = spec.columns()
    check_shell_workdir(values)
    if task_name_key(values["name"]) != task.name_key or values["department_id"] != task.department_id:
        check_name(values["name"], values["department_id"], exclude=task.pk)
    if values["status"] != TaskStatus.DISABLED and task.status == TaskStatus.DISABLED:
        require_shell_run(actor, task, gettext("enable a SHELL task"))
    moved_from = task.department_id if values["department_id"] != task.department_id else None
    changes = redact_diff(diff(task, {k: values[k] for k in AUDITED_FIELDS}))
    if spec.child_task_ids is not None or values["department_id"] != task.department_id:
        # Before anything is written: an invalid child list answers 4001 and changes nothing.
        children = _set_children(actor=actor, task=task, department_id=values["department_id"],
                                 child_ids=None if spec.child_task_ids is None else list(spec.child_task_ids))
        if children is not None:
            changes["childTaskIds"] = children
    schedule_changed = {"cronExpression", "timezone", "status"} & changes.keys()
    for field, value in values.items():
        setattr(task, field, value)
    if schedule_changed or task.next_execute_time is None:
        schedule = spec.schedule or parse_schedule(task.cron_expression, task.timezone)
        task.next_execute_time = next_fire(schedule, task.status)
    task.version = F("version") + 1
    task.revision = F("revision") + 1
    _save_unique(task)
    task.refresh_from_db()
    if moved_from is not None:
        signals.task_moved.send(sender=Task, task=task)  # e.g. its alert policy moves with it
    audit_record(actor=actor, action="task.update", object_type="task", object_id=task.pk, object_repr=task.name,
                 department_id=task.department_id, changes=changes)
    return task


@transaction.atomic
def task_set_status(*, actor: Actor, task_id: int, status: int, expected_version: int | None = None) -> Task:
    task = _task_for_write(actor, task_id, "task:update")
    check_version(task, expected_version)
    if status != TaskStatus.DISABLED:
        require_shell_run(actor, task, gettext("enable a SHELL task"))
    old = task.status
    if old != status:
        task.status = status
        task.next_execute_time = next_fire(parse_schedule(task.cron_expression, task.timezone), status)
        task.version = F("version") + 1
        task.revision = F("revision") + 1
        task.save(update_fields=["status", "next_execute_time", "version", "revision", "update_time"])
        task.refresh_from_db()
    audit_record(actor=actor, action="task.status", object_type="task", object_id=task.pk, object_repr=task.name,
                 department_id=task.department_id, changes={"status": {"old": old, "new": status}})
    return task


@transaction.atomic
def task_delete(*, actor: Actor, task_id: int) -> None:
    task = _task_for_write(actor, task_id, "task:delete")
    audit_record(actor=actor, action="task.delete", object_type="task", object_id=task.pk, object_repr=task.name,
                 department_id=task.department_id)
    # Running executions are told to stop; their records stay (records outlive tasks).
    task.delete()


# --- child tasks (docs/child-tasks.md) -----------------------------------------------------------------

CHILD_FIELD = "child_task_ids"


def graph_lock() -> None:
    """Serialise edits of the child graph platform-wide: lock the one ``scheduler_state`` row (held until the
    transaction ends; taking it again in the same transaction is free). Whoever will edit the graph (these
    services, declarative apply before its plan locks task rows) takes it before any task row."""
    _scheduler_state_for_update()


def _levels(start: set[int], up: bool, limit: int) -> tuple[int, set[int]]:
    """Walk the child graph from ``start`` (towards parents when ``up``): (the longest path in links, capped at
    ``limit + 1``; every task reached). One query per level; the graph is acyclic, the cap guards the loop."""
    frontier, seen, depth = set(start), set(), 0
    src, dst = ("child_id", "parent_id") if up else ("parent_id", "child_id")
    while frontier and depth <= limit:
        frontier = set(TaskChild.objects.filter(**{f"{src}__in": frontier}).values_list(dst, flat=True))
        if frontier:
            depth += 1
            seen |= frontier
    return depth, seen


def _set_children(*, actor: Actor, task: Task, child_ids: list[int] | None,
                  department_id: int | None = None) -> dict[str, list[int]] | None:
    """Check and store ``task``'s children (``None``: keep them, only re-check them against a new department).

    Rules, each a 4001 on ``child_task_ids`` (or ``department_id``) that changes nothing: every child is a task the
    actor can see ("task N not found" otherwise, whether it exists or not), in the task's department or below;
    not the task itself; no cycle; the longest chain through the task (ancestors and descendants) at most
    ``job.childDepth`` links. Graph edits are serialised platform-wide by locking the ``scheduler_state`` row
    first, so two concurrent edits cannot each add half of a cycle (both backends read committed data after the
    lock: MariaDB runs READ COMMITTED, SQLite has one writer). Returns the audit change, None when unchanged."""
    graph_lock()
    department_id = department_id or task.department_id
    old = list(TaskChild.objects.filter(parent=task).order_by("position", "id").values_list("child_id", flat=True))
    new = old if child_ids is None else list(child_ids)
    edges = list(Department.objects.values_list("id", "parent_id"))
    below = descendants_of(department_id, edges)
    if department_id != task.department_id:
        # Moving the task: its parents must still hold it in their scope.
        for parent_id, parent_dept, parent_name in (TaskChild.objects.filter(child=task)
                                                     .values_list("parent_id", "parent__department_id",
                                                                  "parent__name")):
            if department_id not in descendants_of(parent_dept, edges):
                raise errors.invalid("department_id", gettext("task %(task_id)s is a child of task %(parent_id)s "
                                                              "(%(parent_name)s), whose department scope does not "
                                                              "hold that department; remove it from that task's "
                                                              "children first")
                                                      % {"task_id": task.pk, "parent_id": parent_id,
                                                         "parent_name": parent_name})
    if task.pk in new:
        raise errors.invalid(CHILD_FIELD, gettext("a task cannot be its own child"))
    visible = dict(Task.objects.restrict(actor.user).filter(pk__in=new).values_list("id", "department_id"))
    if child_ids is None:  # kept children: only the department rule applies (the actor need not see them)
        visible = dict(Task.objects.filter(pk__in=new).values_list("id", "department_id"))
    for child_id in new:
        if child_id not in visible:
            raise errors.invalid(CHILD_FIELD, gettext("task %(child_id)s not found") % {"child_id": child_id})
        if visible[child_id] not in below:
            raise errors.invalid(CHILD_FIELD if child_ids is not None else "department_id",
                                 gettext("task %(child_id)s not found in the department of task %(task_id)s or below")
                                 % {"child_id": child_id, "task_id": task.pk})
    if child_ids is None:
        return None
    added = set(new) - set(old)
    if added and Task.objects.filter(pk__in=added, task_type=TaskType.SHELL).exists():
        require_shell(actor, gettext("make a SHELL task a child"))  # naming it is running it, as a manual trigger would
    elif added and shell_below(added):
        require_permission(actor.user, "task:shell")  # a child whose own children run a SHELL command
    limit = int(settings.DJS_SCHEDULER.child_depth)
    up, ancestors = _levels({task.pk}, up=True, limit=limit)
    for child_id in new:
        if child_id in ancestors:
            raise errors.invalid(CHILD_FIELD, gettext("task %(child_id)s already runs before task %(task_id)s (it "
                                                      "is one of its parents or their parents): the link would make "
                                                      "a cycle")
                                              % {"child_id": child_id, "task_id": task.pk})
    # level k below the children is reached iff some child starts a path of k links
    down = 1 + _levels(set(new), up=False, limit=limit)[0] if new else 0
    if up + down > limit:
        raise errors.invalid(CHILD_FIELD, gettext("the chain of child tasks through task %(task_id)s would be "
                                                  "%(depth)s levels deep; at most %(limit)s (job.childDepth)")
                                          % {"task_id": task.pk, "depth": up + down, "limit": limit})
    if new == old:
        return None
    TaskChild.objects.filter(parent=task).delete()
    TaskChild.objects.bulk_create([TaskChild(parent=task, child_id=child_id, position=i)
                                   for i, child_id in enumerate(new)])
    return {"old": old, "new": new}


def live_nodes(now: datetime | None = None) -> int:
    return SchedulerNode.objects.alive(now or timezone.now()).count()


@transaction.atomic
def task_trigger(*, actor: Actor, task_id: int, overrides: dict[str, Any] | None = None) -> TriggerRequest:
    """Queue a manual run; a live scheduler node picks it up within its poll interval (~0.5 s)."""
    task = get_in_scope(Task.objects.restrict(actor.user, "task:execute"), task_id, "task")
    require_shell_run(actor, task, gettext("run a SHELL task"))
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "grpcParams" in overrides and task.task_type != TaskType.GRPC:
        raise errors.invalid("grpcParams", gettext("only for gRPC tasks"))
    if {"body", "headers"} & overrides.keys() and task.task_type != TaskType.HTTP:
        raise errors.invalid(next(iter({"body", "headers"} & overrides.keys())), gettext("only for HTTP tasks"))
    if task.department_id in disabled_department_ids(max_age=0):
        raise errors.Conflict(gettext("the task's department (or one above it) is disabled: its tasks do not run"))
    if not live_nodes():
        raise errors.Conflict(gettext("no live scheduler node can run the task now; start `manage.py runscheduler`"))
    request = TriggerRequest.objects.create(task=task, overrides=overrides or None,
                                            requested_by_id=actor.user.pk, requested_at=timezone.now())
    audit_record(actor=actor, action="task.trigger", object_type="task", object_id=task.pk, object_repr=task.name,
                 department_id=task.department_id, changes={"overrides": sorted(overrides)} if overrides else None)
    return request


@transaction.atomic
def task_kill(*, actor: Actor, task_id: int) -> Task:
    """Every execution of the task running now (on any node) is cancelled within about a second."""
    task = _task_for_write(actor, task_id, "task:execute")
    task.kill_seq = F("kill_seq") + 1
    task.save(update_fields=["kill_seq", "update_time"])
    task.refresh_from_db()
    audit_record(actor=actor, action="task.kill", object_type="task", object_id=task.pk, object_repr=task.name,
                 department_id=task.department_id)
    return task


@transaction.atomic
def execution_kill(*, actor: Actor, year: int, month: int, record_id: int) -> Any:
    """Stop ONE running execution (the record ``record_id`` of that month) within about a second: the node
    running it cancels it and the record ends ``killed``; the task's other runs go on. ``task:execute`` on the
    record's department; 4004 outside the scope or missing, 4009 when the execution is not running (finished, or
    claimed and still waiting for its start)."""
    require_permission(actor.user, "task:execute")
    if not (1970 <= year <= 9999 and 1 <= month <= 12):
        raise errors.invalid("month", gettext("no record table for %(year)s-%(month)s") % {"year": year,
                                                                                          "month": month})
    if table_name(year, month) not in existing_record_tables(refresh=True):
        raise errors.NotFound(gettext("record not found"))
    record = get_in_scope(record_model(year, month).objects.restrict(actor.user), record_id, "record")
    if record.status != RecordStatus.RUNNING or record.start_time is None:
        state = RecordStatus(record.status).name.lower() if record.status != RecordStatus.RUNNING else "waiting"
        raise errors.Conflict(gettext("execution %(id)s is not running (%(state)s)") % {"id": record.pk,
                                                                                       "state": state})
    _, created = ExecutionKill.objects.get_or_create(
        month=year * 100 + month, record_id=record.pk,
        defaults={"task_id": record.task_id, "requested_by_id": actor.user.pk, "requested_at": timezone.now()})
    Task.objects.filter(pk=record.task_id).update(record_kill_seq=F("record_kill_seq") + 1)
    if created:
        audit_record(actor=actor, action="record.kill", object_type="record", object_id=record.pk,
                     object_repr=f"{record.task_name} #{record.pk} ({year}-{month:02d})",
                     department_id=record.department_id)
    return record


# --- maintenance mode ---------------------------------------------------------------------------------

def _scheduler_state_for_update() -> SchedulerState:
    """The ``scheduler_state`` row, locked; created on first use (a concurrent creator wins, we lock theirs)."""
    try:
        with transaction.atomic():
            SchedulerState.objects.get_or_create(pk=SCHEDULER_STATE_ID)
    except IntegrityError:
        pass
    return SchedulerState.objects.select_for_update().get(pk=SCHEDULER_STATE_ID)


def require_platform_operator(actor: Actor, verb: str) -> None:
    """Maintenance mode stops every tenant: ``system:manage`` held in the top department (issue 16). An operator
    of a department below holds the code for their own scope, not for the platform."""
    require_permission(actor.user, "system:manage")
    if Department.objects.filter(pk=actor.user.department_id, parent__isnull=True).exists():
        return
    raise errors.Forbidden(gettext("permission denied: only system:manage holders in the top department may "
                                   "%(verb)s the platform") % {"verb": verb})


@transaction.atomic
def scheduler_pause(*, actor: Actor, reason: str = "") -> SchedulerState:
    """Maintenance mode on, platform-wide (``system:manage``). Every scheduler node sees it on its next poll
    and stops claiming scheduled fires and manual triggers (triggers wait in ``task_trigger``); nodes keep
    heartbeating, finish what they already started and honour kills. Pausing while paused changes nothing
    (the first pause's time, user and reason stay). ``reason``: at most 255 characters (4001 on ``reason``)."""
    problems = inputs.Problems()
    reason = problems.check("reason", reason, lambda v: inputs.text(v, max_length=255, blank=True))
    problems.raise_if_any()
    require_platform_operator(actor, gettext("pause"))
    state = _scheduler_state_for_update()
    was = state.paused
    if not was:
        state.paused, state.paused_at, state.paused_by_id, state.reason = True, timezone.now(), actor.user.pk, reason
        state.save()
    audit_record(actor=actor, action="scheduler.pause", object_type="scheduler", object_id=state.pk,
                 object_repr="scheduler", changes={"paused": {"old": was, "new": True},
                                                   **({"reason": reason} if not was and reason else {})})
    return state


@transaction.atomic
def scheduler_resume(*, actor: Actor) -> SchedulerState:
    """Maintenance mode off (``system:manage``): nodes claim again on their next poll; fire times missed
    during the pause follow each task's misfire policy, waiting triggers run. Resuming while running changes
    nothing."""
    require_platform_operator(actor, gettext("resume"))
    state = _scheduler_state_for_update()
    was = state.paused
    if was:
        state.paused, state.paused_at, state.paused_by_id, state.reason = False, None, None, ""
        state.save()
    audit_record(actor=actor, action="scheduler.resume", object_type="scheduler", object_id=state.pk,
                 object_repr="scheduler", changes={"paused": {"old": was, "new": False}})
    return state
