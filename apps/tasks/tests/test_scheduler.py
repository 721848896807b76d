"""A real scheduler node (its own thread and event loop) against real HTTP targets and the test database."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from apps.records.models import RecordStatus, month_of, record_model
from apps.tasks import services
from apps.tasks.models import SchedulerNode, Task, TriggerRequest
from djs_platform.actor import Actor
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until
from tests.targets import Respond

UTC = timezone.utc
pytestmark = pytest.mark.django_db(transaction=True)


def test_every_second_task_fires_on_time_exactly_once_per_second(node_factory, http_target, department):
    task = TaskFactory(department=department, url=http_target.url("/tick"))
    node_factory()
    rows = wait_until(finished(task, 4), timeout=10)
    assert all(r.status == RecordStatus.SUCCESS and r.status_code == 200 for r in rows)
    hits = http_target.wait_for(4, "/tick")
    keys = [h.header("Idempotency-Key") for h in hits]
    assert len(keys) == len(set(keys)), "a scheduled second was called twice"
    scheduled = {f"djs-{task.pk}-{int(r.scheduled_time.timestamp() * 1000)}" for r in rows}
    assert scheduled <= set(keys)
    # Never early, and in schedule order; how late is the benchmarks' business (a loaded box is slow).
    fired = [int(hit.header("Idempotency-Key").rsplit("-", 1)[1]) / 1000 for hit in hits]
    assert all(hit.arrived_wall >= at for hit, at in zip(hits, fired)), "a fire reached the target before its time"
    assert fired == sorted(fired) and len(set(fired)) == len(fired)
    assert all(r.start_time >= r.scheduled_time for r in rows), "a run started before its scheduled time"
    task.refresh_from_db()
    assert task.last_execute_time is not None and task.next_execute_time > task.last_execute_time


def test_failed_call_retries_then_uses_nothing_else(node_factory, http_target, department):
    http_target.on("/flaky", Respond(status=500), Respond(status=200))
    task = TaskFactory(department=department, url=http_target.url("/flaky"), cron_expression="0 0 1 1 *", status=2,
                       next_execute_time=datetime.now(UTC) + timedelta(seconds=1), max_retry=2, retry_interval=1)
    node_factory()
    (row,) = wait_until(finished(task, 1))
    assert (row.status, row.retry_times, row.status_code, row.used_fallback) == (RecordStatus.SUCCESS, 1, 200, False)
    task.refresh_from_db()
    assert task.status == 0 and task.next_execute_time is None  # one-shot: disabled after its fire


def test_fallback_answers_when_primary_fails(node_factory, http_target, department):
    http_target.on("/down", status=503).on("/backup", status=200, body="from backup")
    task = TaskFactory(department=department, url=http_target.url("/down"), fallback_url=http_target.url("/backup"),
                       status=2, next_execute_time=datetime.now(UTC) + timedelta(seconds=1),
                       cron_expression="0 0 1 1 *")
    node_factory()
    (row,) = wait_until(finished(task, 1))
    assert (row.success, row.used_fallback, row.response) == (True, True, "from backup")
    assert http_target.requests("/down")[0].header("Idempotency-Key") == http_target.requests("/backup")[0].header(
        "Idempotency-Key")
    # The record lists both calls (the console's drawer shows "primary 503 -> fallback 200").
    calls = [(a["attempt"], a["target"], a["statusCode"], (a["error"] or "")[:8]) for a in row.attempts]
    assert calls == [(0, "primary", 503, "HTTP 503"), (0, "fallback", 200, "")], row.attempts
    assert all(isinstance(a["costMs"], int) and a["instance"] is None for a in row.attempts)


def test_a_single_call_keeps_no_attempt_list_and_many_retries_keep_twenty(node_factory, http_target, department):
    http_target.on("/ok", status=200).on("/bad", status=500)
    one = TaskFactory(department=department, url=http_target.url("/ok"), status=2, cron_expression="0 0 1 1 *",
                      next_execute_time=datetime.now(UTC) + timedelta(seconds=1))
    many = TaskFactory(department=department, url=http_target.url("/bad"), status=2, cron_expression="0 0 1 1 *",
                       max_retry=24, retry_interval=0, next_execute_time=datetime.now(UTC) + timedelta(seconds=1))
    node_factory()
    (single,) = wait_until(finished(one, 1))
    (retried,) = wait_until(finished(many, 1), timeout=15)
    assert single.attempts is None
    assert retried.retry_times == 24 and len(retried.attempts) == 20
    assert [a["attempt"] for a in retried.attempts] == [*range(19), 24]  # the first ones and the last


def test_manual_trigger_runs_now_with_overrides(node_factory, http_target, department, org):
    http_target.on("/echo", echo=True)
    task = TaskFactory(department=department, url=http_target.url("/echo"), status=0, http_method="POST",
                       body="original")
    node_factory()
    services.task_trigger(actor=Actor(user=org.admin), task_id=task.pk, overrides={"body": "override"})
    (row,) = wait_until(finished(task, 1, "MANUAL"))
    assert row.status == RecordStatus.SUCCESS and row.trigger_type == "MANUAL"
    assert http_target.requests("/echo")[0].text == "override"
    assert TriggerRequest.objects.get().claimed_by is not None


def test_kill_stops_a_running_execution_within_a_second(node_factory, http_target, department, org):
    http_target.on("/slow", hang=True)
    task = TaskFactory(department=department, url=http_target.url("/slow"), status=2, timeout=60,
                       cron_expression="0 0 1 1 *", next_execute_time=datetime.now(UTC) + timedelta(seconds=1))
    node_factory()
    http_target.wait_for(1, "/slow", timeout=10)
    asked = time.monotonic()
    services.task_kill(actor=Actor(user=org.admin), task_id=task.pk)
    (row,) = wait_until(finished(task, 1), timeout=5)
    assert time.monotonic() - asked < 1.5
    assert (row.status, row.success, row.error) == (RecordStatus.KILLED, False, "killed")


@pytest.mark.parametrize("policy, expected", [("skip", 0), ("fire_once", 1), ("fire_all", 10)])
def test_misfire_policies(node_factory, http_target, department, policy, expected):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    task = TaskFactory(department=department, url=http_target.url("/m"), cron_expression="* * * * *",
                       misfire_policy=policy, next_execute_time=now - timedelta(minutes=9))
    node_factory()
    wait_until(lambda: Task.objects.get(pk=task.pk).version > 0)
    # Only the missed instants count: a node started near a minute boundary may also run the next minute.
    def missed_rows():
        return [r for r in records_of(task) if r.scheduled_time <= now and r.status != RecordStatus.RUNNING]

    if expected:
        wait_until(lambda: len(missed_rows()) >= expected)
    else:
        time.sleep(1.0)
    rows = missed_rows()
    assert len(rows) == expected
    if policy == "fire_once":
        assert rows[0].scheduled_time == now  # the latest missed instant
    task.refresh_from_db()
    assert task.next_execute_time > datetime.now(UTC)


def test_forbid_skips_fires_while_the_previous_run_is_running(node_factory, http_target, department):
    http_target.on("/long", delay=2.6)
    task = TaskFactory(department=department, url=http_target.url("/long"), concurrency_policy="forbid")
    node_factory()
    rows = wait_until(finished(task, 3), timeout=12)
    statuses = [r.status for r in rows]
    assert RecordStatus.SKIPPED in statuses
    skipped = next(r for r in rows if r.status == RecordStatus.SKIPPED)
    assert "still running" in skipped.error


def test_replace_kills_the_previous_run(node_factory, http_target, department):
    http_target.on("/long", delay=10)
    task = TaskFactory(department=department, url=http_target.url("/long"), concurrency_policy="replace", timeout=30)
    node_factory()
    rows = wait_until(lambda: [r for r in records_of(task) if r.status == RecordStatus.KILLED] or None, timeout=10)
    assert rows[0].error == "killed"


def test_records_land_in_the_month_of_their_scheduled_time(node_factory, http_target, department):
    # Oct 31 23:59 and Nov 1 00:00 (UTC) missed, caught up with fire_all: two month tables.
    task = TaskFactory(department=department, url=http_target.url("/month"), cron_expression="0,59 0,23 1,31 10,11 *",
                       misfire_policy="fire_all", next_execute_time=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    node_factory()
    rows = wait_until(finished(task, 2))
    by_table = {(r.scheduled_time, month_of(r.scheduled_time)) for r in rows}
    assert (datetime(2026, 10, 31, 23, 59, tzinfo=UTC), (2026, 10)) in by_table
    assert (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), (2026, 11)) in by_table
    oct_ids = set(record_model(2026, 10).objects.filter(task_id=task.pk).values_list("scheduled_time", flat=True))
    assert datetime(2026, 10, 31, 23, 59, tzinfo=UTC) in oct_ids
    assert datetime(2026, 11, 1, 0, 0, tzinfo=UTC) not in oct_ids


def test_node_heartbeats_and_deregisters(node_factory):
    node = node_factory()
    first = SchedulerNode.objects.get(pk=node.node_id).heartbeat_at
    wait_until(lambda: SchedulerNode.objects.get(pk=node.node_id).heartbeat_at > first, timeout=5)
    node.stop()
    wait_until(lambda: SchedulerNode.objects.get(pk=node.node_id).status == "down", timeout=10)


def test_survivor_recovers_running_work_of_a_dead_node(node_factory, http_target, department):
    """A node that stops heartbeating: its running record is marked lost and re-run once (RECOVERY)."""
    http_target.on("/work", status=200)
    task = TaskFactory(department=department, url=http_target.url("/work"), status=0, max_retry=1)
    scheduled = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    model = record_model(*month_of(scheduled))
    stale = datetime.now(UTC) - timedelta(seconds=60)
    SchedulerNode.objects.create(name="ghost", host="h", pid=1, started_at=stale, heartbeat_at=stale, status="up")
    lost = model.objects.create(task_id=task.pk, task_name=task.name, department_id=department.pk,
                                task_type="HTTP", trigger_type="SCHEDULE", scheduled_time=scheduled,
                                start_time=scheduled, status=RecordStatus.RUNNING, executor="ghost")
    node_factory()
    (rerun,) = wait_until(finished(task, 1, "RECOVERY"))
    lost.refresh_from_db()
    assert lost.status == RecordStatus.LOST and "ghost" in lost.error
    assert rerun.status == RecordStatus.SUCCESS and rerun.scheduled_time == scheduled
    assert http_target.requests("/work")[0].header("Idempotency-Key") == (
        f"djs-{task.pk}-{int(scheduled.timestamp() * 1000)}")
    assert SchedulerNode.objects.get(name="ghost").status == "dead"


def test_nodes_api_shows_live_nodes_with_heartbeat_age(node_factory, org):
    from conftest import Api

    node = node_factory()
    rows = Api(org.admin).get("nodes").expect(0).data
    mine = next(r for r in rows if r["id"] == node.node_id)
    assert mine["alive"] is True and mine["status"] == "up" and mine["heartbeatAge"] < 3
    stale = datetime.now(UTC) - timedelta(seconds=120)
    SchedulerNode.objects.create(name="old", host="h", pid=1, started_at=stale, heartbeat_at=stale, status="up")
    old = next(r for r in Api(org.admin).get("nodes").expect(0).data if r["name"] == "old")
    assert old["alive"] is False and old["heartbeatAge"] >= 120


def test_trigger_through_the_api_produces_a_manual_record(node_factory, http_target, department, org):
    from conftest import Api

    http_target.on("/now", status=200)
    task = TaskFactory(department=department, url=http_target.url("/now"), status=0)
    node_factory()
    reply = Api(org.admin).post(f"tasks/{task.pk}/trigger", {}).expect(0).data
    assert reply["taskId"] == task.pk
    (row,) = wait_until(finished(task, 1, "MANUAL"))
    assert row.success is True
    listed = Api(org.admin).get("records", year=row.scheduled_time.year, month=row.scheduled_time.month,
                                taskId=task.pk, triggerType="MANUAL").expect(0).data
    assert [r["id"] for r in listed["list"]] == [row.pk]


def test_grpc_task_fires_through_reflection_and_records_json(node_factory, department):
    import json

    from tests.targets import GrpcTarget

    with GrpcTarget() as grpc_target:
        task = TaskFactory(department=department, url=None, task_type="GRPC", grpc_service=grpc_target.service_target,
                           grpc_method="Echo", grpc_params=json.dumps({"message": "hello"}), status=2,
                           cron_expression="0 0 1 1 *", next_execute_time=datetime.now(UTC) + timedelta(seconds=1))
        node_factory()
        (row,) = wait_until(finished(task, 1))
        assert row.status == RecordStatus.SUCCESS and row.status_code == 0
        reply = json.loads(row.response)
        assert reply["message"] == "hello"
        assert reply["idempotency_key"] == f"djs-{task.pk}-{int(row.scheduled_time.timestamp() * 1000)}"
        (call,) = grpc_target.calls("Echo")
        assert call.metadata["idempotency-key"] == reply["idempotency_key"]


def test_scheduler_exports_fire_lag_and_execution_metrics(node_factory, http_target, department):
    from prometheus_client import REGISTRY

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    before_fires = value("djs_scheduler_fires_total", trigger="SCHEDULE")
    before_ok = value("djs_executions_total", type="HTTP", status="success")
    before_lag = value("djs_schedule_lag_seconds_count", trigger="SCHEDULE")
    task = TaskFactory(department=department, url=http_target.url("/metered"))
    node_factory()
    wait_until(finished(task, 2))
    assert value("djs_scheduler_fires_total", trigger="SCHEDULE") - before_fires >= 2
    assert value("djs_executions_total", type="HTTP", status="success") - before_ok >= 2
    assert value("djs_schedule_lag_seconds_count", trigger="SCHEDULE") - before_lag >= 2
    assert value("djs_scheduler_live_nodes") >= 1
