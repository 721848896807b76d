"""The scheduler's SQL as plain functions (db-scheduler's TaskRepository): claims, record inserts, start marks,
manual triggers, give-backs, kill state and node registration.

Each runs on a node's database thread; it gets what it needs as arguments and returns what it found, so no
state of the node crosses threads. Exactly once: a claim is ``UPDATE task SET next_execute_time=?,
last_execute_time=?, version=version+1 WHERE id=? AND version=?`` in the same transaction as the INSERT of
the claimed fires' records (status running, no start time). Only the node whose UPDATE changed the row fires;
the UNIQUE (task_id, scheduled_time, trigger_type) key of the month table is the database's own second guard.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q

from apps.departments.selectors import department_parents, disabled_department_ids
from apps.executors import registry
from apps.records import sqlrows
from apps.records.models import (
    RecordStatus,
    TriggerType,
    ensure_record_table,
    existing_record_tables,
    month_of,
    months_between,
    previous_month,
    record_model,
    table_name,
)
from apps.tasks import engine, nodestats
from apps.tasks.models import (
    ExecutionKill,
    NodeMinute,
    SchedulerNode,
    SchedulerState,
    Task,
    TaskChild,
    TaskStatus,
    TriggerRequest,
)
from apps.tasks.schedule import Schedule, ScheduleError, parse_schedule
from apps.tasks.scheduler import clock
from apps.tasks.scheduler.fires import TASK_FIELDS, VERSION, Fire
from apps.tasks.selectors import SCHEDULER_STATE_ID
from djs_platform import metrics
from djs_platform.conf import SchedulerSettings

log = logging.getLogger("djs.scheduler")

WRITE_CHUNK = 200  # records per INSERT / UPDATE statement
MARK_CHUNK = 1000  # records per start-mark UPDATE (one value for the whole chunk: only the id list grows)


# --- node registration ----------------------------------------------------------------------------------

def register(name: str) -> tuple[int, bool]:
    """Register a node: (its id, whether scheduling is paused right now)."""
    now = clock.utcnow()
    node = SchedulerNode.objects.create(name=name, host=socket.gethostname(), pid=os.getpid(), started_at=now,
                                        heartbeat_at=now, status="up", version=VERSION)
    paused = bool(SchedulerState.objects.filter(pk=SCHEDULER_STATE_ID).values_list("paused", flat=True).first())
    return node.pk, paused


def heartbeat(node_id: int, status: str, running: int, timeout: float, *, name: str = "",
              minutes: list[tuple[datetime, nodestats.Minute]] = (), prune: bool = False) -> tuple[bool, int]:
    """(whether this node is still alive — False once a survivor declared it dead —, live nodes). Also stores
    the node's per-minute figures that changed (absolute values: only this node writes its rows) and, once a
    minute (``prune``), drops every node's minutes older than 24 hours."""
    now = clock.utcnow()
    alive = bool(SchedulerNode.objects.filter(pk=node_id, status__in=["up", "stopping"]).update(
        heartbeat_at=now, status=status, running=running))
    live = SchedulerNode.objects.alive(now, timeout).count()
    if minutes:
        upsert_minutes(name, minutes)
    if prune:
        NodeMinute.objects.filter(minute__lt=now - nodestats.KEEP).delete()
    return alive, live


_MINUTE_FIGURES = ("executions", "failures", "cost_sum", "cost_count", "lag_histogram")


def upsert_minutes(name: str, minutes: list[tuple[datetime, nodestats.Minute]]) -> None:
    """Store a node's minutes (absolute figures) in ONE autocommit statement: an upsert on (node_name, minute).
    (``bulk_create(update_conflicts=True)`` would wrap it in a transaction: three statements more per heartbeat.)"""
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    columns = ("node_name", "minute", *_MINUTE_FIGURES)
    params: list[Any] = []
    for minute, m in minutes:
        params += [name, adapt(minute), m.executions, m.failures, m.cost_sum, m.cost_count, json.dumps(m.lag)]
    rows = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in minutes)
    if connection.vendor == "mysql":
        update = ", ".join(f"{qn(c)} = VALUES({qn(c)})" for c in _MINUTE_FIGURES)
        conflict = f"ON DUPLICATE KEY UPDATE {update}"
    else:
        update = ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in _MINUTE_FIGURES)
        conflict = f"ON CONFLICT ({qn('node_name')}, {qn('minute')}) DO UPDATE SET {update}"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(NodeMinute._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
                       f"VALUES {rows} {conflict}", params)


