"""Crash semantics (DESIGN §14.2, docs/scheduling.md "Crash and recovery"): start marks, take-over of
never-started work, RECOVERY only for what may have reached its target, and the recovery flag on the wire.

Real nodes (``node_factory``) against real loopback targets; what is asserted is what a user or a target sees:
the record (API and rows), the calls that arrived and their headers/metadata.
"""
from __future__ import annotations

import ast
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError

from apps.records.models import RecordStatus, month_of, record_model
from apps.tasks.scheduler import repository
from apps.tasks.tests.test_executors import grpc_spec, run, spec
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until
from tests.targets import GrpcTarget, Respond

UTC = timezone.utc
pytestmark = pytest.mark.django_db(transaction=True)


def key(task, instant: datetime) -> str:
    return f"djs-{task.pk}-{int(instant.timestamp() * 1000)}"


def soon(seconds: float = 2.0) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def one_shot(department, url: str, at: datetime, **over):
    return TaskFactory(department=department, url=url, status=2, cron_expression="0 0 1 1 *", next_execute_time=at,
                       **over)


def dead_node(name: str):
    from apps.tasks.models import SchedulerNode

    stale = datetime.now(UTC) - timedelta(seconds=60)
    return SchedulerNode.objects.create(name=name, host="h", pid=1, started_at=stale, heartbeat_at=stale, status="up")


def claimed_record(task, scheduled: datetime, executor: str, *, started: bool, trigger: str = "SCHEDULE",
                   retry_times: int = 0):
    """A record the way a node leaves it: claimed (running), with or without its start mark."""
    return record_model(*month_of(scheduled)).objects.create(
        task_id=task.pk, task_name=task.name, department_id=task.department_id, task_type=task.task_type,
        trigger_type=trigger, scheduled_time=scheduled, start_time=scheduled if started else None,
        status=RecordStatus.RUNNING, executor=executor, retry_times=retry_times)


# --- start marks ------------------------------------------------------------------------------------------

def test_a_running_execution_shows_running_with_its_start_time(node_factory, http_target, department, admin_api):
    """The console's "Waiting for the whole run" report: while a 3 s call runs, the API says running with a
    start time (at or after the scheduled instant, before the call arrived)."""
    http_target.on("/slow", Respond(delay=3))
    at = soon(2)
    task = one_shot(department, http_target.url("/slow"), at)
    node_factory()
    http_target.wait_for(1, "/slow", timeout=10)
    arrived = datetime.fromtimestamp(http_target.requests("/slow")[0].arrived_wall, UTC)
    year, month = month_of(at)
    (row,) = admin_api.get("records", year=year, month=month, taskId=task.pk).expect(0).data["list"]
    assert row["status"] == 0 and row["startTime"] is not None, row
    started = datetime.fromisoformat(row["startTime"])
    assert at <= started <= arrived + timedelta(milliseconds=5), (at, started, arrived)
    (done,) = wait_until(finished(task, 1))
    assert done.status == RecordStatus.SUCCESS and done.start_time == started  # the start it showed while running


def test_a_fire_is_sent_only_after_its_start_mark_committed(node_factory, http_target, department, monkeypatch):
    """The first two mark UPDATEs fail: the fire waits and retries; the call arrives once, after the mark that
    committed, and the record carries that start."""
    original = repository.mark_started
    calls: list[float] = []
    committed: list[float] = []

    def flaky(fires, node):
        calls.append(time.time())
        if len(calls) <= 2:
            raise OperationalError("lost connection (injected before the start mark)")
        marked = original(fires, node)
        committed.append(time.time())
        return marked

    monkeypatch.setattr(repository, "mark_started", flaky)
    at = soon(2)
    task = one_shot(department, http_target.url("/once"), at)
    node_factory()
    (row,) = wait_until(finished(task, 1))
    assert row.status == RecordStatus.SUCCESS and row.start_time is not None
    assert len(calls) >= 3 and committed
    (request,) = http_target.requests("/once")
    assert request.arrived_wall >= committed[0]
    assert request.header("X-DJS-Recovery") is None


# --- recovery --------------------------------------------------------------------------------------------

def test_a_dead_nodes_never_started_work_is_taken_over_and_runs_once_as_a_first_attempt(
        node_factory, http_target, department, admin_api):
    """Claimed by a node that died before marking them: one due in the past (within misfireThreshold) and one
    still ahead. The survivor takes both over in one statement and runs each as a first attempt at its instant:
    same record, trigger SCHEDULE, retry 0, no recovery header, the same Idempotency-Key; nothing is lost."""
    task = TaskFactory(department=department, url=http_target.url("/never"), status=0, next_execute_time=None,
                       max_retry=1)
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    ahead = soon(4)
    dead_node("ghost-unstarted")
    rows = [claimed_record(task, past, "ghost-unstarted", started=False),
            claimed_record(task, ahead, "ghost-unstarted", started=False)]
    node = node_factory()
    done = wait_until(finished(task, 2), timeout=15)
    assert {r.pk for r in done} == {r.pk for r in rows}, "the same records ran, no new ones"
    for row in done:
        assert (row.status, row.trigger_type, row.retry_times) == (RecordStatus.SUCCESS, "SCHEDULE", 0)
        assert (row.executor, row.taken_over_from) == (node.name, "ghost-unstarted")
    requests = http_target.requests("/never")
    assert sorted(r.header("Idempotency-Key") for r in requests) == sorted([key(task, past), key(task, ahead)])
    assert all(r.header("X-DJS-Recovery") is None for r in requests)
    ahead_call = next(r for r in requests if r.header("Idempotency-Key") == key(task, ahead))
    assert ahead_call.arrived_wall >= ahead.timestamp(), "a taken-over fire still waits for its instant"
    assert records_of(task, "RECOVERY") == []
    year, month = month_of(past)
    listed = admin_api.get("records", year=year, month=month, taskId=task.pk).expect(0).data["list"]
    assert {r["takenOverFrom"] for r in listed} == {"ghost-unstarted"}


