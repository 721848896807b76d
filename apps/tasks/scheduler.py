"""One scheduler node: claim due tasks, fire them at their exact instant, record, recover, drain.

Threads and loops (why): executions are asyncio coroutines on one event loop, so thousands of in-flight
HTTP/gRPC calls cost no threads and a kill is a ``Task.cancel()``. Django's ORM is synchronous, so all
database work runs on two dedicated threads, each with its own connection: ``control`` (claims, triggers,
kill polls, heartbeats, recovery) and ``records`` (batched record updates), so a burst of record writes
never delays the next claim.

Exactly once: a claim is ``UPDATE task SET next_execute_time=?, last_execute_time=?, version=version+1
WHERE id=? AND version=?`` in the same transaction as the INSERT of the claimed fires' records (status
running, no start time yet). Only the node whose UPDATE changed the row fires; the UNIQUE (task_id,
scheduled_time, trigger_type) key of the month table is the database's own second guard. Because the
records exist from the claim on, a node that dies between claim and fire leaves records a survivor marks
``lost`` and re-runs (RECOVERY) — claimed work is never silently dropped.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, Callable

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Max, Q

from djs_platform import metrics, tracing
from apps.records import rollups
from djs_platform.dbrouter import pin_thread_to_primary
from apps.records.models import (
    ERROR_LIMIT,
    RESPONSE_LIMIT,
    RecordStatus,
    TriggerType,
    ensure_record_table,
    existing_record_tables,
    month_of,
    record_model,
)
from apps.alerts.watcher import AlertWatcher
from apps.departments.selectors import ancestry, department_parents, disabled_department_ids
from apps.tasks.egress import EgressPolicy
from apps.tasks.engine import idempotency_key, plan_claim
from apps.tasks.executors import ExecutionSpec, Executors, execute
from apps.tasks.executors.runas import prepare_node
from apps.tasks.executors.shell import ShellSettings
from apps.tasks.models import SchedulerNode, SchedulerState, Task, TaskChild, TaskStatus, TriggerRequest
from apps.tasks.schedule import Schedule, ScheduleError, parse_schedule
from apps.tasks.selectors import SCHEDULER_STATE_ID

log = logging.getLogger("djs.scheduler")
VERSION = "1.0"

DEPARTMENTS_REFRESH = 60.0  # seconds between reads of the department tree (SHELL per-department users)
CLAIM_ROUNDS = 8  # claim batches per tick at most (each batch is one transaction)
TASK_FIELDS = ("id", "name", "department_id", "task_type", "cron_expression", "timezone", "url", "http_method",
               "headers", "body", "fallback_url", "grpc_service", "grpc_method", "grpc_params",
               "fallback_grpc_service", "fallback_grpc_method", "shell_command", "shell_args", "shell_workdir",
               "shell_env", "timeout", "max_retry", "retry_interval",
               "concurrency_policy", "misfire_policy", "status", "next_execute_time", "version", "kill_seq")


def utcnow() -> datetime:
    return datetime.now(dt_timezone.utc)


@dataclass
class Fire:
    """One execution this node owns: a claimed scheduled instant, a manual trigger or a recovery."""

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

    @cached_property
    def table(self) -> tuple[int, int]:
        """(year, month) of the record's month table (``scheduled`` never changes: computed once)."""
        return month_of(self.scheduled)

    @property
    def key(self) -> tuple[int, int, int]:
        """(year, month, record id): record ids repeat across month tables (each numbers from 1), so a fire
        of last month's table (a recovery, a run across midnight) and one of this month's may share an id."""
        return (*self.table, self.record_id)


@dataclass
class NodeConfig:
    poll_interval: float = 0.5
    lookahead: float = 2.0
    claim_batch: int = 500
    heartbeat_interval: float = 3.0
    node_timeout: float = 15.0
    misfire_threshold: float = 60.0
    shutdown_grace: float = 25.0
    http_workers: int = 50
    grpc_workers: int = 20
    queue_size: int = 100
    keep_months: int = 0
    rollup_keep_months: int = 0

    @classmethod
    def from_settings(cls) -> "NodeConfig":
        conf = settings.SCHEDULER
        return cls(poll_interval=conf["poll_interval"], lookahead=conf["lookahead"],
                   claim_batch=conf["claim_batch"], heartbeat_interval=conf["heartbeat_interval"],
                   node_timeout=conf["node_timeout"], misfire_threshold=conf["misfire_threshold"],
                   shutdown_grace=conf["shutdown_grace"], http_workers=conf["http_workers"],
                   grpc_workers=conf["grpc_workers"], queue_size=conf["queue_size"],
                   keep_months=conf["keep_months"], rollup_keep_months=conf["rollup_keep_months"])


class DbThread:
    """A single worker thread with its own Django connection; coroutines await its results.

    The thread reads records from the primary even when a read replica is configured: the node reads back
    its own claims and results (running records, children to trigger, failure streaks), which a lagging
    replica would not have yet."""

    def __init__(self, name: str):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=pin_thread_to_primary)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        def call() -> Any:
            close_old_connections()
            try:
                return fn(*args)
            except Exception:
                connection.close_if_unusable_or_obsolete()
                raise

        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    def shutdown(self) -> None:
        def close() -> None:
            connection.close()

        self.pool.submit(close).result(timeout=10)
        self.pool.shutdown(wait=True)