def deregister(node_id: int) -> None:
    SchedulerNode.objects.filter(pk=node_id).update(status="down", heartbeat_at=clock.utcnow(), running=0)


# --- what is due ----------------------------------------------------------------------------------------

def peek() -> tuple[datetime | None, bool, bool]:
    """(earliest next fire time of an enabled or one-shot task, whether a manual trigger is pending,
    whether scheduling is paused): index-only lookups in one statement."""
    qn = connection.ops.quote_name
    # Tasks of disabled departments (and their subtrees) are not claimed, so they do not wake the node.
    disabled = sorted(disabled_department_ids())
    skip = f" AND {qn('department_id')} NOT IN ({', '.join(['%s'] * len(disabled))})" if disabled else ""
    sql = (f"SELECT (SELECT MIN({qn('next_execute_time')}) FROM {qn('task')} WHERE {qn('status')} = %s{skip}), "
           f"(SELECT MIN({qn('next_execute_time')}) FROM {qn('task')} WHERE {qn('status')} = %s{skip}), "
           f"(SELECT MIN({qn('id')}) FROM {qn('task_trigger')} WHERE {qn('claimed_by')} IS NULL), "
           f"(SELECT {qn('paused')} FROM {qn(SchedulerState._meta.db_table)} WHERE {qn('id')} = %s)")
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(TaskStatus.ENABLED), *disabled, int(TaskStatus.ONE_SHOT), *disabled,
                             SCHEDULER_STATE_ID])
        enabled, one_shot, trigger, paused = cursor.fetchone()
    column = Task._meta.get_field("next_execute_time")
    times = [column.to_python(connection.ops.convert_datetimefield_value(v, None, connection) if v else None)
             for v in (enabled, one_shot)]
    times = [t for t in times if t is not None]
    return (min(times) if times else None), trigger is not None, bool(paused)


class ScheduleCache:
    """Parsed schedules by (cron, zone); owned by the thread that claims."""

    def __init__(self) -> None:
        self._schedules: dict[tuple[str, str], Schedule] = {}

    def get(self, cron: str, tz: str) -> Schedule:
        schedule = self._schedules.get((cron, tz))
        if schedule is None:
            schedule = self._schedules[(cron, tz)] = parse_schedule(cron, tz)
        return schedule


@dataclass
class Claimed:
    fires: list[Fire] = field(default_factory=list)
    full: bool = False                  # the batch was full: there may be more due
    last_due: datetime | None = None    # due time of the batch's last task
    conflicts: int = 0                  # tasks another node or an edit changed between SELECT and UPDATE
    duplicates: int = 0                 # fires already recorded (never fired twice)


def ensure_tables(instants: list[datetime] | list[tuple[int, int]]) -> None:
    for ym in {i if isinstance(i, tuple) else month_of(i) for i in instants}:
        ensure_record_table(*ym)


