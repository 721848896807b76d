"""Scheduler paths reached on purpose: partial grouped claims, adoption after a hidden commit, SKIP LOCKED,
claim rounds and queueSize sharing, deletion and shutdown cancelling running calls, recovery without retries
and in last month's table (docs/scheduling.md, docs/reliability.md).

Every test drives a real node (``node_factory``) against real loopback HTTP targets and asserts what a user
or operator sees: target hits and their Idempotency-Key, record rows, Prometheus samples, node rows.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from prometheus_client import REGISTRY

from apps.records.models import RecordStatus, ensure_record_table, month_of, record_model
from apps.tasks import engine
from apps.tasks.scheduler import clock, repository
from apps.tasks.models import SchedulerNode, Task
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until

UTC = timezone.utc
pytestmark = pytest.mark.django_db(transaction=True)

STUCK_BODY = {"stream_bytes": 10_000, "chunk_size": 100, "hang_after_bytes": 500}  # headers + 500 bytes, then silence


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def key(task: Task, instant: datetime) -> str:
    return f"djs-{task.pk}-{int(instant.timestamp() * 1000)}"


def soon(seconds: float = 2.0) -> datetime:
    """A whole second about ``seconds`` ahead (beyond the test nodes' 1 s lookahead when the node starts)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def one_shot(department, url: str, at: datetime | None, **over) -> Task:
    """A one-shot task (status 2) due at ``at``: it fires exactly once, then is disabled."""
    return TaskFactory(department=department, url=url, status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=at, **over)


def dead_node(name: str, now: datetime | None = None) -> SchedulerNode:
    stale = (now or datetime.now(UTC)) - timedelta(seconds=60)
    return SchedulerNode.objects.create(name=name, host="h", pid=1, started_at=stale, heartbeat_at=stale, status="up")


def running_record(task: Task, scheduled: datetime, executor: str, retry_times: int = 0):
    """A record the way a node leaves it mid-run: running, started, owned by ``executor``."""
    return record_model(*month_of(scheduled)).objects.create(
        task_id=task.pk, task_name=task.name, department_id=task.department_id, task_type="HTTP",
        trigger_type="SCHEDULE", scheduled_time=scheduled, start_time=scheduled, status=RecordStatus.RUNNING,
        executor=executor, retry_times=retry_times)


# --- claims --------------------------------------------------------------------------------------------


def test_a_task_edited_inside_a_grouped_claim_counts_one_conflict_and_every_task_fires_once(
        node_factory, http_target, department, monkeypatch):
    """Three tasks due at one instant with one schedule are claimed by ONE compare-and-set UPDATE. The middle
    one is edited (version bumped) after the SELECT, inside the claim transaction: the grouped UPDATE changes
    2 of 3 rows, is rolled back and retried row by row; the edited task is a conflict now and is claimed on
    the next poll. The three share one plan (computed once per claim for tasks of one schedule and due time)."""
    at = soon()
    tasks = [one_shot(department, http_target.url(f"/p{i}"), at, name=f"p{i}") for i in range(3)]
    edited = tasks[1]
    original_plan, original_claim = engine.plan_claim, repository.claim_group
    planned: list[datetime] = []

    def plan(**kwargs):
        if kwargs["due"] == at:
            planned.append(kwargs["due"])
        return original_plan(**kwargs)

    def edit_then_claim(members):
        if len(members) == 3:  # before the grouped UPDATE, after the SELECT, in the claim's transaction
            Task.objects.filter(pk=edited.pk).update(version=F("version") + 1)  # the control connection
        return original_claim(members)

    monkeypatch.setattr(engine, "plan_claim", plan)
    monkeypatch.setattr(repository, "claim_group", edit_then_claim)
    conflicts = metric("djs_scheduler_claim_conflicts_total")
    node_factory()
    rows = {t.pk: wait_until(finished(t, 1)) for t in tasks}

    assert metric("djs_scheduler_claim_conflicts_total") - conflicts == 1
    for i, task in enumerate(tasks):
        (row,) = records_of(task)
        assert (row.status, row.scheduled_time, row.trigger_type) == (RecordStatus.SUCCESS, at, "SCHEDULE")
        assert [h.header("Idempotency-Key") for h in http_target.requests(f"/p{i}")] == [key(task, at)]
    # The two untouched tasks were recorded by one claim transaction; the edited one by a later claim.
    assert rows[tasks[0].pk][0].create_time == rows[tasks[2].pk][0].create_time
    assert rows[edited.pk][0].create_time > rows[tasks[0].pk][0].create_time
    assert planned == [at] * 2  # one plan for the grouped claim, one for the edited task's own claim


def test_a_claim_whose_commit_was_reported_failed_is_adopted_and_each_fire_reaches_the_target_once(
        node_factory, http_target, department, monkeypatch):
    """The claim commits, then the node sees a database error (as when the connection dies during COMMIT):
    after the error the node adopts its own running records nobody runs, and each fire runs exactly once."""
    tasks = [TaskFactory(department=department, url=http_target.url(f"/a{i}"), name=f"a{i}")  # every second
             for i in range(2)]
    original = repository.claim_due
    hidden: list[tuple[int, datetime, int]] = []

    def claim_then_fail(**kwargs):
        claimed = original(**kwargs)
        if claimed.fires and not hidden:
            hidden.extend((f.task["id"], f.scheduled, f.record_id) for f in claimed.fires)
            raise OperationalError("server has gone away (injected after the claim committed)")
        return claimed

    monkeypatch.setattr(repository, "claim_due", claim_then_fail)
    adopted = metric("djs_scheduler_adopted_total")
    node = node_factory()
    wait_until(lambda: hidden)
    by_id = {t.pk: (i, t) for i, t in enumerate(tasks)}

    def hidden_finished():
        rows = [record_model(*month_of(at)).objects.get(pk=rid) for _, at, rid in hidden]
        return rows if all(r.status != RecordStatus.RUNNING for r in rows) else None

    rows = wait_until(hidden_finished)
    assert metric("djs_scheduler_adopted_total") - adopted == len(hidden) >= 2
    for row, (task_id, at, _) in zip(rows, hidden):
        i, task = by_id[task_id]
        assert (row.status, row.executor, row.scheduled_time) == (RecordStatus.SUCCESS, node.name, at)
        sent = [h.header("Idempotency-Key") for h in http_target.requests(f"/a{i}")]
        assert sent.count(key(task, at)) == 1
    keys = [h.header("Idempotency-Key") for h in http_target.requests()]
    assert len(keys) == len(set(keys)), "an Idempotency-Key reached the target twice"


@pytest.mark.mariadb_only
def test_a_due_task_locked_by_another_transaction_is_skipped_and_the_other_due_tasks_still_run(
        node_factory, http_target, department):
    """FOR UPDATE SKIP LOCKED: a row locked elsewhere does not block the claim of the others; it is claimed
    once the lock is gone."""
    at = soon()
    tasks = [one_shot(department, http_target.url(f"/s{i}"), at, name=f"s{i}") for i in range(3)]
    locked = tasks[0]  # first in claim order
    holding, release = threading.Event(), threading.Event()

    def hold_row_lock():
        try:
            with transaction.atomic():
                list(Task.objects.select_for_update().filter(pk=locked.pk).values_list("id", flat=True))
                holding.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_row_lock, name="row-lock-holder", daemon=True)
    holder.start()
    try:
        assert holding.wait(10), "the lock holder did not get its row lock"
        node_factory(misfire_threshold=60)  # the locked one-shot task may run long after its instant
        for task in tasks[1:]:
            (row,) = wait_until(finished(task, 1), timeout=8)
            assert (row.status, row.scheduled_time) == (RecordStatus.SUCCESS, at)
        assert records_of(locked) == [] and http_target.hits("/s0") == 0
    finally:
        release.set()
        holder.join(10)
    (row,) = wait_until(finished(locked, 1))
    assert (row.status, row.scheduled_time) == (RecordStatus.SUCCESS, at)
    for i, task in enumerate(tasks):
        assert [h.header("Idempotency-Key") for h in http_target.requests(f"/s{i}")] == [key(task, at)]