def test_never_started_work_past_the_misfire_threshold_follows_the_misfire_policy(
        node_factory, http_target, department):
    """misfire skip: ends skipped ("node <n> died before it started"), never called; fire_once: runs once."""
    skip = TaskFactory(department=department, url=http_target.url("/skip"), status=0, next_execute_time=None,
                       misfire_policy="skip", name="skip")
    once = TaskFactory(department=department, url=http_target.url("/once"), status=0, next_execute_time=None,
                       misfire_policy="fire_once", name="once")
    late = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)  # node_factory: misfireThreshold 5 s
    dead_node("ghost-late")
    claimed_record(skip, late, "ghost-late", started=False)
    claimed_record(once, late, "ghost-late", started=False)
    node_factory()
    (skipped,) = wait_until(finished(skip, 1))
    assert (skipped.status, skipped.error) == (RecordStatus.SKIPPED, "scheduler node ghost-late died before it started")
    assert skipped.taken_over_from == "ghost-late"
    (ran,) = wait_until(finished(once, 1))
    assert (ran.status, ran.trigger_type, ran.retry_times) == (RecordStatus.SUCCESS, "SCHEDULE", 0)
    assert http_target.hits("/skip") == 0 and http_target.hits("/once") == 1


def test_started_work_of_a_dead_node_is_lost_and_rerun_with_the_recovery_header_and_the_same_key(
        node_factory, http_target, department):
    task = TaskFactory(department=department, url=http_target.url("/started"), status=0, next_execute_time=None,
                       max_retry=1)
    scheduled = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
    dead_node("ghost-started")
    lost = claimed_record(task, scheduled, "ghost-started", started=True)
    node_factory()
    (rerun,) = wait_until(finished(task, 1, "RECOVERY"))
    lost.refresh_from_db()
    assert lost.status == RecordStatus.LOST and lost.taken_over_from is None
    assert (rerun.status, rerun.retry_times) == (RecordStatus.SUCCESS, 1)
    (request,) = http_target.requests("/started")
    assert request.header("X-DJS-Recovery") == "1"
    assert request.header("Idempotency-Key") == key(task, scheduled)


def test_the_recovery_flag_reaches_grpc_targets_as_metadata_and_a_task_cannot_forge_it(http_target):
    with GrpcTarget() as target:
        assert run(grpc_spec(target.service_target, recovery=True)).success
        assert run(grpc_spec(target.service_target)).success
        flagged, plain = target.calls("Echo")[-2:]
    assert flagged.metadata.get("djs-recovery") == "1" and "djs-recovery" not in plain.metadata
    http_target.on("/forge", status=200)
    run(spec(url=http_target.url("/forge"), headers={"X-DJS-Recovery": "1"}))
    assert http_target.requests("/forge")[-1].header("X-DJS-Recovery") is None


# --- shape ----------------------------------------------------------------------------------------------

def test_nothing_under_apps_tasks_imports_apps_alerts():
    """The scheduler owns its listener protocol; alerts register themselves (AlertsConfig.ready())."""
    root = Path(settings.BASE_DIR) / "apps" / "tasks"
    offenders = []
    for path in root.rglob("*.py"):
        if "tests" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(root)}: {n}" for n in names if n == "apps.alerts" or
                          n.startswith("apps.alerts.")]
    assert offenders == []
    from apps.tasks.scheduler import listeners

    assert "alerts" in listeners._factories  # and the alerts app did register its listener


def test_a_claim_whose_later_chunk_meets_an_existing_record_stores_every_other_fire_once(department):
    """Records are inserted in chunks without a savepoint (statement-level rollback on MariaDB and SQLite): a
    duplicate in the second chunk leaves the first chunk stored and the rest inserted one by one."""
    from django.db import transaction

    from apps.records.models import TriggerType, ensure_record_table
    from apps.tasks.scheduler.fires import TASK_FIELDS, Fire
    from apps.tasks.models import Task

    base = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    tasks = [TaskFactory(department=department, name=f"chunk-{i}") for i in range(3)]
    rows = list(Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("id").values(*TASK_FIELDS))
    instants = [base + timedelta(seconds=s) for s in range(repository.WRITE_CHUNK // 3 + 10)]
    fires = [Fire(task=row, scheduled=at, trigger=TriggerType.SCHEDULE) for at in instants for row in rows]
    assert len(fires) > repository.WRITE_CHUNK
    ensure_record_table(*month_of(base))
    taken = fires[repository.WRITE_CHUNK + 5]  # in the second chunk: recorded already by "another node"
    record_model(*month_of(base)).objects.create(
        task_id=taken.task["id"], task_name=taken.task["name"], department_id=department.pk, task_type="HTTP",
        trigger_type="SCHEDULE", scheduled_time=taken.scheduled, status=RecordStatus.RUNNING, executor="other")
    with transaction.atomic():
        duplicates = repository.insert_records(fires, "me")
    assert duplicates == 1 and taken.record_id == 0
    stored = [f for f in fires if f is not taken]
    assert all(f.record_id for f in stored)
    mine = record_model(*month_of(base)).objects.filter(executor="me")
    assert sorted(mine.values_list("id", flat=True)) == sorted(f.record_id for f in stored)