def claim_due(*, node: str, config: SchedulerSettings, earliest: datetime,
              schedules: ScheduleCache) -> Claimed:
    """Claim a batch of due tasks. ``earliest`` is the earliest due time :func:`peek` saw."""
    now = clock.utcnow()
    horizon = now + timedelta(seconds=config.lookahead)
    due = (Task.objects.filter(status__in=[TaskStatus.ENABLED, TaskStatus.ONE_SHOT], next_execute_time__lte=horizon)
           .order_by("next_execute_time", "id"))
    if disabled := disabled_department_ids():
        # A disabled department stops its subtree's tasks; when it is enabled again, each task's misfire
        # policy decides about the instants it missed (as after a maintenance pause).
        due = due.exclude(department_id__in=disabled)
    # Month tables must exist before the claim transaction (MySQL DDL commits implicitly): on-time fires lie
    # between now - misfireThreshold and the horizon (catch-up runs of older instants create their month
    # below, a rare path).
    ensure_tables(months_between(max(earliest, now - timedelta(seconds=config.misfire_threshold)), horizon))
    claimed = Claimed()
    with transaction.atomic():
        # SKIP LOCKED (MariaDB/MySQL/PostgreSQL; ignored by SQLite, which has one writer anyway): nodes polling
        # at the same moment take disjoint batches instead of racing for the same rows.
        rows = list(task_rows(due.select_for_update(skip_locked=True))[: config.claim_batch])
        groups: dict[tuple, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
        # Tasks of one schedule due at the same time get the same plan (the usual batch: many tasks every minute
        # or second): it is computed once per batch.
        plans: dict[tuple, engine.ClaimPlan] = {}
        for row in rows:
            same = (row["cron_expression"], row["timezone"], row["next_execute_time"], row["status"],
                    row["misfire_policy"])
            plan = plans.get(same)
            if plan is None:
                try:
                    schedule = schedules.get(row["cron_expression"], row["timezone"])
                except ScheduleError as exc:
                    log.error("task %s has an invalid schedule (%s); disabling it", row["id"], exc)
                    Task.objects.filter(pk=row["id"], version=row["version"]).update(
                        status=TaskStatus.DISABLED, next_execute_time=None, version=F("version") + 1)
                    continue
                plan = plans[same] = engine.plan_claim(
                    schedule=schedule, due=row["next_execute_time"], now=now, horizon=horizon, status=row["status"],
                    misfire_policy=row["misfire_policy"], misfire_threshold=config.misfire_threshold)
            groups[(plan.next_execute_time, plan.last_execute_time, plan.status)].append((row, plan))
        for members in groups.values():
            won, conflicts = claim_group(members)
            claimed.conflicts += conflicts
            for row, plan in won:
                if plan.catch_up:
                    metrics.misfires.labels(row["misfire_policy"]).inc(plan.missed + len(plan.fires))
                if plan.catch_up and plan.fires:
                    ensure_tables(plan.fires)  # old months (outside this transaction's DDL guarantee)
                for instant in plan.fires:
                    claimed.fires.append(Fire(task=row, scheduled=instant, trigger=TriggerType.SCHEDULE,
                                              start_now=plan.catch_up, kill_seq=row["kill_seq"]))
        claimed.duplicates = insert_records(claimed.fires, node)
    claimed.fires = [f for f in claimed.fires if f.record_id]
    claimed.full = len(rows) >= config.claim_batch
    claimed.last_due = rows[-1]["next_execute_time"] if rows else None
    return claimed


def task_rows(tasks: Any) -> Any:
    """The snapshot a fire runs with (:data:`TASK_FIELDS`) and ``has_children``: whether the task had child tasks
    when it was claimed, read in the same statement, so the result writer asks for the links of a success only
    when there are any (docs/child-tasks.md: the children as of the claim)."""
    return tasks.annotate(has_children=Exists(TaskChild.objects.filter(parent_id=OuterRef("pk")))).values(
        *TASK_FIELDS, "has_children")


class _PartialClaim(Exception):
    """A grouped claim changed fewer rows than it asked for (rolled back, retried row by row)."""


def claim_group(members: list[tuple[dict[str, Any], Any]]) -> tuple[list[tuple[dict[str, Any], Any]], int]:
    """Claim tasks whose claims write the same new state with ONE compare-and-set UPDATE: (won, conflicts).

    Every task of the group moves to the same (next, last, status), conditional on each task's own version.
    When fewer rows change than asked (another node or an edit got in between), the statement is rolled back
    and the group is claimed row by row, so exactly the tasks whose own version still matched are fired.
    """
    _, plan = members[0]
    if len(members) > 1:
        try:
            with transaction.atomic():
                if claim_rows(plan, [(row["id"], row["version"]) for row, _ in members]) != len(members):
                    raise _PartialClaim
            return members, 0
        except _PartialClaim:
            pass
    won = []
    for row, plan in members:
        if claim_rows(plan, [(row["id"], row["version"])]):
            won.append((row, plan))
        else:
            metrics.claim_conflicts.inc()
    return won, len(members) - len(won)


def claim_rows(plan: Any, ids_versions: list[tuple[int, int]]) -> int:
    """``UPDATE task SET next, last, status, version+1 WHERE (id, version) matches``; rows changed."""
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    last = f"{qn('last_execute_time')} = %s" if plan.last_execute_time else \
        f"{qn('last_execute_time')} = {qn('last_execute_time')}"
    sql = (f"UPDATE {qn('task')} SET {qn('next_execute_time')} = %s, {last}, {qn('status')} = %s, "
           f"{qn('version')} = {qn('version')} + 1 WHERE "
           + " OR ".join(f"({qn('id')} = %s AND {qn('version')} = %s)" for _ in ids_versions))
    params: list[Any] = [adapt(plan.next_execute_time) if plan.next_execute_time else None]
    if plan.last_execute_time:
        params.append(adapt(plan.last_execute_time))
    params.append(int(plan.status))
    for task_id, version in ids_versions:
        params += [task_id, version]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- records --------------------------------------------------------------------------------------------

INSERT_COLUMNS = ("task_id", "task_name", "department_id", "task_type", "trigger_type", "scheduled_time", "status",
                  "executor", "retry_times", "used_fallback", "parent_record_id", "parent_month", "create_time",
                  "update_time")
SHARD_COLUMNS = ("shard", "shard_total", "instance")  # written for broadcast shards only


def insert_records(fires: list[Fire], node: str) -> int:
    """INSERT the fires' records (running, not started) and set each fire's ``record_id``; returns how many
    were recorded already (they keep ``record_id`` 0 and are never fired twice)."""
    by_month: dict[tuple[int, int], list[Fire]] = defaultdict(list)
    for fire in fires:
        by_month[fire.table].append(fire)
    now = clock.utcnow()
    duplicates = 0
    for (year, month), group in by_month.items():
        model = record_model(year, month)
        try:
            # No savepoint around it: on MariaDB/MySQL (InnoDB) and SQLite a failed statement is undone by itself
            # and the transaction goes on (statement-level rollback), so a duplicate costs nothing here and the
            # usual claim saves the SAVEPOINT/RELEASE pair. (PostgreSQL would need the savepoint back.)
            insert_records_sql(model._meta.db_table, group, now, node)
        except IntegrityError:
            # Someone recorded one of these already (the unique key did its job): go one by one through the
            # fires of the chunk that failed and those after it (earlier chunks are stored, with their ids).
            for fire in group:
                if fire.record_id:
                    continue
                obj = model(task_id=fire.task["id"], task_name=fire.task["name"],
                            department_id=fire.task["department_id"], task_type=fire.task["task_type"],
                            trigger_type=fire.trigger, scheduled_time=fire.scheduled, status=RecordStatus.RUNNING,
                            executor=node, retry_times=fire.retry_times, parent_record_id=fire.parent_record_id,
                            parent_month=fire.parent_month, shard=fire.shard, shard_total=fire.shard_total,
                            instance=fire.pinned, create_time=now, update_time=now)
                try:
                    with transaction.atomic():
                        obj.save(force_insert=True)
                    fire.record_id = obj.pk
                except IntegrityError:
                    duplicates += 1
                    log.warning("task %s at %s already recorded; not firing again", fire.task["id"],
                                fire.scheduled.isoformat())
    return duplicates


def insert_records_sql(table: str, fires: list[Fire], now: datetime, executor: str, *, marked: bool = False) -> None:
    """Multi-row ``INSERT ... RETURNING id`` of claimed fires' records (chunks of :data:`WRITE_CHUNK`); sets each
    stored fire's ``record_id``. Broadcast shards (``shard_total`` set) also store their shard and instance, and
    with ``marked`` their start mark (``mark_at``).

    Raises ``IntegrityError`` when one of a chunk's records exists already: that chunk stored nothing, the
    chunks before it are stored (their fires have their ids), the caller goes on one by one.
    """
    qn = connection.ops.quote_name
    adapt = sqlrows.cached(connection.ops.adapt_datetimefield_value)
    running = int(RecordStatus.RUNNING)
    for i in range(0, len(fires), WRITE_CHUNK):
        chunk = fires[i:i + WRITE_CHUNK]
        sharded = any(f.shard_total for f in chunk)
        columns = INSERT_COLUMNS + (SHARD_COLUMNS if sharded else ()) + (("start_time",) if marked else ())
        params: list[Any] = []
        rows: list[str] = []
        for f in chunk:
            values = [f.task["id"], f.task["name"], f.task["department_id"], f.task["task_type"], str(f.trigger),
                      f.scheduled, running, executor, f.retry_times, False, f.parent_record_id, f.parent_month,
                      now, now]
            if sharded:
                values += [f.shard, f.shard_total, f.pinned]
            if marked:
                values.append(f.mark_at)
            rows.append(sqlrows.row(values, params, adapt))  # numbers and times as text, strings bound
        sql = (f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES "
               + ", ".join(rows) + f" RETURNING {qn('id')}")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        for fire, record_id in zip(chunk, ids, strict=True):
            fire.record_id = record_id


def mark_started(fires: list[Fire], node: str) -> list[Fire]:
    """The start marks (DESIGN §14.2): one UPDATE per month table (and :data:`MARK_CHUNK` records) sets the
    fires' ``start_time`` to their ``mark_at``, only on records that are still this node's, running and
    unmarked. Returns the fires whose mark is committed — only those may be sent. A fire whose record was
    taken over or declared lost by a survivor meanwhile is not returned (it must not run here).

    A broadcast fire with planned instances (``Fire.planned``) gets its shards in the same transaction: shard 0
    (its own record) names the first instance, shards 1..n-1 are inserted already marked, and their new fires
    are returned after the others.

    Idempotent: retried after a commit whose acknowledgement was lost, the records already marked by this
    node count as marked (and a broadcast's shards stored then are found again)."""
    by_table: dict[tuple[int, int], list[Fire]] = defaultdict(list)
    for fire in fires:
        by_table[fire.table].append(fire)
    marked: list[Fire] = []
    now = clock.utcnow()
    broadcast = any(fire.planned for fire in fires)
    # One statement commits by itself; several (a burst) share one commit: one durable write before the sends.
    several = broadcast or len(by_table) > 1 or any(len(group) > MARK_CHUNK for group in by_table.values())
    with transaction.atomic() if several else contextlib.nullcontext():
        for (year, month), group in by_table.items():
            marked += _mark_table(table_name(year, month), group, node, now)
        shards = _insert_shards([f for f in marked if f.planned], node, now) if broadcast else []
    return marked + shards


def _insert_shards(fires: list[Fire], node: str, now: datetime) -> list[Fire]:
    """Shards 1..n-1 of marked broadcast fires (n = their planned instances), inserted marked; shard 0 (the fire's
    own record) gets ``shard_total`` and its instance. Returns the new shards' fires."""
    shards: list[Fire] = []
    by_table: dict[tuple[int, int], list[Fire]] = defaultdict(list)
    for fire in fires:
        by_table[fire.table].append(fire)
    for (year, month), group in by_table.items():
        table = table_name(year, month)
        rows = []
        for fire in group:
            instances, fire.planned = fire.planned or [], None
            fire.shard_total, fire.pinned = len(instances), instances[0]
            rows.append((fire.record_id, {"shard_total": fire.shard_total, "instance": fire.pinned}))
            new = [dataclasses.replace(fire, record_id=0, shard=k, pinned=address, start_mark=fire.mark_at,
                                       marking=False, handle=None)
                   for k, address in enumerate(instances) if k]
            if not new:
                continue
            try:
                insert_records_sql(table, new, now, node, marked=True)
            except IntegrityError:  # stored by a mark whose commit's acknowledgement was lost: those are ours
                stored = dict(record_model(year, month).objects.filter(
                    task_id=fire.task["id"], scheduled_time=fire.scheduled, trigger_type=fire.trigger,
                    shard__gt=0, executor=node).values_list("shard", "id"))
                for shard in new:
                    shard.record_id = stored.get(shard.shard, 0)
                new = [shard for shard in new if shard.record_id]
            shards += new
        for i in range(0, len(rows), WRITE_CHUNK):
            sql, params = batch_update_sql(table, rows[i:i + WRITE_CHUNK], now, node,
                                           columns=("shard_total", "instance"))
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    return shards


def _mark_table(table: str, group: list[Fire], node: str, now: datetime) -> list[Fire]:
    """Mark one month table's fires, :data:`MARK_CHUNK` per UPDATE (autocommit unless the caller opened a
    transaction); which of them are this node's marked records."""
    marked: list[Fire] = []
    qn = connection.ops.quote_name
    for i in range(0, len(group), MARK_CHUNK):
        chunk = group[i:i + MARK_CHUNK]
        sql, params = _mark_sql(table, chunk, now, node)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.rowcount == len(chunk):
                marked += chunk
                continue
            ids = [f.record_id for f in chunk]
            cursor.execute(f"SELECT {qn('id')} FROM {qn(table)} WHERE {qn('id')} IN ({', '.join(['%s'] * len(ids))}) "
                           f"AND {qn('executor')} = %s AND {qn('status')} = %s AND {qn('start_time')} IS NOT NULL",
                           [*ids, node, int(RecordStatus.RUNNING)])
            ours = {row[0] for row in cursor.fetchall()}
        marked += [f for f in chunk if f.record_id in ours]
    return marked


def _mark_sql(table: str, chunk: list[Fire], now: datetime, node: str) -> tuple[str, list[Any]]:
    """The start-mark UPDATE of one chunk. The fires of one instant share their mark, so the usual statement is
    ``SET start_time = <one value>`` over an id list; distinct marks (fires started "now") get a CASE."""
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    marks: dict[datetime, list[int]] = defaultdict(list)
    for fire in chunk:
        marks[fire.mark_at].append(fire.record_id)
    params: list[Any] = []
    if len(marks) == 1:
        assignment = f"{qn('start_time')} = %s"
        params.append(adapt(next(iter(marks))))
    else:
        cases = []
        for mark, ids in marks.items():
            cases.append(f"WHEN {qn('id')} IN ({', '.join(['%s'] * len(ids))}) THEN %s")
            params += [*ids, adapt(mark)]
        assignment = f"{qn('start_time')} = CASE {' '.join(cases)} END"
    ids = [fire.record_id for fire in chunk]
    sql = (f"UPDATE {qn(table)} SET {assignment}, {qn('update_time')} = %s "
           f"WHERE {qn('id')} IN ({', '.join(['%s'] * len(ids))}) AND {qn('status')} = %s "
           f"AND {qn('executor')} = %s AND {qn('start_time')} IS NULL")
    return sql, [*params, adapt(now), *ids, int(RecordStatus.RUNNING), node]


RESULT_COLUMNS = ("status", "success", "status_code", "response", "error", "cost_time", "retry_times",
                  "used_fallback", "start_time", "end_time", "instance", "attempts")


def batch_update_sql(table: str, rows: list[tuple[int, dict[str, Any]]], now: datetime, executor: str, *,
                     columns: tuple[str, ...] = RESULT_COLUMNS, extra_where: str = "") -> tuple[str, list[Any]]:
    """One ``UPDATE`` storing many records' values (portable SQL: CASE per varying column).

    Conditional on ``status = running AND executor = this node``: a record a survivor already marked lost or
    took over is not overwritten. A column with one value across the chunk is a plain assignment; a column
    only some rows carry keeps its value (``ELSE column``) for the others. Ids, numbers and times are written as
    SQL text, strings bound (:mod:`apps.records.sqlrows`).
    """
    qn = connection.ops.quote_name
    adapt = sqlrows.cached(connection.ops.adapt_datetimefield_value)
    sets: list[str] = []
    params: list[Any] = []
    for column in columns:
        values = [(rid, _plain(result[column])) for rid, result in rows if column in result]
        if not values:
            continue
        if len(values) == len(rows) and len({(type(v), v) for _, v in values}) == 1:
            sets.append(f"{qn(column)} = {sqlrows.value(values[0][1], params, adapt)}")
            continue
        whens = " ".join([f"WHEN {int(rid)} THEN {sqlrows.value(v, params, adapt)}" for rid, v in values])
        sets.append(f"{qn(column)} = CASE {qn('id')} {whens} ELSE {qn(column)} END")
    sets.append(f"{qn('update_time')} = {sqlrows.value(now, params, adapt)}")
    ids = ", ".join([str(int(rid)) for rid, _ in rows])
    sql = (f"UPDATE {qn(table)} SET {', '.join(sets)} WHERE {qn('id')} IN ({ids}) "
           f"AND {qn('status')} = {int(RecordStatus.RUNNING)} AND {qn('executor')} = %s{extra_where}")
    return sql, params + [executor]


def _plain(value: Any) -> Any:
    """A value as the statement takes it: enum members as plain ints (bools, None, datetimes and strings as they
    are)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def recent_months(now: datetime) -> list[tuple[int, int]]:
    """Existing month tables of the previous, current and (near midnight) next month."""
    year, month = month_of(now)
    # The calendar's previous month: ``now - 31 days`` skips it on the 1st after a 30-day month (and on
    # March 1st-3rd), when last night's running records are the ones most likely lost.
    months = {previous_month(year, month), (year, month), month_of(now + timedelta(days=1))}
    tables = existing_record_tables(refresh=True)
    return [ym for ym in sorted(months) if table_name(*ym) in tables]


# --- manual and child triggers ----------------------------------------------------------------------------

def claim_triggers(node: str) -> tuple[list[Fire], int]:
    """Claim pending trigger requests (manual runs, children): (fires, duplicates)."""
    pending = list(TriggerRequest.objects.filter(claimed_by__isnull=True).order_by("id")[:100])
    if not pending:
        return [], 0
    fires: list[Fire] = []
    links: list[tuple[int, Fire]] = []  # (request id, its fire): GET /v1/triggers/{id} names the record
    now = clock.utcnow()
    ensure_tables([r.requested_at for r in pending] + [now])
    with transaction.atomic():
        for request in pending:
            if not TriggerRequest.objects.filter(pk=request.pk, claimed_by__isnull=True).update(
                    claimed_by=node, claimed_at=now):
                continue
            row = task_rows(Task.objects.filter(pk=request.task_id)).first()
            if row is None:
                continue
            child = request.trigger_type == TriggerType.CHILD
            if row["department_id"] in disabled_department_ids():
                log.info("task %s belongs to a disabled department; its %s trigger is dropped", row["id"],
                         request.trigger_type.lower())
                continue
            if child and row["status"] == TaskStatus.DISABLED:
                log.info("child task %s was disabled after its parent succeeded; not running it", row["id"])
                continue
            fires.append(Fire(task=row, scheduled=request.requested_at,
                              trigger=TriggerType.CHILD if child else TriggerType.MANUAL,
                              start_now=True, overrides=request.overrides, kill_seq=row["kill_seq"],
                              parent_record_id=request.parent_record_id, parent_month=request.parent_month,
                              depth=request.depth))
            links.append((request.pk, fires[-1]))
        duplicates = insert_records(fires, node)
        TriggerRequest.link_records([(pk, f.record_id, *f.table) for pk, f in links if f.record_id])
    return [f for f in fires if f.record_id], duplicates


# --- maintenance pause: give claimed fires back -------------------------------------------------------------

def release(fires: list[Fire], node: str) -> None:
    """Undo the claim of fires that never started (maintenance pause), in one transaction.

    Their records (running, not started, ours) are deleted, and each task's ``next_execute_time`` goes back to
    its earliest given-back instant, with ``last_execute_time`` back to the last fire time still claimed and a
    new version (a claim still in flight elsewhere then fails). A task that changed since is left as it is:
    disabled or edited into another status, or already moved back to an earlier instant by another node giving
    back its own claims; a one-shot task only while it is as its claim left it (disabled, no next time, the
    claim's version).
    """
    by_month: dict[tuple[int, int], list[int]] = defaultdict(list)
    by_task: dict[int, list[Fire]] = defaultdict(list)
    for fire in fires:
        by_month[fire.table].append(fire.record_id)
        by_task[fire.task["id"]].append(fire)
    with transaction.atomic():
        for (year, month), ids in by_month.items():
            for i in range(0, len(ids), WRITE_CHUNK):
                record_model(year, month).objects.filter(
                    pk__in=ids[i:i + WRITE_CHUNK], status=RecordStatus.RUNNING, executor=node,
                    start_time__isnull=True).delete()
        for task_id, group in by_task.items():
            first = min(f.scheduled for f in group)
            row = group[0].task
            task = Task.objects.filter(pk=task_id)
            if row["status"] == TaskStatus.ONE_SHOT:
                task = task.filter(status=TaskStatus.DISABLED, next_execute_time__isnull=True,
                                   version=max(f.task["version"] for f in group) + 1)
            else:
                task = task.filter(Q(next_execute_time__gt=first) | Q(next_execute_time__isnull=True),
                                   status=row["status"])
            task.update(next_execute_time=first, last_execute_time=last_fire_before(task_id, first),
                        status=row["status"], version=F("version") + 1)


def last_fire_before(task_id: int, instant: datetime) -> datetime | None:
    """The latest scheduled fire time of the task before ``instant`` (its month or the one before)."""
    year, month = month_of(instant)
    tables = existing_record_tables()
    for ym in ((year, month), previous_month(year, month)):
        if table_name(*ym) not in tables:
            continue
        latest = (record_model(*ym).objects.filter(task_id=task_id, trigger_type=TriggerType.SCHEDULE,
                                                   scheduled_time__lt=instant)
                  .aggregate(m=Max("scheduled_time"))["m"])
        if latest is not None:
            return latest
    return None


# --- concurrency policies and kills --------------------------------------------------------------------------

def running_elsewhere(task_id: int, before: datetime) -> list[int]:
    """Records of earlier fires of the task still running on any node: started, or claimed and overdue (a
    claimed fire whose instant passed is starting on its node)."""
    ids: list[int] = []
    for year, month in recent_months(clock.utcnow()):
        ids += list(record_model(year, month).objects.filter(
            task_id=task_id, status=RecordStatus.RUNNING, scheduled_time__lt=before).values_list("id", flat=True))
    return ids


def bump_kill(task_id: int) -> int:
    Task.objects.filter(pk=task_id).update(kill_seq=F("kill_seq") + 1)
    return Task.objects.filter(pk=task_id).values_list("kill_seq", flat=True).first() or 0


def kill_state(task_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each task's (``kill_seq``, ``record_kill_seq``); a deleted task is missing (its runs are cancelled)."""
    return {task_id: (kill_seq, record_kill_seq) for task_id, kill_seq, record_kill_seq in
            Task.objects.filter(pk__in=task_ids).values_list("id", "kill_seq", "record_kill_seq")}


def take_execution_kills(keys: list[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    """Which of these records (year, month, id) someone asked to kill; those requests are consumed (deleted)."""
    months = defaultdict(list)
    for year, month, record_id in keys:
        months[year * 100 + month].append(record_id)
    match = Q()
    for month, ids in months.items():
        match |= Q(month=month, record_id__in=ids)
    rows = list(ExecutionKill.objects.filter(match).values_list("id", "month", "record_id"))
    if rows:
        ExecutionKill.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return {(month // 100, month % 100, record_id) for _, month, record_id in rows}


# --- the executor registry, as routing reads it ----------------------------------------------------------------

def registry_snapshot() -> tuple[list[registry.Instance], dict[int, int | None]]:
    """Every live registered instance (DNS entries expanded) and the department tree, read together (the node's
    router reloads them at most once a second while tasks call registry names)."""
    instances = [instance for entry in registry.load_entries() for instance in registry.expand(entry)]
    return instances, department_parents()