def test_a_lone_node_claims_more_due_tasks_than_a_batch_in_full_rounds_and_fires_all_at_their_instant(
        node_factory, http_target, department):
    """claimBatch 3, 8 tasks due at one instant: batches of 3, 3 and 2 (a full batch means claim again at
    once), every task fired once for that instant. queueSize does not hold back a node that is alone."""
    at = soon()
    tasks = [one_shot(department, http_target.url(f"/b{i}"), at, name=f"b{i}") for i in range(8)]
    node = node_factory(claim_batch=3, queue_size=1)
    rows = [wait_until(finished(t, 1))[0] for t in tasks]

    for i, (task, row) in enumerate(zip(tasks, rows)):
        assert len(records_of(task)) == 1
        assert (row.status, row.scheduled_time, row.executor) == (RecordStatus.SUCCESS, at, node.name)
        assert row.start_time >= at
        assert [h.header("Idempotency-Key") for h in http_target.requests(f"/b{i}")] == [key(task, at)]
    # Each claim transaction stamps the records it inserts with one create_time: one group per claim round,
    # in claim order (next_execute_time, id).
    rounds = Counter(row.create_time for row in rows)
    assert sorted(rounds.values()) == [2, 3, 3]
    assert [rows[i].create_time for i in range(8)] == sorted(row.create_time for row in rows)


