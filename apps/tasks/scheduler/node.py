"""One scheduler node: a thin loop around the plain functions of :mod:`repository`, :mod:`recovery` and
:mod:`results` (db-scheduler's layout: the Scheduler loop, its TaskRepository, SchedulerListener hooks).

Threads and loops (why): executions are asyncio coroutines on one event loop, so thousands of in-flight
HTTP/gRPC calls cost no threads and a kill is a ``Task.cancel()``. Django's ORM is synchronous, so database
work runs on dedicated threads, each with its own connection: ``control`` (claims, triggers, kill polls,
recovery), ``beats`` (registration and heartbeats: never behind a long recovery or claim, which would let
the node's own heartbeat lapse and a peer declare it dead), ``starts`` (start marks: latency-critical, never
behind a claim or a flush) and ``records`` (batched results). The event loop owns every piece of the node's
state (fires in flight, finished results, liveness); a thread receives what it needs as arguments and hands
results back.

A fire's life on a node (docs/scheduling.md): claimed (record running, no start time) → its start is marked
(one batched UPDATE sets ``start_time``, committed) → sent → finished → its result flushed. A fire is sent only
after its start mark committed, so a survivor can tell work that never started (taken over, run once) from
work that may have reached its target (lost, re-run with ``X-DJS-Recovery``).
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from django.conf import settings

from apps.departments.selectors import department_parents
from apps.records.models import RecordStatus, TriggerType
from apps.tasks import nodestats, routing
from apps.tasks.executors import Executors, execute, spans
from apps.tasks.executors.runas import ShellIdentities, prepare_node
from apps.tasks.scheduler import clock, execution, listeners, recovery, repository, results
from apps.tasks.scheduler.fires import Fire, releasable
from apps.tasks.scheduler.threads import DbThread, loop_factory
from djs_platform import metrics
from djs_platform.conf import RecordsSettings, SchedulerSettings, ShellSettings
from djs_platform.egress import EgressPolicy

log = logging.getLogger("djs.scheduler")

DEPARTMENTS_REFRESH = 60.0  # seconds between reads of the department tree (SHELL per-department users)
CLAIM_ROUNDS = 8            # claim batches per tick at most (each batch is one transaction)
MARK_LEAD = 0.1             # a fire's start is marked this long before its instant, so marking adds no lag
FLUSH_INTERVAL = 0.1        # results are flushed at most this often (one statement set per batch)
GATHER = 0.03               # an idle writer waits at most this long for calls still in flight to join a flush

# Per-fire metrics through their label children, each looked up once (metrics.Children).
FIRES, LAG, IN_FLIGHT = (metrics.Children(m) for m in (metrics.fires, metrics.schedule_lag, metrics.in_flight))
EXECUTIONS, DURATION, RETRIES, FALLBACKS = (metrics.Children(m) for m in (
    metrics.executions, metrics.execution_duration, metrics.retries, metrics.fallbacks))
STATUS_NAMES = {int(status): status.name.lower() for status in RecordStatus}  # the ``status`` label and span value


class Node:
    """The node. ``run()`` blocks until SIGTERM/SIGINT (or :meth:`stop`), then drains."""

    def __init__(self, config: SchedulerSettings | None = None, name: str | None = None,
                 retention: RecordsSettings | None = None):
        self.config = config or settings.DJS_SCHEDULER
        self.retention = retention or settings.DJS_RECORDS  # records.keepMonths / rollupKeepMonths
        self.name = name or _new_name()
        self.node_id: int | None = None
        self.control = DbThread("djs-control")
        self.beats = DbThread("djs-beats")  # heartbeats only (see the module doc)
        self.starts = DbThread("djs-starts", health_checks=False)  # a failed mark is retried
        self.records = DbThread("djs-records")
        self.schedules = repository.ScheduleCache()  # used on the control thread only
        self.listeners = listeners.create(self)
        self.running: dict[tuple[int, int, int], Fire] = {}  # Fire.key -> fire in flight or waiting
        self.by_task: dict[int, set[tuple[int, int, int]]] = defaultdict(set)
        self.to_mark: list[list[Fire]] = []  # groups of fires waiting for their start mark
        # Fires waiting for their instant's mark timer, per instant: later claim batches of the same instant join
        # the timer already set, so an instant costs one timer and one mark statement however it was claimed.
        self.mark_timers: dict[Any, list[Fire]] = {}
        self.finished: list[tuple[Fire, dict[str, Any], float]] = []  # (fire, result, monotonic end)
        self.calls_in_flight = 0  # fires sent and not finished (the flush waits for them, briefly: _gather)
        self.unflushed: set[tuple[int, int, int]] = set()  # finished fires (Fire.key) whose result is not committed yet
        self.kill_seen: dict[int, int] = {}
        self.stopping: asyncio.Event | None = None  # events are created on the loop
        self.mark_wake: asyncio.Event | None = None
        self.flush_wake: asyncio.Event | None = None
        self.stop_requested = False
        self.cut = False  # the drain's deadline passed: nothing more is sent
        self.loop: asyncio.AbstractEventLoop | None = None
        self.executors: Executors | None = None
        self.router: routing.Router | None = None
        self.last_heartbeat = 0.0     # monotonic start of the last heartbeat (its own loop: _heartbeat_loop)
        self.heartbeat_status = "up"  # "stopping" while draining
        self.found_dead = False       # a heartbeat found this node declared dead: the next tick drops it all
        self.last_housekeeping = 0.0  # monotonic time of the tick's last recovery round
        self.last_prune: float | None = None  # retention runs on the first tick, then daily
        self.live_nodes = 1
        self.alive_at = 0.0    # monotonic time of the last heartbeat that found this node alive
        self.reconcile = False  # set after a database error: adopt running records of ours nobody runs
        self.paused = False     # maintenance mode (scheduler_state), as last read by peek
        self.shell: ShellSettings = settings.DJS_SHELL
        self.shell_identities = ShellIdentities()  # resolved on this host when the node starts
        # SHELL per-department users: department id -> parent id, re-read every DEPARTMENTS_REFRESH seconds
        self.department_parents: dict[int, int | None] = {}
        self.departments_read_at: float | None = None
        self.stats: dict[str, int] = defaultdict(int)
        self.minutes = nodestats.NodeMinutes()  # GET /v1/nodes/stats: this node's figures per minute
        self.pruned_minute = -1

    # --- what listeners see (NodeView) --------------------------------------------------------------

    def is_running(self, key: tuple[int, int, int]) -> bool:
        return key in self.running

    # --- lifecycle ----------------------------------------------------------------------------------

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
        self.stopping, self.mark_wake, self.flush_wake = asyncio.Event(), asyncio.Event(), asyncio.Event()
        if self.stop_requested:  # stop() came before the loop existed
            self.stopping.set()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self.stopping.set)
            except (ValueError, RuntimeError):  # not the main thread (tests run nodes in threads)
                pass
        self.shell = settings.DJS_SHELL
        if self.shell.enabled:  # refuses to start (ShellIdentityError) unless commands can run as another user
            self.shell_identities = ShellIdentities.of(self.shell)
            for warning in prepare_node(self.shell_identities, debug=settings.DEBUG,
                                        redis_url=settings.DJS_REDIS.url):
                log.warning("%s", warning)
        self.executors = Executors(http_workers=self.config.http_workers, grpc_workers=self.config.grpc_workers,
                                   egress=EgressPolicy.of(settings.DJS_EGRESS), shell=self.shell,
                                   shell_identities=self.shell_identities)
        await self.executors.start()
        self.router = routing.Router(load=lambda: self.control.run(repository.registry_snapshot),
                                     check=self.executors.probe, on_call=_count_executor_call)
        await self._register()
        self.last_housekeeping = self.last_heartbeat  # first recovery round: one heartbeat interval in
        for listener in self.listeners:
            await listener.start()
        log.info("scheduler node %s started (id %s)", self.name, self.node_id)
        helpers = [asyncio.create_task(self._heartbeat_loop()), asyncio.create_task(self._mark_loop()),
                   asyncio.create_task(self._flush_loop()), asyncio.create_task(self._health_loop()),
                   asyncio.create_task(self.router.keep_fresh())]
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    if self.reconcile:
                        adopted = await self.control.run(recovery.adopt_orphans, me=self.name,
                                                         owned={*self.running, *self.unflushed})
                        self.stats["adopted"] += len(adopted)
                        metrics.adopted.inc(len(adopted))
                        self._launch(adopted)
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
                except TimeoutError:
                    pass
            await self._drain()
        finally:
            for helper in helpers:
                helper.cancel()
            await self._flush_records()
            await self.control.run(repository.deregister, self.node_id)
            for listener in self.listeners:
                await listener.close()
            await self.executors.close()
            for thread in (self.control, self.beats, self.starts, self.records):
                thread.shutdown()
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
        """SIGTERM: no new claims; claimed fires still start at their instant; wait for in-flight work until
        ``job.shutdownGrace``, then cancel what still runs: those records end ``killed`` (never re-run)."""
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
        self.heartbeat_status = "stopping"  # the heartbeat loop goes on until the node is down
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        self.cut = True
        now = clock.utcnow()
        for fire in list(self.running.values()):
            # Not fire.killed: the record says the node's shutdown cancelled it, not a user's kill.
            if fire.handle:
                fire.handle.cancel()
            elif not fire.marking:
                # Never sent (its mark kept failing, or it waited for liveness): it ends killed here rather
                # than staying running under a node that is about to be down.
                self._finish(fire, execution.cancelled_result(fire, now, now))
        while any(f.handle is not None or f.marking for f in self.running.values()):
            await asyncio.sleep(0.05)
        for fire in [f for f in self.running.values() if f.handle is None]:
            self._finish(fire, execution.cancelled_result(fire, now, now))

    # --- the tick -----------------------------------------------------------------------------------

    async def _tick(self) -> None:
        now = time.monotonic()
        if self.found_dead:  # seen by the heartbeat loop; the work is dropped here, between claims
            self.found_dead = False
            await self._presumed_dead()
        if not self._confirmed_alive():
            # Frozen (SIGSTOP) or cut off from the database for most of the node timeout: survivors may be
            # taking this node's work over right now. Claim nothing until the heartbeat loop has confirmed the
            # node alive, or found it dead (its work is then dropped above and the node re-registers): a fire
            # claimed in between would be dropped with the rest and stay "running" under the old name.
            return
        # Recovery judges other nodes by their heartbeats, so it runs only while this node's own heartbeat
        # is confirmed fresh: after a database outage, two nodes whose ticks come back before their heartbeats
        # would otherwise declare each other dead (the tick used to heartbeat right before recovering; the
        # heartbeat has its own loop now).
        if now - self.last_housekeeping >= self.config.heartbeat_interval and self._confirmed_alive():
            self.last_housekeeping = now
            if not self.paused:  # maintenance: re-running a dead node's work is a new execution; it waits too
                found = await self.control.run(
                    recovery.recover_dead_nodes, me=self.name, my_id=self.node_id,
                    node_timeout=self.config.node_timeout, misfire_threshold=self.config.misfire_threshold)
                self._recovered(found)
            if self.shell_identities.by_department and (
                    self.departments_read_at is None or now - self.departments_read_at > DEPARTMENTS_REFRESH):
                self.departments_read_at = now
                self.department_parents = await self.control.run(department_parents)
            if (self.retention.keep_months or self.retention.rollup_keep_months) and \
                    (self.last_prune is None or now - self.last_prune > 86400):
                self.last_prune = now
                await self.control.run(_prune, self.retention.keep_months, self.retention.rollup_keep_months)
        # Claim batches while they come back full (there may be more due), up to CLAIM_ROUNDS per tick. With
        # other live nodes, work is shared: after the first batch a node only goes on for tasks due within half
        # the lookahead (the others poll in between and take the rest), and it stops claiming while its
        # backlog exceeds job.queueSize. Alone, it claims whatever is due. One cheap statement tells whether
        # anything is due or triggered (an idle node costs ~3 queries/s), and whether scheduling is paused
        # (maintenance mode): then nothing is claimed, triggers wait.
        next_due, triggered, paused = await self.control.run(repository.peek)
        if paused != self.paused:
            log.warning("scheduling %s platform-wide (maintenance mode)", "paused" if paused else "resumed")
            self.paused = paused
        if paused:
            await self._release_waiting()
            next_due, triggered = None, False
        shared = self.live_nodes > 1
        horizon = clock.utcnow().timestamp() + self.config.lookahead
        for _ in range(CLAIM_ROUNDS if next_due is not None and next_due.timestamp() <= horizon else 0):
            if shared and self._backlog() >= self.config.queue_size:
                break
            claimed = await self.control.run(repository.claim_due, node=self.name, config=self.config,
                                             earliest=next_due, schedules=self.schedules)
            self.stats["claim_conflicts"] += claimed.conflicts
            self.stats["duplicates_prevented"] += claimed.duplicates
            self._launch(claimed.fires)
            if not claimed.full or (shared and claimed.last_due is not None and
                                    claimed.last_due.timestamp() - time.time() > self.config.lookahead / 2):
                break
        if triggered:
            fires, duplicates = await self.control.run(repository.claim_triggers, self.name)
            self.stats["duplicates_prevented"] += duplicates
            self._launch(fires)
        if self.running:
            await self._poll_kills()
        for listener in self.listeners:
            listener.on_tick()

    def _backlog(self) -> int:
        """Executions this node is behind on: overdue fires not started yet, and calls queued for a worker
        slot (job.httpWorkers / grpcWorkers all busy)."""
        assert self.executors is not None
        now = clock.utcnow()
        overdue = sum(1 for f in self.running.values() if f.handle is None and f.scheduled <= now)
        return overdue + self.executors.queued

    async def _release_waiting(self) -> None:
        """Paused: give back the on-time fires this node claimed but has not started (up to the lookahead
        ahead), so none starts during the pause and after resume each task's misfire policy decides."""
        waiting = [f for f in self.running.values() if releasable(f)]
        if not waiting:
            return
        await self.control.run(repository.release, waiting, self.name)
        for fire in waiting:
            self._forget(fire)
        self.stats["released"] += len(waiting)
        log.info("paused: gave back %d claimed fire(s) of %d task(s)", len(waiting),
                 len({f.task["id"] for f in waiting}))

    # --- membership ---------------------------------------------------------------------------------

    async def _register(self) -> None:
        # ``paused`` is known before the first tick (which would otherwise recover dead nodes' work while paused).
        at = time.monotonic()
        self.node_id, self.paused = await self.beats.run(repository.register, self.name)
        self.last_heartbeat = self.alive_at = at

    async def _heartbeat_loop(self) -> None:
        """A heartbeat every ``job.heartbeatInterval``, whatever the tick is doing: its own coroutine and its
        own database thread, so a long recovery or claim round (the ``control`` thread) cannot delay it."""
        while True:
            due = self.last_heartbeat + self.config.heartbeat_interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            try:
                if not await self._heartbeat(self.heartbeat_status):
                    self.found_dead = True
            except Exception:  # a database hiccup: the next heartbeat tries again
                log.exception("heartbeat failed; retrying")
                await asyncio.sleep(min(1.0, self.config.heartbeat_interval))

    async def _heartbeat(self, status: str) -> bool:
        """False when survivors already declared this node dead (e.g. after a long SIGSTOP)."""
        at = self.last_heartbeat = time.monotonic()
        now = clock.utcnow()
        minutes = self.minutes.take(now)
        prune, self.pruned_minute = now.minute != self.pruned_minute, now.minute
        try:
            alive, self.live_nodes = await self.beats.run(
                repository.heartbeat, self.node_id, status, len(self.running), self.config.node_timeout,
                name=self.name, minutes=minutes, prune=prune)
        except Exception:
            self.minutes.restore(minutes)
            raise
        if alive:
            self.alive_at = at
        metrics.live_nodes.set(self.live_nodes)
        metrics.claimed_waiting.set(sum(1 for f in self.running.values() if f.handle is None))
        return alive

    def _confirmed_alive(self) -> bool:
        """Liveness unconfirmed for most of the node timeout (the process was frozen, e.g. SIGSTOP, or the
        database is unreachable): survivors may be recovering this work right now, so nothing is marked or
        sent until the next heartbeat confirms this node alive; a node found dead drops it."""
        return time.monotonic() - self.alive_at <= self.config.alive_window

    async def _presumed_dead(self) -> None:
        """Our work was declared lost or taken over elsewhere: drop it without writing, re-register."""
        log.error("node %s was declared dead by a survivor; abandoning %d execution(s) and re-registering",
                  self.name, len(self.running))
        for fire in list(self.running.values()):
            fire.killed = True
            if fire.handle:
                fire.handle.cancel()
            self._forget(fire)
        self.to_mark.clear()
        self.name = _new_name()
        await self._register()

    def _recovered(self, found: recovery.Recovered) -> None:
        self.stats["recovered"] += found.rerun
        self.stats["taken_over"] += found.taken_over
        metrics.recovered.inc(found.rerun)
        metrics.taken_over.inc(found.taken_over)
        self._launch(found.fires)

    # --- starting fires -----------------------------------------------------------------------------

    def _launch(self, fires: list[Fire]) -> None:
        """Own the fires and start them in groups of one instant (or "now"): one timer and one start mark per
        group, not per fire."""
        groups: dict[tuple, list[Fire]] = defaultdict(list)
        for fire in fires:
            self.running[fire.key] = fire
            self.by_task[fire.task["id"]].add(fire.key)
            marked = fire.start_mark is not None  # adopted after a database error, marked before it
            groups[(marked, fire.start_now, None if fire.start_now else fire.scheduled)].append(fire)
        for (marked, _, _), group in groups.items():
            (self._send if marked else self._start)(group)

    def _start(self, fires: list[Fire]) -> None:
        """Near their instant, queue fires for their start mark (timers call this again while they wait). The
        fires of one call share an instant or all start now."""
        fires = [f for f in fires if f.key in self.running and f.handle is None and not f.marking
                 and f.start_mark is None]
        if not fires:
            return
        assert self.loop is not None and self.mark_wake is not None
        first = fires[0]
        if not first.start_now:
            # call_later runs on the loop's monotonic clock; the scheduled time is wall-clock.
            early = (first.scheduled - clock.utcnow()).total_seconds() - MARK_LEAD
            if early > 0:
                waiting = self.mark_timers.get(first.scheduled)
                if waiting is not None:
                    waiting.extend(fires)
                else:
                    self.mark_timers[first.scheduled] = list(fires)
                    self.loop.call_later(early, self._instant_due, first.scheduled)
                return
        if self.paused:
            # Maintenance pause: on-time fires claimed before this node saw the pause do not start; the tick
            # gives them back (_release_waiting) and after resume the task's misfire policy decides.
            waiting = [f for f in fires if releasable(f)]
            if waiting:
                self.loop.call_later(0.2, self._start, waiting)
                fires = [f for f in fires if not releasable(f)]
        if not fires:
            return
        if not self._confirmed_alive():
            self.loop.call_later(0.2, self._start, fires)
            return
        now = clock.utcnow()
        for fire in fires:
            if fire.mark_at is None:
                fire.mark_at = now if fire.start_now else max(now, fire.scheduled)
            fire.marking = True
        self.to_mark.append(fires)
        self.mark_wake.set()

    def _instant_due(self, instant: Any) -> None:
        self._start(self.mark_timers.pop(instant, []))

    async def _mark_loop(self) -> None:
        """Commit start marks in batches (every group queued since the last one), then send each marked group at
        its instant."""
        assert self.mark_wake is not None and self.loop is not None
        while True:
            await self.mark_wake.wait()
            self.mark_wake.clear()
            groups, self.to_mark = self.to_mark, []
            groups = [[f for f in group if f.key in self.running] for group in groups]
            batch = [f for group in groups for f in group]
            if not batch:
                continue
            try:
                await self._plan_broadcasts(batch)
                marked = await self.starts.run(repository.mark_started, batch, self.name)
            except Exception:  # noqa: BLE001 - the fires wait and retry: late, or recovered as never started
                log.exception("could not mark the start of %d fire(s); retrying", len(batch))
                for group in groups:
                    for fire in group:
                        fire.marking = False
                    self.loop.call_later(0.5, self._start, group)
                continue
            sent = {id(f) for f in marked}
            for group in groups:
                ready = []
                for fire in group:
                    fire.marking = False
                    if id(fire) in sent:
                        fire.start_mark = fire.mark_at
                        ready.append(fire)
                    elif fire.key in self.running:
                        # A survivor took the record over or declared it lost meanwhile: it runs there, not here.
                        log.warning("record %s of task %s is no longer this node's; not starting it",
                                    fire.record_id, fire.task["id"])
                        self.stats["not_marked"] += 1
                        self._forget(fire)
                if ready:
                    self._send(ready)
            known = {id(f) for f in batch}
            born: dict[tuple, list[Fire]] = defaultdict(list)  # a broadcast's shards 1..n-1, marked with shard 0
            for fire in marked:
                if id(fire) not in known:
                    self.running[fire.key] = fire
                    self.by_task[fire.task["id"]].add(fire.key)
                    born[(fire.start_now, fire.scheduled)].append(fire)
            for shards in born.values():
                self._send(shards)

    async def _plan_broadcasts(self, fires: list[Fire]) -> None:
        """Broadcast fires about to be marked: the live instances of their name, one shard each (the mark inserts
        the shards). No live instance: the fire runs as one call that fails "no live executor"."""
        assert self.router is not None
        for fire in fires:
            target = execution.broadcast_target(fire)
            if target is not None:
                picks = await self.router.live(target, fire.task["department_id"])
                fire.planned = [pick.instance for pick in picks] or None

    def _send(self, fires: list[Fire]) -> None:
        """Start the calls of marked fires (one instant, or "now") at their instant."""
        fires = [f for f in fires if f.key in self.running and f.handle is None]
        if not fires:
            return
        assert self.loop is not None
        if self.cut:  # marked as the shutdown deadline passed: they end killed, never sent
            now = clock.utcnow()
            for fire in fires:
                self._finish(fire, execution.cancelled_result(fire, now, now))
            return
        if not fires[0].start_now:
            early = (fires[0].scheduled - clock.utcnow()).total_seconds()
            if early > 0:  # never before its instant (the loop's timers may call back up to their resolution early)
                self.loop.call_later(early + 0.0005, self._send, fires)
                return
        if not self._confirmed_alive():
            self.loop.call_later(0.2, self._send, fires)
            return
        for fire in fires:
            # A kill requested before this fire started does not apply to it.
            fire.kill_seq = max(fire.kill_seq, self.kill_seen.get(fire.task["id"], 0))
            fire.handle = self.loop.create_task(self._execute(fire))
            self.calls_in_flight += 1
            fire.handle.add_done_callback(self._call_done)

    # --- executing ----------------------------------------------------------------------------------

    async def _poll_kills(self) -> None:
        """One query per tick while fires run: each task's kill counters. A task kill (``kill_seq``) cancels every
        run of the task that started before it; a moved ``record_kill_seq`` means someone asked to stop ONE
        execution: the node then reads which of its records were named (rare, one more query) and cancels those."""
        state = await self.control.run(repository.kill_state, list(self.by_task))
        self.kill_seen.update((task_id, seqs[0]) for task_id, seqs in state.items())
        named: list[Fire] = []
        for task_id, keys in list(self.by_task.items()):
            kill_seq, record_kill_seq = state.get(task_id, (None, None))
            for key in list(keys):
                fire = self.running.get(key)
                if fire is None or fire.handle is None:
                    continue
                if kill_seq is None or kill_seq > fire.kill_seq:
                    self._cancel(fire)
                elif record_kill_seq > fire.task.get("record_kill_seq", 0):
                    named.append(fire)
        if named:
            asked = await self.control.run(repository.take_execution_kills, [f.key for f in named])
            for fire in named:
                fire.task = {**fire.task, "record_kill_seq": state[fire.task["id"]][1]}  # seen up to here
                if fire.key in asked and fire.handle is not None:
                    log.info("execution %s of task %s killed on request", fire.record_id, fire.task["id"])
                    self._cancel(fire)

    @staticmethod
    def _cancel(fire: Fire) -> None:
        fire.killed = True
        fire.handle.cancel()

    async def _execute(self, fire: Fire) -> None:
        # A trace per fire: root span "djs.fire", a "djs.attempt" child per call (executors.execute).
        with spans.fire_span(task_id=fire.task["id"], task_type=fire.task["task_type"], trigger=fire.trigger,
                               scheduled=fire.scheduled, record_id=fire.record_id, node=self.name):
            await self._run_fire(fire)

    async def _run_fire(self, fire: Fire) -> None:
        task = fire.task
        started = clock.utcnow()
        result: dict[str, Any]
        FIRES(fire.trigger).inc()
        fire.lag = max(0.0, (started - fire.scheduled).total_seconds())
        LAG(fire.trigger).observe(fire.lag)
        for listener in self.listeners:
            listener.on_fire_started(fire, started)
        gauge = IN_FLIGHT(task["task_type"])
        gauge.inc()
        try:
            policy = task["concurrency_policy"]
            if policy != "allow" and fire.trigger == TriggerType.SCHEDULE:
                busy = self._running_here(fire) or await self.control.run(
                    repository.running_elsewhere, task["id"], fire.scheduled)
                if busy and policy == "forbid":
                    self._finish(fire, {"status": RecordStatus.SKIPPED, "success": False, "start_time": started,
                                        "error": "skipped: the previous run is still running (concurrency: forbid)"})
                    return
                if busy and policy == "replace":
                    fire.kill_seq = await self.control.run(repository.bump_kill, task["id"])
                    await asyncio.sleep(self.config.poll_interval * 2)  # let the owners cancel theirs
            plan = execution.plan_for(fire, self.department_parents)
            outcome = await execute(plan, self.executors, self.router)
            result = execution.outcome_result(fire, outcome, started)
        except asyncio.CancelledError:
            result = execution.cancelled_result(fire, started, clock.utcnow())
        except Exception as exc:  # noqa: BLE001 - a bug in one execution must not take the node down
            log.exception("execution of task %s failed unexpectedly", task["id"])
            result = execution.internal_error_result(exc, started)
        finally:
            gauge.dec()
        self._finish(fire, result)

    def _running_here(self, fire: Fire) -> bool:
        return any(other.handle is not None and other.scheduled < fire.scheduled
                   for key in self.by_task.get(fire.task["id"], ()) if (other := self.running.get(key)))

    def _call_done(self, _handle: asyncio.Task) -> None:
        """A sent fire's coroutine ended (also one cancelled before it ran): the last one wakes a waiting flush."""
        self.calls_in_flight -= 1
        if not self.calls_in_flight and self.finished and self.flush_wake is not None:
            self.flush_wake.set()

    def _finish(self, fire: Fire, result: dict[str, Any]) -> None:
        now = clock.utcnow()
        result.setdefault("end_time", now)
        if result.get("cost_time") is None and result.get("start_time"):
            result["cost_time"] = int((now - result["start_time"]).total_seconds() * 1000)
        if fire.start_mark is not None:
            result["start_time"] = fire.start_mark  # the record keeps the start it showed while running
        kind = fire.task["task_type"]
        status = STATUS_NAMES[int(result["status"])]
        EXECUTIONS(kind, status).inc()
        spans.fire_finished(status, result)
        if result.get("cost_time") is not None:
            DURATION(kind).observe(result["cost_time"] / 1000)
        if result.get("retry_times"):
            RETRIES(kind).inc(result["retry_times"] - fire.retry_times)
        if result.get("used_fallback"):
            FALLBACKS(kind).inc()
        self.minutes.record(now, failed=result["status"] == RecordStatus.FAILED, cost_ms=result.get("cost_time"),
                            lag_ms=None if fire.lag is None else fire.lag * 1000)
        self.unflushed.add(fire.key)
        self.finished.append((fire, result, time.monotonic()))
        self._forget(fire)
        if self.flush_wake is not None:
            self.flush_wake.set()

    def _forget(self, fire: Fire) -> None:
        self.running.pop(fire.key, None)
        ids = self.by_task.get(fire.task["id"])
        if ids is not None:
            ids.discard(fire.key)
            if not ids:
                self.by_task.pop(fire.task["id"], None)

    async def _health_loop(self) -> None:
        """Every routing.CHECK_INTERVAL: check the registered instances this node calls (skipped ones come back
        when a check passes; a gRPC instance answering NOT_SERVING is skipped)."""
        while True:
            await asyncio.sleep(routing.CHECK_INTERVAL)
            try:
                await self.router.check_health()
            except Exception:  # noqa: BLE001 - a failed round of checks must not stop the next one
                log.exception("executor health checks failed")

    # --- results ------------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        """Flush results as they finish, at most once per :data:`FLUSH_INTERVAL`: when the writer has been idle
        that long, a result is written as soon as no other call is in flight (the calls of one instant, which
        finish together, share one flush), and at the latest :data:`GATHER` after it finished (a slow call does
        not hold the others back); under load each flush carries everything that finished since the last one
        (the statements per result stay those of one batch)."""
        assert self.flush_wake is not None
        while True:
            await self.flush_wake.wait()
            self.flush_wake.clear()
            if self.finished:
                await self._gather(self.finished[0][2] + GATHER)
            began = time.monotonic()
            try:
                await self._flush_records()
            except Exception:  # noqa: BLE001
                log.exception("record flush failed; will retry")
                self.flush_wake.set()
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(max(0.0, FLUSH_INTERVAL - (time.monotonic() - began)))

    async def _gather(self, deadline: float) -> None:
        """Wait while calls are still in flight (each one that finishes wakes this), until ``deadline``."""
        assert self.flush_wake is not None
        while self.calls_in_flight and (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(self.flush_wake.wait(), left)
            except TimeoutError:
                return
            self.flush_wake.clear()

    async def _flush_records(self) -> int:
        if not self.finished:
            return 0
        batch, self.finished = self.finished, []
        pairs = [(fire, result) for fire, result, _ in batch]
        try:
            children = await self.records.run(results.write_results, pairs, self.name)
        except Exception:
            self.finished = batch + self.finished
            raise
        done = time.monotonic()
        for _, _, finished_at in batch:
            metrics.result_flush_delay.observe(done - finished_at)
        self.stats["child_triggers"] += children
        self.unflushed.difference_update(fire.key for fire, _ in pairs)
        for listener in self.listeners:
            listener.on_results_flushed(pairs)
        return len(batch)


def _count_executor_call(name: str, instance: str, result: str) -> None:
    metrics.executor_calls.labels(name, instance, result).inc()


def _prune(keep_months: int, rollup_keep_months: int) -> None:
    from apps.records.services import records_prune, rollups_prune

    if keep_months:
        records_prune(keep_months=keep_months)
    if rollup_keep_months:
        rollups_prune(keep_months=rollup_keep_months)


def _new_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def start_in_thread(config: SchedulerSettings | None = None, name: str | None = None,
                    retention: RecordsSettings | None = None) -> tuple[Node, threading.Thread]:
    """For tests and embedding: a node on its own thread and event loop."""
    node = Node(config, name, retention)
    thread = threading.Thread(target=node.run, name=f"node-{node.name}", daemon=True)
    thread.start()
    return node, thread