class Node:
    """The node. ``run()`` blocks until SIGTERM/SIGINT (or :meth:`stop`), then drains."""

    def __init__(self, config: NodeConfig | None = None, name: str | None = None):
        self.config = config or NodeConfig.from_settings()
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.node_id: int | None = None
        self.control = DbThread("djs-control")
        self.records = DbThread("djs-records")
        self.alerts = AlertWatcher(self, DbThread("djs-alerts"))
        self.schedules: dict[tuple[str, str], Schedule] = {}
        self.running: dict[tuple[int, int, int], Fire] = {}  # Fire.key -> fire in flight or waiting
        self.by_task: dict[int, set[tuple[int, int, int]]] = defaultdict(set)
        self.finished: list[tuple[Fire, dict[str, Any]]] = []
        self.unflushed: set[tuple[int, int, int]] = set()  # finished fires (Fire.key) whose result is not committed yet
        self.kill_seen: dict[int, int] = {}
        self.stopping: asyncio.Event | None = None  # created on the loop
        self.stop_requested = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.executors: Executors | None = None
        self.last_heartbeat = 0.0
        self.last_prune: float | None = None  # retention runs on the first tick, then daily
        self.live_nodes = 1
        self.alive_at = 0.0    # monotonic time of the last heartbeat that found this node alive
        self.reconcile = False  # set after a database error: adopt running records of ours nobody runs
        self.paused = False     # maintenance mode (scheduler_state), as last read by _peek
        self.shell = ShellSettings()
        # SHELL per-department users: department id -> parent id, re-read every DEPARTMENTS_REFRESH seconds
        self.department_parents: dict[int, int | None] = {}
        self.departments_read_at: float | None = None
        self.stats = defaultdict(int)

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self) -> None:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(self.main())

    def stop(self) -> None:
        """Ask the node to drain and exit (thread-safe, idempotent; also before its loop has started)."""
        self.stop_requested = True
        if self.loop and self.stopping is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self.stopping.set)
            except RuntimeError:  # the loop closed in between: already stopped
                pass

    async def main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        if self.stop_requested:  # stop() came before the loop existed
            self.stopping.set()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self.stopping.set)
            except (ValueError, RuntimeError):  # not the main thread (tests run nodes in threads)
                pass
        self.shell = ShellSettings.from_settings()
        if self.shell.enabled:  # refuses to start (ShellIdentityError) unless commands can run as another user
            for warning in prepare_node(self.shell.identities, debug=settings.DEBUG, redis_url=settings.REDIS_URL):
                log.warning("%s", warning)
        self.executors = Executors(http_workers=self.config.http_workers, grpc_workers=self.config.grpc_workers,
                                   egress=EgressPolicy.from_config(settings.EGRESS), shell=self.shell)
        await self.executors.start()
        await self.control.run(self._register)
        await self.alerts.start()
        log.info("scheduler node %s started (id %s)", self.name, self.node_id)
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    if self.reconcile:
                        self._launch(await self.control.run(self._adopt_orphans))
                        self.reconcile = False
                    await self._tick()
                except Exception:  # noqa: BLE001 - a database hiccup must not kill the node
                    log.exception("scheduler tick failed; retrying")
                    # A claim whose COMMIT was cut off may have committed: look for records of ours that no
                    # coroutine owns once the database answers again.
                    self.reconcile = True
                    await asyncio.sleep(1.0)
                delay = max(0.0, self._poll_interval() - (time.monotonic() - started))
                try:
                    await asyncio.wait_for(self.stopping.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
            await self._drain()
        finally:
            flusher.cancel()
            await self._flush_records()
            await self.control.run(self._deregister)
            await self.alerts.close()
            await self.executors.close()
            self.control.shutdown()
            self.records.shutdown()
            log.info("scheduler node %s stopped", self.name)

    def _poll_interval(self) -> float:
        """The pause between ticks. Alone, a node polls at ``job.pollInterval``. With other live nodes the pause
        is drawn from 0.5-1.5x that (same mean): nodes polling in fixed phase would let the one whose phase
        comes first after each instant enters the lookahead claim every fire forever, leaving the others
        idle; jitter spreads the claims across the live nodes."""
        if self.live_nodes > 1:
            return self.config.poll_interval * random.uniform(0.5, 1.5)
        return self.config.poll_interval

    async def _drain(self) -> None:
        """SIGTERM: no new claims; claimed fires still start at their instant; wait for in-flight work."""
        deadline = time.monotonic() + self.config.shutdown_grace
        if self.paused:
            # Paused: claimed on-time fires go back to their tasks instead of waiting here; whatever could not
            # be given back (database error) starts at its instant rather than being orphaned.
            try:
                await self._release_waiting()
            except Exception:  # noqa: BLE001
                log.exception("could not give back claimed fires while paused")
            self.paused = False
        log.info("draining %d execution(s), grace %.0fs", len(self.running), self.config.shutdown_grace)
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if time.monotonic() - self.last_heartbeat > self.config.heartbeat_interval:
                await self.control.run(self._heartbeat, "stopping")
        for fire in list(self.running.values()):
            # Not fire.killed: the record says the node's shutdown cancelled it, not a user's kill.
            if fire.handle:
                fire.handle.cancel()
        while self.running:
            await asyncio.sleep(0.05)

    # --- the tick --------------------------------------------------------------------------------

    async def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last_heartbeat >= self.config.heartbeat_interval:
            alive = await self.control.run(self._heartbeat, "up")
            if not alive:
                await self._presumed_dead()
            if not self.paused:  # maintenance: re-running a dead node's work is a new execution; it waits too
                recovered = await self.control.run(self._recover_dead_nodes)
                self._launch(recovered)
            if self.shell.identities.by_department and (
                    self.departments_read_at is None or now - self.departments_read_at > DEPARTMENTS_REFRESH):
                self.departments_read_at = now
                self.department_parents = await self.control.run(department_parents)
            if (self.config.keep_months or self.config.rollup_keep_months) and \
                    (self.last_prune is None or now - self.last_prune > 86400):
                self.last_prune = now
                await self.control.run(self._prune)
        # Claim batches while they come back full (there may be more due), up to CLAIM_ROUNDS per tick.
        # With other live nodes, work is shared: after the first batch a node only goes on for tasks due
        # within half the lookahead (the others poll in between and take the rest), and it stops claiming
        # while its backlog exceeds job.queueSize. Alone, it claims whatever is due.
        # One cheap statement tells whether anything is due or triggered (an idle node costs ~3 queries/s),
        # and whether scheduling is paused (maintenance mode): then nothing is claimed, triggers wait.
        next_due, triggered, paused = await self.control.run(self._peek)
        if paused != self.paused:
            log.warning("scheduling %s platform-wide (maintenance mode)", "paused" if paused else "resumed")
            self.paused = paused
        if paused:
            await self._release_waiting()
            next_due, triggered = None, False
        shared = self.live_nodes > 1
        horizon = utcnow() + timedelta(seconds=self.config.lookahead)
        for _ in range(CLAIM_ROUNDS if next_due is not None and next_due <= horizon else 0):
            if shared and self._backlog() >= self.config.queue_size:
                break
            fires, full, last_due = await self.control.run(self._claim_due, next_due)
            self._launch(fires)
            if not full or (shared and last_due is not None and
                            (last_due - utcnow()).total_seconds() > self.config.lookahead / 2):
                break
        if triggered:
            self._launch(await self.control.run(self._claim_triggers))
        if self.running:
            await self._poll_kills()
        self.alerts.tick()

    def _backlog(self) -> int:
        """Executions this node is behind on: overdue fires not started yet, and calls queued for a worker
        slot (job.httpWorkers / grpcWorkers all busy)."""
        assert self.executors is not None
        now = utcnow()
        overdue = sum(1 for f in self.running.values() if f.handle is None and f.scheduled <= now)
        return overdue + self.executors.queued

    async def _release_waiting(self) -> None:
        """Paused: give back the on-time fires this node claimed but has not started (up to the lookahead
        ahead), so none starts during the pause and after resume each task's misfire policy decides."""
        waiting = [f for f in self.running.values() if releasable(f)]
        if not waiting:
            return
        await self.control.run(self._release, waiting)
        for fire in waiting:
            self._forget(fire)
        self.stats["released"] += len(waiting)
        log.info("paused: gave back %d claimed fire(s) of %d task(s)", len(waiting),
                 len({f.task["id"] for f in waiting}))

    def _launch(self, fires: list[Fire]) -> None:
        assert self.loop is not None
        for fire in fires:
            self.running[fire.key] = fire
            self.by_task[fire.task["id"]].add(fire.key)
            delay = 0.0 if fire.start_now else (fire.scheduled - utcnow()).total_seconds()
            if delay <= 0:
                self._start(fire)
            else:
                self.loop.call_later(delay, self._start, fire)

    def _start(self, fire: Fire) -> None:
        if fire.key in self.running and fire.handle is None:
            assert self.loop is not None
            if not fire.start_now:
                # call_later runs on the loop's monotonic clock and may call back up to its resolution
                # early; the scheduled time is wall-clock: never fire before it.
                early = (fire.scheduled - utcnow()).total_seconds()
                if early > 0:
                    self.loop.call_later(early + 0.0005, self._start, fire)
                    return
            if self.paused and releasable(fire):
                # Maintenance pause: an on-time fire claimed before this node saw the pause does not start; the
                # tick gives it back (_release_waiting) and after resume the task's misfire policy decides.
                self.loop.call_later(0.2, self._start, fire)
                return
            if time.monotonic() - self.alive_at > self._alive_window:
                # Liveness unconfirmed for most of the node timeout (the process was frozen, e.g. SIGSTOP, or
                # the database is unreachable): survivors may be recovering this work right now. Start it
                # only after the next heartbeat confirms this node alive; a node found dead drops it.
                self.loop.call_later(0.2, self._start, fire)
                return
            # A kill requested before this fire started does not apply to it.
            fire.kill_seq = max(fire.kill_seq, self.kill_seen.get(fire.task["id"], 0))
            fire.handle = self.loop.create_task(self._execute(fire))

    # --- database work (control thread) ----------------------------------------------------------

    @property
    def _alive_window(self) -> float:
        """How long after a heartbeat that found it alive a node still starts claimed fires: two heartbeat
        intervals, at least 60 % of the node timeout, always below the timeout itself."""
        conf = self.config
        return min(max(2 * conf.heartbeat_interval, 0.6 * conf.node_timeout), conf.node_timeout - 0.5)

    def _register(self) -> None:
        now = utcnow()
        node = SchedulerNode.objects.create(name=self.name, host=socket.gethostname(), pid=os.getpid(),
                                            started_at=now, heartbeat_at=now, status="up", version=VERSION)
        # Known before the first tick (which would otherwise recover dead nodes' work while paused).
        self.paused = bool(SchedulerState.objects.filter(pk=SCHEDULER_STATE_ID).values_list("paused", flat=True)
                           .first())
        self.node_id = node.pk
        self.last_heartbeat = self.alive_at = time.monotonic()

    def _deregister(self) -> None:
        SchedulerNode.objects.filter(pk=self.node_id).update(status="down", heartbeat_at=utcnow(), running=0)

    def _heartbeat(self, status: str) -> bool:
        """False when survivors already declared this node dead (e.g. after a long SIGSTOP)."""
        self.last_heartbeat = time.monotonic()
        now = utcnow()
        alive = bool(SchedulerNode.objects.filter(pk=self.node_id, status__in=["up", "stopping"]).update(
            heartbeat_at=now, status=status, running=len(self.running)))
        if alive:
            self.alive_at = time.monotonic()
        self.live_nodes = SchedulerNode.objects.filter(
            status="up", heartbeat_at__gte=now - timedelta(seconds=self.config.node_timeout)).count()
        metrics.live_nodes.set(self.live_nodes)
        metrics.claimed_waiting.set(sum(1 for f in self.running.values() if f.handle is None))
        return alive

    async def _presumed_dead(self) -> None:
        """Our work was declared lost and recovered elsewhere: drop it without writing, re-register."""
        log.error("node %s was declared dead by a survivor; abandoning %d execution(s) and re-registering",
                  self.name, len(self.running))
        for fire in list(self.running.values()):
            fire.killed = True
            if fire.handle:
                fire.handle.cancel()
            self._forget(fire)
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        await self.control.run(self._register)

    def _schedule(self, cron: str, tz: str) -> Schedule:
        key = (cron, tz)
        schedule = self.schedules.get(key)
        if schedule is None:
            schedule = self.schedules[key] = parse_schedule(cron, tz)
        return schedule

    def _ensure_tables(self, instants: list[datetime] | list[tuple[int, int]]) -> None:
        for ym in {i if isinstance(i, tuple) else month_of(i) for i in instants}:
            ensure_record_table(*ym)

    def _peek(self) -> tuple[datetime | None, bool, bool]:
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
        field = Task._meta.get_field("next_execute_time")
        times = [field.to_python(connection.ops.convert_datetimefield_value(v, None, connection) if v else None)
                 for v in (enabled, one_shot)]
        times = [t for t in times if t is not None]
        return (min(times) if times else None), trigger is not None, bool(paused)

    def _claim_due(self, earliest: datetime) -> tuple[list[Fire], bool, datetime | None]:
        """Claim a batch of due tasks: (fires, whether the batch was full, due time of its last task).
        ``earliest`` is the earliest due time seen by :meth:`_peek`."""
        now = utcnow()
        horizon = now + timedelta(seconds=self.config.lookahead)
        due = (Task.objects.filter(status__in=[TaskStatus.ENABLED, TaskStatus.ONE_SHOT], next_execute_time__lte=horizon)
               .order_by("next_execute_time", "id"))
        if disabled := disabled_department_ids():
            # A disabled department stops its subtree's tasks; when it is enabled again, each task's misfire
            # policy decides about the instants it missed (as after a maintenance pause).
            due = due.exclude(department_id__in=disabled)
        # Month tables must exist before the claim transaction (MySQL DDL commits implicitly): on-time
        # fires lie between now - misfireThreshold and the horizon (catch-up runs of older instants create
        # their month below, a rare path).
        self._ensure_tables(months_between(max(earliest, now - timedelta(seconds=self.config.misfire_threshold)),
                                           horizon))
        claimed: list[Fire] = []
        with transaction.atomic():
            # SKIP LOCKED (MariaDB/MySQL/PostgreSQL; ignored by SQLite, which has one writer anyway): nodes
            # polling at the same moment take disjoint batches instead of racing for the same rows.
            rows = list(due.select_for_update(skip_locked=True)
                        .values(*TASK_FIELDS)[: self.config.claim_batch])
            groups: dict[tuple, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
            for row in rows:
                try:
                    schedule = self._schedule(row["cron_expression"], row["timezone"])
                except ScheduleError as exc:
                    log.error("task %s has an invalid schedule (%s); disabling it", row["id"], exc)
                    Task.objects.filter(pk=row["id"], version=row["version"]).update(
                        status=TaskStatus.DISABLED, next_execute_time=None, version=F("version") + 1)
                    continue
                plan = plan_claim(schedule=schedule, due=row["next_execute_time"], now=now, horizon=horizon,
                                  status=row["status"], misfire_policy=row["misfire_policy"],
                                  misfire_threshold=self.config.misfire_threshold)
                groups[(plan.next_execute_time, plan.last_execute_time, plan.status)].append((row, plan))
            for members in groups.values():
                for row, plan in self._claim_group(members):
                    if plan.catch_up:
                        metrics.misfires.labels(row["misfire_policy"]).inc(plan.missed + len(plan.fires))
                    if plan.catch_up and plan.fires:
                        self._ensure_tables(plan.fires)  # old months (outside this txn's DDL guarantee)
                    for instant in plan.fires:
                        claimed.append(Fire(task=row, scheduled=instant, trigger=TriggerType.SCHEDULE,
                                            start_now=plan.catch_up, kill_seq=row["kill_seq"]))
            self._insert_records(claimed)
        last_due = rows[-1]["next_execute_time"] if rows else None
        return [f for f in claimed if f.record_id], len(rows) >= self.config.claim_batch, last_due

    def _claim_group(self, members: list[tuple[dict[str, Any], Any]]) -> list[tuple[dict[str, Any], Any]]:
        """Claim tasks whose claims write the same new state with ONE compare-and-set UPDATE.

        Every task of the group moves to the same (next, last, status), conditional on each task's own
        version. When fewer rows change than asked (another node or an edit got in between), the
        statement is rolled back and the group is claimed row by row, so exactly the tasks whose own
        version still matched are fired.
        """
        _, plan = members[0]
        if len(members) > 1:
            try:
                with transaction.atomic():
                    if _claim_rows(plan, [(row["id"], row["version"]) for row, _ in members]) != len(members):
                        raise _PartialClaim
                return members
            except _PartialClaim:
                pass
        won = []
        for row, plan in members:
            if _claim_rows(plan, [(row["id"], row["version"])]):
                won.append((row, plan))
            else:
                self.stats["claim_conflicts"] += 1
                metrics.claim_conflicts.inc()
        return won

    def _insert_records(self, fires: list[Fire]) -> None:
        """INSERT the fires' records (running, not started). Duplicates are dropped, never fired twice."""
        by_month: dict[tuple[int, int], list[Fire]] = defaultdict(list)
        for fire in fires:
            by_month[fire.table].append(fire)
        now = utcnow()
        for (year, month), group in by_month.items():
            model = record_model(year, month)
            try:
                with transaction.atomic():
                    ids = insert_records_sql(model._meta.db_table, group, now, self.name)
                for fire, record_id in zip(group, ids, strict=True):
                    fire.record_id = record_id
            except IntegrityError:
                # Someone recorded one of these already (the unique key did its job): go one by one.
                for fire in group:
                    obj = model(task_id=fire.task["id"], task_name=fire.task["name"],
                                department_id=fire.task["department_id"], task_type=fire.task["task_type"],
                                trigger_type=fire.trigger, scheduled_time=fire.scheduled,
                                status=RecordStatus.RUNNING, executor=self.name, retry_times=fire.retry_times,
                                parent_record_id=fire.parent_record_id, parent_month=fire.parent_month,
                                create_time=now, update_time=now)
                    try:
                        with transaction.atomic():
                            obj.save(force_insert=True)
                        fire.record_id = obj.pk
                    except IntegrityError:
                        self.stats["duplicates_prevented"] += 1
                        log.warning("task %s at %s already recorded; not firing again", fire.task["id"],
                                    fire.scheduled.isoformat())

    def _claim_triggers(self) -> list[Fire]:
        pending = list(TriggerRequest.objects.filter(claimed_by__isnull=True).order_by("id")[:100])
        if not pending:
            return []
        fires: list[Fire] = []
        links: list[tuple[int, Fire]] = []  # (request id, its fire): GET /v1/triggers/{id} names the record
        now = utcnow()
        self._ensure_tables([r.requested_at for r in pending] + [now])
        with transaction.atomic():
            for request in pending:
                if not TriggerRequest.objects.filter(pk=request.pk, claimed_by__isnull=True).update(
                        claimed_by=self.name, claimed_at=now):
                    continue
                row = Task.objects.filter(pk=request.task_id).values(*TASK_FIELDS).first()
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
            self._insert_records(fires)
            TriggerRequest.link_records([(pk, f.record_id, *f.table) for pk, f in links if f.record_id])
        return [f for f in fires if f.record_id]

    def _release(self, fires: list[Fire]) -> None:
        """Undo the claim of fires that never started (maintenance pause), in one transaction.

        Their records (running, not started, ours) are deleted, and each task's ``next_execute_time`` goes back
        to its earliest given-back instant, with ``last_execute_time`` back to the last fire time still claimed
        and a new version (a claim still in flight elsewhere then fails). A task that changed since is left as
        it is: disabled or edited into another status, or already moved back to an earlier instant by another
        node giving back its own claims; a one-shot task only while it is as its claim left it (disabled, no
        next time, the claim's version).
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
                        pk__in=ids[i:i + WRITE_CHUNK], status=RecordStatus.RUNNING, executor=self.name,
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
                task.update(next_execute_time=first, last_execute_time=self._last_fire_before(task_id, first),
                            status=row["status"], version=F("version") + 1)

    def _last_fire_before(self, task_id: int, instant: datetime) -> datetime | None:
        """The latest scheduled fire time of the task before ``instant`` (its month or the one before)."""
        year, month = month_of(instant)
        tables = existing_record_tables()
        for ym in ((year, month), (year - 1, 12) if month == 1 else (year, month - 1)):
            if f"record_{ym[0]:04d}{ym[1]:02d}" not in tables:
                continue
            latest = (record_model(*ym).objects.filter(task_id=task_id, trigger_type=TriggerType.SCHEDULE,
                                                       scheduled_time__lt=instant)
                      .aggregate(m=Max("scheduled_time"))["m"])
            if latest is not None:
                return latest
        return None

    def _recover_dead_nodes(self) -> list[Fire]:
        """Mark running records of silent nodes ``lost``; re-run each once (RECOVERY) if retries remain."""
        cutoff = utcnow() - timedelta(seconds=self.config.node_timeout)
        dead = list(SchedulerNode.objects.filter(status__in=["up", "stopping"], heartbeat_at__lt=cutoff)
                    .exclude(pk=self.node_id).values("id", "name", "heartbeat_at"))
        fires: list[Fire] = []
        for node in dead:
            # Only one survivor wins the node (compare-and-set on its last heartbeat).
            if not SchedulerNode.objects.filter(pk=node["id"], heartbeat_at=node["heartbeat_at"],
                                                status__in=["up", "stopping"]).update(status="dead"):
                continue
            log.warning("node %s is dead (silent since %s); recovering its work", node["name"], node["heartbeat_at"])
            fires.extend(self._recover_records_of(node["name"]))
        return fires

    def _recent_months(self) -> list[tuple[int, int]]:
        """Existing month tables of the previous, current and (near midnight) next month."""
        now = utcnow()
        year, month = month_of(now)
        # The calendar's previous month: ``now - 31 days`` skips it on the 1st after a 30-day month
        # (and on March 1st-3rd), when last night's running records are the ones most likely lost.
        previous = (year - 1, 12) if month == 1 else (year, month - 1)
        months = {previous, (year, month), month_of(now + timedelta(days=1))}
        tables = existing_record_tables(refresh=True)
        return [ym for ym in sorted(months) if f"record_{ym[0]:04d}{ym[1]:02d}" in tables]

    def _recover_records_of(self, node_name: str) -> list[Fire]:
        recovered: list[Fire] = []
        now = utcnow()
        for year, month in self._recent_months():
            model = record_model(year, month)
            fires: list[Fire] = []
            with transaction.atomic():
                rollups.lock_months_shared([(year, month)])
                lost = list(model.objects.select_for_update().filter(executor=node_name,
                                                                      status=RecordStatus.RUNNING))
                if not lost:
                    continue
                model.objects.filter(pk__in=[r.pk for r in lost], status=RecordStatus.RUNNING).update(
                    status=RecordStatus.LOST, success=False, end_time=now, update_time=now,
                    error=f"scheduler node {node_name} stopped heartbeating while this ran")
                # Locked above, so the UPDATE changed exactly these rows: they enter the rollups as lost.
                rollups.add(rollups.Finished(r.department_id, r.task_id, r.task_name, r.scheduled_time,
                                             RecordStatus.LOST, r.trigger_type, None, r.task_type) for r in lost)
                tasks = {t["id"]: t for t in Task.objects.filter(pk__in={r.task_id for r in lost})
                         .values(*TASK_FIELDS)}
                for record in lost:
                    task = tasks.get(record.task_id)
                    if task is None or record.trigger_type == TriggerType.RECOVERY:
                        continue
                    if record.retry_times >= task["max_retry"]:
                        continue  # no retries left: lost stays lost
                    fires.append(Fire(task=task, scheduled=record.scheduled_time, trigger=TriggerType.RECOVERY,
                                      start_now=True, kill_seq=task["kill_seq"],
                                      retry_times=record.retry_times + 1, parent_record_id=record.parent_record_id,
                                      parent_month=record.parent_month))
                self._insert_records(fires)
            recovered += [f for f in fires if f.record_id]
        self.stats["recovered"] += len(recovered)
        metrics.recovered.inc(len(recovered))
        return recovered

    def _adopt_orphans(self) -> list[Fire]:
        """Running records of this node that no coroutine owns: the claim committed but the node saw an
        error (the connection died during COMMIT). Nobody else touches them while this node heartbeats,
        so running them now keeps exactly-once; overdue ones start at once."""
        fires: list[Fire] = []
        for year, month in self._recent_months():
            owned = [rid for y, m, rid in (*self.running, *self.unflushed) if (y, m) == (year, month)]
            rows = list(record_model(year, month).objects.filter(executor=self.name, status=RecordStatus.RUNNING)
                        .exclude(pk__in=owned)
                        .values("id", "task_id", "scheduled_time", "trigger_type", "retry_times"))
            if not rows:
                continue
            tasks = {t["id"]: t for t in Task.objects.filter(pk__in={r["task_id"] for r in rows}).values(*TASK_FIELDS)}
            now = utcnow()
            for row in rows:
                task = tasks.get(row["task_id"])
                if task is None:
                    continue
                log.warning("adopting record %s of task %s (claimed, then a database error hid it)", row["id"],
                            row["task_id"])
                fires.append(Fire(task=task, scheduled=row["scheduled_time"], trigger=row["trigger_type"],
                                  record_id=row["id"], start_now=row["scheduled_time"] <= now,
                                  kill_seq=task["kill_seq"], retry_times=row["retry_times"]))
        self.stats["adopted"] += len(fires)
        metrics.adopted.inc(len(fires))
        return fires

    def _running_elsewhere(self, task_id: int, before: datetime) -> list[int]:
        ids: list[int] = []
        for year, month in self._recent_months():
            # Earlier fires still "running": started, or claimed and overdue (a claimed fire whose instant
            # passed has started on its node).
            ids += list(record_model(year, month).objects.filter(
                task_id=task_id, status=RecordStatus.RUNNING, scheduled_time__lt=before).values_list("id", flat=True))
        return ids

    def _bump_kill(self, task_id: int) -> int:
        Task.objects.filter(pk=task_id).update(kill_seq=F("kill_seq") + 1)
        return Task.objects.filter(pk=task_id).values_list("kill_seq", flat=True).first() or 0

    def _kill_state(self, task_ids: list[int]) -> dict[int, int]:
        return dict(Task.objects.filter(pk__in=task_ids).values_list("id", "kill_seq"))

    def _prune(self) -> None:
        from apps.records.services import records_prune, rollups_prune

        if self.config.keep_months:
            records_prune(keep_months=self.config.keep_months)
        if self.config.rollup_keep_months:
            rollups_prune(keep_months=self.config.rollup_keep_months)

    # --- executing -------------------------------------------------------------------------------

    async def _poll_kills(self) -> None:
        state = await self.control.run(self._kill_state, list(self.by_task))
        self.kill_seen.update(state)
        for task_id, keys in list(self.by_task.items()):
            current = state.get(task_id)
            for key in list(keys):
                fire = self.running.get(key)
                if fire is None or fire.handle is None:
                    continue
                if current is None or current > fire.kill_seq:
                    fire.killed = True
                    fire.handle.cancel()

    async def _execute(self, fire: Fire) -> None:
        # A trace per fire: root span "djs.fire", a "djs.attempt" child per call (executors.execute).
        with tracing.fire_span(task_id=fire.task["id"], task_type=fire.task["task_type"], trigger=fire.trigger,
                               scheduled=fire.scheduled, record_id=fire.record_id, node=self.name):
            await self._run_fire(fire)

    async def _run_fire(self, fire: Fire) -> None:
        task = fire.task
        started = utcnow()
        result: dict[str, Any]
        metrics.fires.labels(fire.trigger).inc()
        metrics.schedule_lag.labels(fire.trigger).observe(max(0.0, (started - fire.scheduled).total_seconds()))
        self.alerts.started(fire, started)
        gauge = metrics.in_flight.labels(task["task_type"])
        gauge.inc()
        try:
            policy = task["concurrency_policy"]
            if policy != "allow" and fire.trigger == TriggerType.SCHEDULE:
                busy = self._running_here(fire) or await self.control.run(
                    self._running_elsewhere, task["id"], fire.scheduled)
                if busy and policy == "forbid":
                    self._finish(fire, {"status": RecordStatus.SKIPPED, "success": False, "start_time": started,
                                        "error": "skipped: the previous run is still running (concurrency: forbid)"})
                    return
                if busy and policy == "replace":
                    fire.kill_seq = await self.control.run(self._bump_kill, task["id"])
                    await asyncio.sleep(self.config.poll_interval * 2)  # let the owners cancel theirs
            spec = self._spec(fire)
            outcome = await execute(spec, self.executors)
            result = {"status": RecordStatus.SUCCESS if outcome.success else RecordStatus.FAILED,
                      "success": outcome.success, "status_code": outcome.status_code,
                      "response": _bound(outcome.response, RESPONSE_LIMIT), "error": _bound(outcome.error, ERROR_LIMIT),
                      "cost_time": outcome.cost_ms, "retry_times": fire.retry_times + outcome.retry_times,
                      "used_fallback": outcome.used_fallback, "start_time": started}
        except asyncio.CancelledError:
            result = {"status": RecordStatus.KILLED, "success": False, "start_time": started,
                      "error": "killed" if fire.killed else "cancelled: scheduler node shutting down",
                      "cost_time": int((utcnow() - started).total_seconds() * 1000)}
        except Exception as exc:  # noqa: BLE001 - a bug in one execution must not take the node down
            log.exception("execution of task %s failed unexpectedly", task["id"])
            result = {"status": RecordStatus.FAILED, "success": False, "start_time": started,
                      "error": _bound(f"internal error: {exc}", ERROR_LIMIT)}
        finally:
            gauge.dec()
        self._finish(fire, result)

    def _running_here(self, fire: Fire) -> bool:
        return any(other.handle is not None and other.scheduled < fire.scheduled
                   for key in self.by_task.get(fire.task["id"], ()) if (other := self.running.get(key)))

    def _spec(self, fire: Fire) -> ExecutionSpec:
        task = fire.task
        overrides = fire.overrides or {}
        headers = overrides.get("headers", task["headers"]) or {}
        params = overrides.get("grpcParams")
        return ExecutionSpec(
            task_id=task["id"], task_type=task["task_type"], url=task["url"], http_method=task["http_method"],
            headers=dict(headers), body=overrides.get("body", task["body"]), fallback_url=task["fallback_url"],
            grpc_service=task["grpc_service"], grpc_method=task["grpc_method"],
            grpc_params=json.dumps(params) if params is not None else task["grpc_params"],
            fallback_grpc_service=task["fallback_grpc_service"], fallback_grpc_method=task["fallback_grpc_method"],
            timeout=float(task["timeout"]), max_retry=max(0, task["max_retry"] - fire.retry_times),
            retry_interval=float(task["retry_interval"]),
            idempotency_key=idempotency_key(task["id"], fire.scheduled),
            record_id=fire.record_id, shell_command=task["shell_command"],
            shell_args=tuple(task["shell_args"] or ()), shell_workdir=task["shell_workdir"],
            shell_env=dict(task["shell_env"]) if task["shell_env"] else None,
            department_path=(ancestry(task["department_id"], self.department_parents)
                             if task["task_type"] == "SHELL" else ()),
        )

    def _finish(self, fire: Fire, result: dict[str, Any]) -> None:
        now = utcnow()
        result.setdefault("end_time", now)
        if result.get("cost_time") is None and result.get("start_time"):
            result["cost_time"] = int((now - result["start_time"]).total_seconds() * 1000)
        kind = fire.task["task_type"]
        metrics.executions.labels(kind, RecordStatus(result["status"]).name.lower()).inc()
        tracing.fire_finished(RecordStatus(result["status"]).name.lower(), result)
        if result.get("cost_time") is not None:
            metrics.execution_duration.labels(kind).observe(result["cost_time"] / 1000)
        if result.get("retry_times"):
            metrics.retries.labels(kind).inc(result["retry_times"] - fire.retry_times)
        if result.get("used_fallback"):
            metrics.fallbacks.labels(kind).inc()
        self.unflushed.add(fire.key)
        self.finished.append((fire, result))
        self._forget(fire)

    def _forget(self, fire: Fire) -> None:
        self.running.pop(fire.key, None)
        ids = self.by_task.get(fire.task["id"])
        if ids is not None:
            ids.discard(fire.key)
            if not ids:
                self.by_task.pop(fire.task["id"], None)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            try:
                await self._flush_records()
            except Exception:  # noqa: BLE001
                log.exception("record flush failed; will retry")
                await asyncio.sleep(1.0)

    async def _flush_records(self) -> None:
        if not self.finished:
            return
        batch, self.finished = self.finished, []
        try:
            await self.records.run(self._write_results, batch)
        except Exception:
            self.finished = batch + self.finished
            raise
        self.unflushed.difference_update(fire.key for fire, _ in batch)
        self.alerts.flushed(batch)

    def _write_results(self, batch: list[tuple[Fire, dict[str, Any]]]) -> None:
        """Store finished fires: one UPDATE statement per month table and :data:`WRITE_CHUNK` records."""
        now = utcnow()
        by_table: dict[tuple[int, int], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for fire, result in batch:
            by_table[fire.table].append((fire.record_id, result))
        results = {fire.key: (fire, result) for fire, result in batch}
        finished: list[rollups.Finished] = []
        with transaction.atomic():
            rollups.lock_months_shared(by_table)
            for (year, month), rows in by_table.items():
                table = record_model(year, month)._meta.db_table
                for i in range(0, len(rows), WRITE_CHUNK):
                    chunk = rows[i:i + WRITE_CHUNK]
                    sql, params = batch_update_sql(table, chunk, now, self.name)
                    with connection.cursor() as cursor:
                        cursor.execute(sql, params)
                        changed = [rid for rid, _ in chunk] if cursor.rowcount == len(chunk) else \
                            self._changed_by_flush(table, [rid for rid, _ in chunk], now)
                    if len(changed) < len(chunk):
                        log.warning("%d of %d result(s) not stored in %s: those records were already final "
                                    "(declared lost by a survivor, or stored by an earlier attempt of this flush)",
                                    len(chunk) - len(changed), len(chunk), table)
                    finished += [_finished(*results[(year, month, rid)]) for rid in changed]
            # The rollups count exactly the rows this statement finished (a record a survivor already declared
            # lost, or one a retried flush finished before, is not counted again).
            rollups.add(finished)
            self._trigger_children(batch)

    def _changed_by_flush(self, table: str, ids: list[int], now: datetime) -> list[int]:
        """Which of ``ids`` the flush UPDATE just finished (only asked when it changed fewer rows than sent):
        they carry this node as executor and this flush's ``update_time``."""
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {qn('id')} FROM {qn(table)} WHERE {qn('id')} IN ({', '.join(['%s'] * len(ids))}) "
                           f"AND {qn('executor')} = %s AND {qn('update_time')} = %s AND {qn('status')} <> %s",
                           [*ids, self.name, connection.ops.adapt_datetimefield_value(now),
                            int(RecordStatus.RUNNING)])
            return [row[0] for row in cursor.fetchall()]

    def _trigger_children(self, batch: list[tuple[Fire, dict[str, Any]]]) -> None:
        """Queue a CHILD trigger for each enabled child of every task that succeeded in ``batch``, in the
        transaction of the results UPDATE (so a trigger exists exactly when the success is committed).

        Only records the UPDATE really finished count (it is conditional: a record a survivor marked lost
        stays lost). A flush retried after a commit whose acknowledgement was lost queues the triggers again;
        each is keyed by (child, parent's end time, CHILD), so the month table's unique key runs the child
        once. Children below ``job.childDepth`` levels are not run (the API refuses such chains; this guards
        a lowered setting)."""
        succeeded = [(fire, result) for fire, result in batch if result.get("status") == RecordStatus.SUCCESS]
        if not succeeded:
            return
        links: dict[int, list[int]] = defaultdict(list)
        for parent_id, child_id in (TaskChild.objects
                                    .filter(parent_id__in={fire.task["id"] for fire, _ in succeeded},
                                            child__status__in=[TaskStatus.ENABLED, TaskStatus.ONE_SHOT])
                                    .order_by("parent_id", "position", "id").values_list("parent_id", "child_id")):
            links[parent_id].append(child_id)
        if not links:
            return
        by_table: dict[tuple[int, int], list[Fire]] = defaultdict(list)
        for fire, _ in succeeded:
            if fire.task["id"] in links:
                by_table[fire.table].append(fire)
        limit = int(settings.SCHEDULER["child_depth"])
        requests: list[TriggerRequest] = []
        for (year, month), fires in by_table.items():
            model, ids, done = record_model(year, month), [f.record_id for f in fires], {}
            for i in range(0, len(ids), WRITE_CHUNK):
                done.update(model.objects.filter(pk__in=ids[i:i + WRITE_CHUNK], status=RecordStatus.SUCCESS,
                                                 executor=self.name).values_list("id", "end_time"))
            for fire in fires:
                if fire.record_id not in done:
                    continue
                if fire.depth + 1 > limit:
                    log.warning("task %s succeeded (record %s) at child level %s: its children are not run "
                                "(job.childDepth %s)", fire.task["id"], fire.record_id, fire.depth, limit)
                    continue
                for child_id in links[fire.task["id"]]:
                    requests.append(TriggerRequest(
                        task_id=child_id, requested_at=done[fire.record_id], trigger_type=TriggerType.CHILD,
                        parent_record_id=fire.record_id, parent_month=year * 100 + month, depth=fire.depth + 1))
        if requests:
            TriggerRequest.objects.bulk_create(requests)
            self.stats["child_triggers"] += len(requests)


def _finished(fire: Fire, result: dict[str, Any]) -> rollups.Finished:
    """What the rollups count of a record the result writer finished (its columns as inserted at claim)."""
    return rollups.Finished(fire.task["department_id"], fire.task["id"], fire.task["name"], fire.scheduled,
                            int(result["status"]), fire.trigger, result.get("cost_time"), fire.task["task_type"])


def releasable(fire: Fire) -> bool:
    """An on-time scheduled fire not started yet: the kind a maintenance pause gives back to its task
    (manual, recovery and misfire catch-up runs start at once when claimed)."""
    return fire.handle is None and fire.trigger == TriggerType.SCHEDULE and not fire.start_now


def months_between(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """Every (year, month) from the month of ``start`` to the month of ``end``, both included."""
    year, month = month_of(start)
    last = month_of(end)
    months = [(year, month)]
    while (year, month) < last and len(months) < 1200:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        months.append((year, month))
    return months


class _PartialClaim(Exception):
    """A grouped claim changed fewer rows than it asked for (rolled back, retried row by row)."""


def _claim_rows(plan: Any, ids_versions: list[tuple[int, int]]) -> int:
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


WRITE_CHUNK = 200
INSERT_COLUMNS = ("task_id", "task_name", "department_id", "task_type", "trigger_type", "scheduled_time", "status",
                  "executor", "retry_times", "used_fallback", "parent_record_id", "parent_month", "create_time",
                  "update_time")


def insert_records_sql(table: str, fires: list["Fire"], now: datetime, executor: str) -> list[int]:
    """Multi-row ``INSERT ... RETURNING id`` of claimed fires' records (chunks of :data:`WRITE_CHUNK`).

    Raises ``IntegrityError`` when one of them exists already (the caller then goes one by one).
    """
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    created = adapt(now)
    row_sql = "(" + ", ".join("%s" for _ in INSERT_COLUMNS) + ")"
    ids: list[int] = []
    for i in range(0, len(fires), WRITE_CHUNK):
        chunk = fires[i:i + WRITE_CHUNK]
        params: list[Any] = []
        for f in chunk:
            params += [f.task["id"], f.task["name"], f.task["department_id"], f.task["task_type"], str(f.trigger),
                       adapt(f.scheduled), int(RecordStatus.RUNNING), executor, f.retry_times, False,
                       f.parent_record_id, f.parent_month, created, created]
        sql = (f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in INSERT_COLUMNS)}) VALUES "
               + ", ".join(row_sql for _ in chunk) + f" RETURNING {qn('id')}")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids += [row[0] for row in cursor.fetchall()]
    return ids