def test_a_node_whose_backlog_reached_queue_size_leaves_the_rest_of_the_due_work_to_the_other_node(
        node_factory, http_target, department):
    """Two live nodes, one HTTP worker each, queueSize 1: a node stops claiming once calls wait for its worker
    slot, and the other node claims the rest; every task still runs exactly once."""
    http_target.on("/q", delay=0.4)
    tasks = [one_shot(department, http_target.url("/q"), None, name=f"q{i}") for i in range(9)]
    nodes = [node_factory(claim_batch=3, queue_size=1, http_workers=1, misfire_threshold=60) for _ in range(2)]
    # Work is shared only between nodes that count each other live: a heartbeat of each after both registered.
    second_up = SchedulerNode.objects.get(pk=nodes[1].node_id).started_at
    wait_until(lambda: SchedulerNode.objects.filter(pk__in=[n.node_id for n in nodes],
                                                    heartbeat_at__gt=second_up).count() == 2)
    due = datetime.now(UTC).replace(microsecond=0)
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(next_execute_time=due)  # all due at once, overdue

    rows = [wait_until(finished(t, 1), timeout=15)[0] for t in tasks]
    assert all(len(records_of(t)) == 1 for t in tasks)
    assert all(row.status == RecordStatus.SUCCESS and row.scheduled_time == due for row in rows)
    assert sorted(h.header("Idempotency-Key") for h in http_target.requests("/q")) == sorted(key(t, due) for t in tasks)
    assert {row.executor for row in rows} == {n.name for n in nodes}


# --- cancellation -------------------------------------------------------------------------------------


def test_deleting_a_task_through_the_api_kills_its_running_execution_and_hangs_up_on_the_target(
        node_factory, http_target, department, admin_api):
    http_target.on("/stuck", **STUCK_BODY)
    task = one_shot(department, http_target.url("/stuck"), soon(1), timeout=60)
    node_factory()
    http_target.wait_for(1, "/stuck", timeout=10)
    admin_api.delete(f"tasks/{task.pk}").expect(0)

    (row,) = wait_until(finished(task, 1), timeout=5)  # records outlive their task
    assert (row.status, row.success, row.error) == (RecordStatus.KILLED, False, "killed")
    assert http_target.streamed("/stuck") == [500], "the call was not hung up on"
    assert not Task.objects.filter(pk=task.pk).exists()
    assert http_target.hits("/stuck") == 1


def test_a_call_still_hanging_when_shutdown_grace_expires_is_cancelled_and_recorded_killed(
        node_factory, http_target, department):
    http_target.on("/stuck", **STUCK_BODY)
    task = one_shot(department, http_target.url("/stuck"), soon(1), timeout=60)
    node = node_factory(shutdown_grace=1)
    http_target.wait_for(1, "/stuck", timeout=10)
    asked = datetime.now(UTC)
    node.stop()

    (row,) = wait_until(finished(task, 1), timeout=10)
    assert (row.status, row.success, row.error) == (RecordStatus.KILLED, False,
                                                     "cancelled: scheduler node shutting down")
    assert row.end_time >= asked + timedelta(seconds=1), "cancelled before job.shutdownGrace ran out"
    assert http_target.streamed("/stuck") == [500], "the call was not hung up on"
    wait_until(lambda: SchedulerNode.objects.get(pk=node.node_id).status == "down")
    assert http_target.hits("/stuck") == 1


# --- recovery -----------------------------------------------------------------------------------------


def test_a_dead_nodes_running_records_without_retries_left_are_marked_lost_and_not_run_again(
        node_factory, http_target, department):
    """record retry_times >= the task's retryCount: lost stays lost (only the task with a retry left re-runs)."""
    none_left = TaskFactory(department=department, url=http_target.url("/none"), name="none", status=0, max_retry=0)
    used_up = TaskFactory(department=department, url=http_target.url("/used"), name="used", status=0, max_retry=2)
    one_left = TaskFactory(department=department, url=http_target.url("/one"), name="one", status=0, max_retry=1)
    scheduled = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    dead_node("ghost")
    lost = [running_record(none_left, scheduled, "ghost"), running_record(used_up, scheduled, "ghost", retry_times=2),
            running_record(one_left, scheduled, "ghost")]
    recovered = metric("djs_scheduler_recovered_total")
    node_factory()

    def all_lost():
        for record in lost:
            record.refresh_from_db()
        return all(r.status == RecordStatus.LOST for r in lost)

    # Marking lost and inserting the RECOVERY records is one transaction: once lost is visible, so are they.
    wait_until(all_lost)
    assert all("ghost" in r.error and r.end_time is not None for r in lost)
    assert records_of(none_left, "RECOVERY") == [] and records_of(used_up, "RECOVERY") == []
    (rerun,) = wait_until(finished(one_left, 1, "RECOVERY"))
    assert (rerun.status, rerun.retry_times, rerun.scheduled_time) == (RecordStatus.SUCCESS, 1, scheduled)
    assert metric("djs_scheduler_recovered_total") - recovered == 1
    assert http_target.hits("/none") == 0 and http_target.hits("/used") == 0 and http_target.hits("/one") == 1
    assert [len(records_of(t)) for t in (none_left, used_up)] == [1, 1]
    assert SchedulerNode.objects.get(name="ghost").status == "dead"


def _clock_at(monkeypatch, local: datetime) -> datetime:
    """Run the node's clock (``scheduler.clock.utcnow``) from ``local`` (platform time zone) on; returns it in UTC."""
    fake = local.replace(tzinfo=ZoneInfo(settings.TIME_ZONE)).astimezone(UTC)
    offset = datetime.now(UTC) - fake
    monkeypatch.setattr(clock, "utcnow", lambda: datetime.now(UTC) - offset)
    return fake