RESULT_COLUMNS = ("status", "success", "status_code", "response", "error", "cost_time", "retry_times",
                  "used_fallback", "start_time", "end_time")


def batch_update_sql(table: str, rows: list[tuple[int, dict[str, Any]]], now: datetime,
                     executor: str) -> tuple[str, list[Any]]:
    """One ``UPDATE`` storing many records' results (portable SQL: CASE per varying column).

    Conditional on ``status = running AND executor = this node``: a record a survivor already marked
    lost is not overwritten. A column with one value across the chunk is a plain assignment; a column
    only some results carry keeps its value (``ELSE column``) for the others.
    """
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    sets: list[str] = []
    params: list[Any] = []
    for column in RESULT_COLUMNS:
        values = [(rid, result[column]) for rid, result in rows if column in result]
        if not values:
            continue
        values = [(rid, _plain(v, adapt)) for rid, v in values]
        distinct = {repr(v) for _, v in values}
        if len(values) == len(rows) and len(distinct) == 1:
            sets.append(f"{qn(column)} = %s")
            params.append(values[0][1])
            continue
        sets.append(f"{qn(column)} = CASE {qn('id')} " + " ".join("WHEN %s THEN %s" for _ in values)
                    + f" ELSE {qn(column)} END")
        for rid, value in values:
            params += [rid, value]
    sets.append(f"{qn('update_time')} = %s")
    params.append(adapt(now))
    ids = [rid for rid, _ in rows]
    sql = (f"UPDATE {qn(table)} SET {', '.join(sets)} WHERE {qn('id')} IN ({', '.join('%s' for _ in ids)}) "
           f"AND {qn('status')} = %s AND {qn('executor')} = %s")
    return sql, params + ids + [int(RecordStatus.RUNNING), executor]


def _plain(value: Any, adapt: Callable[[Any], Any]) -> Any:
    """A parameter the DB driver takes as is (enum members are plain ints, datetimes adapted)."""
    if isinstance(value, datetime):
        return adapt(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    return value


def _bound(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (DJS_EVENT_LOOP=asyncio opts out): the node's loop spends most of its time
    in socket I/O and timers, where uvloop is several times cheaper than the stdlib loop."""
    if os.environ.get("DJS_EVENT_LOOP", "uvloop").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_node(config: NodeConfig | None = None) -> None:
    Node(config).run()


def start_in_thread(config: NodeConfig | None = None, name: str | None = None) -> tuple[Node, threading.Thread]:
    """For tests and embedding: a node on its own thread and event loop."""
    node = Node(config, name)
    thread = threading.Thread(target=node.run, name=f"node-{node.name}", daemon=True)
    thread.start()
    return node, thread