@pytest.mark.parametrize("today", [
    None,                             # the real date
    datetime(2026, 12, 1, 0, 30),     # the 1st after a 30-day month: now - 31 days is in October
    datetime(2027, 3, 1, 0, 30),      # the 1st after February
], ids=["today", "december-1st", "march-1st"])
def test_recovery_finds_a_dead_nodes_running_record_in_last_months_table(
        node_factory, http_target, department, monkeypatch, today):
    now = _clock_at(monkeypatch, today) if today else datetime.now(UTC)
    month_start = now.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(day=1, hour=0, minute=0, second=0,
                                                                         microsecond=0)
    scheduled = (month_start - timedelta(hours=1)).astimezone(UTC)  # 23:00 on the last day of last month
    last_month = month_of(scheduled)
    assert last_month != month_of(now)
    ensure_record_table(*last_month)
    task = TaskFactory(department=department, url=http_target.url("/last-month"), status=0, max_retry=1)
    dead_node("ghost-last-month", now)
    lost = running_record(task, scheduled, "ghost-last-month")
    node_factory()

    (rerun,) = wait_until(finished(task, 1, "RECOVERY"))
    lost.refresh_from_db()
    assert lost.status == RecordStatus.LOST and "ghost-last-month" in lost.error
    assert (rerun.status, rerun.scheduled_time) == (RecordStatus.SUCCESS, scheduled)
    assert record_model(*last_month).objects.filter(task_id=task.pk).count() == 2  # both in last month's table
    assert [h.header("Idempotency-Key") for h in http_target.requests("/last-month")] == [key(task, scheduled)]


def test_a_waiting_fire_and_a_recovery_whose_records_share_an_id_in_two_month_tables_both_run(
        node_factory, http_target, department):
    """Record ids repeat across month tables (each numbers from 1). A fire of this month is claimed and waits
    for its instant; meanwhile a dead node's record of LAST month is recovered, and its RECOVERY record gets the
    same id in last month's table; it runs at once and finishes. Keyed by id alone, the recovery replaced the
    waiting fire in the node's table of running fires and took it along when it finished: the waiting fire
    never started and its record stayed running (found by the rollup test). Keyed by (month, id), both run."""
    now = datetime.now(UTC)
    month_start = now.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(day=1, hour=0, minute=0, second=0,
                                                                         microsecond=0)
    last_month_at = (month_start - timedelta(hours=1)).astimezone(UTC)
    due = (now + timedelta(seconds=10)).replace(microsecond=0)
    assert month_of(due) == month_of(now), "run again: this test needs 10 s left in the month"
    last, this = ensure_record_table(*month_of(last_month_at)), ensure_record_table(*month_of(due))
    # Above both tables' auto-increment counters (which deleted rows of earlier tests may have moved past the
    # highest id left): an explicit id there moves each counter to it, so both next ids are top + 1.
    top = max(_next_auto_id(m) for m in (last, this)) + 1000
    waiting = one_shot(department, http_target.url("/waiting"), due, name="waiting")
    recovered = TaskFactory(department=department, url=http_target.url("/recovered"), status=0, max_retry=1)
    # This month's next record id is top + 1 (a finished record of another task holds top) ...
    this.objects.create(id=top, task_id=recovered.pk, task_name="x", department_id=department.pk, task_type="HTTP",
                        trigger_type="MANUAL", scheduled_time=now, status=RecordStatus.SUCCESS, executor="n")
    # ... and so is last month's: the dead node's running record holds top there. The ghost falls silent now: the
    # node claims the waiting fire at about 4 s (lookahead 6 s), declares the ghost dead at about 7 s (node
    # timeout 7 s) and runs the recovery at once; the waiting fire's instant is 10 s.
    dead_node("ghost-same-id", now + timedelta(seconds=60))
    SchedulerNode.objects.filter(name="ghost-same-id").update(heartbeat_at=now)
    last.objects.create(id=top, task_id=recovered.pk, task_name=recovered.name, department_id=department.pk,
                        task_type="HTTP", trigger_type="SCHEDULE", scheduled_time=last_month_at,
                        start_time=last_month_at, status=RecordStatus.RUNNING, executor="ghost-same-id")
    node_factory(lookahead=6.0, node_timeout=7.0)

    (rerun,) = wait_until(finished(recovered, 1, "RECOVERY"), timeout=20)
    (fired,) = wait_until(finished(waiting, 1), timeout=20)
    assert rerun.end_time < fired.start_time, "the recovery finished while the other fire waited for its instant"
    assert (rerun.pk, fired.pk) == (top + 1, top + 1), "the two records share an id in their two tables"
    assert (rerun.status, fired.status) == (RecordStatus.SUCCESS, RecordStatus.SUCCESS)
    assert [h.header("Idempotency-Key") for h in http_target.requests("/waiting")] == [key(waiting, due)]


def _next_auto_id(model) -> int:
    """The id the table's next insert would get (insert a row, read its id, delete it)."""
    row = model.objects.create(task_id=0, task_name="probe", department_id=0, task_type="HTTP",
                               trigger_type="MANUAL", scheduled_time=datetime.now(UTC), status=RecordStatus.SUCCESS)
    pk = row.pk
    row.delete()
    return pk + 1


# --- heartbeats -----------------------------------------------------------------------------------------

def test_a_node_keeps_its_heartbeat_while_long_work_holds_its_control_thread(node_factory):
    """tests/test_faults.py's survivor once let its heartbeat lapse ~4 s while it recovered 130 executions: the
    heartbeat was one more call on the control thread, issued by the tick, and the tick was waiting for the
    recovery on that same thread. Long control work (here 3 s, longer than the node timeout would allow twice
    the heartbeat interval) must not delay the node's heartbeats."""
    node = node_factory(heartbeat_interval=0.3, node_timeout=3.0)
    busy = threading.Event()

    def long_control_work() -> None:  # what a recovery of many records does to the control thread
        busy.set()
        time.sleep(3.0)

    asyncio.run_coroutine_threadsafe(node.control.run(long_control_work), node.loop)
    assert busy.wait(5)
    beats = set()
    until = time.monotonic() + 2.0
    while time.monotonic() < until:
        beats.add(SchedulerNode.objects.get(pk=node.node_id).heartbeat_at)
        time.sleep(0.1)
    assert len(beats) >= 4, f"{len(beats)} heartbeat(s) in 2 s at a 0.3 s interval while the control thread was busy"


def test_a_node_whose_liveness_is_unconfirmed_claims_nothing_until_a_heartbeat_confirms_it(
        node_factory, http_target, department):
    """tests/test_rollups_cluster.py once ended with three records running forever: a frozen node, resumed,
    claimed due work on its first tick before its heartbeat (now a loop of its own) found it declared dead;
    the heartbeat then dropped all its work and re-registered under a new name, leaving those records
    "running" under the old one. A node whose liveness is unconfirmed (here: its last confirmation long ago and
    its heartbeat thread held busy) must claim nothing; once a heartbeat confirms it, the work runs."""
    node = node_factory(heartbeat_interval=0.3, node_timeout=3.0)
    held = threading.Event()

    def hold_heartbeats() -> None:  # the database answers the heartbeat late (or the process was frozen)
        held.set()
        time.sleep(2.5)

    asyncio.run_coroutine_threadsafe(node.beats.run(hold_heartbeats), node.loop)
    assert held.wait(5)
    node.loop.call_soon_threadsafe(setattr, node, "alive_at", time.monotonic() - 60)
    task = one_shot(department, http_target.url("/unconfirmed"), clock.utcnow() - timedelta(seconds=1))
    time.sleep(1.5)  # several ticks at a 0.2 s poll interval while the heartbeat is held
    assert records_of(task) == [], "a node with unconfirmed liveness claimed a due task"
    rows = wait_until(finished(task, 1))  # the held heartbeat returns, confirms the node, and it claims
    assert [row.status for row in rows] == [RecordStatus.SUCCESS]
