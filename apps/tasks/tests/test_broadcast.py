"""Broadcast (route strategy ``broadcast``, docs/executors.md "Broadcast"): one fire reaches every live instance of
a name once, one record (shard) per instance, with shard headers and per-shard Idempotency-Keys; a lost shard is
re-run as the same shard on its instance; the task's children run once per fire; month tables made before get the
shard columns and the wider unique key from migration records.0009."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.db import IntegrityError, connection, transaction

from apps.executors.models import Executor
from apps.records.models import RecordStatus, TriggerType, drop_record_table, ensure_record_table, month_of
from apps.tasks.models import TaskChild, TriggerRequest
from apps.tasks.scheduler import execution, recovery
from apps.tasks.specs import TaskSpec
from djs_platform import errors
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until
from tests.targets import HttpTarget, free_port

GRPC = {"name": "fan", "department_id": 1, "cron": "*/5 * * * *", "status": 1, "grpc_method": "Run"}
HTTP = {"name": "fan", "department_id": 1, "cron": "*/5 * * * *", "status": 1, "http_method": "post"}


def test_broadcast_needs_a_registry_name_as_the_primary_target():
    with pytest.raises(errors.InvalidArgument) as exc:
        TaskSpec.from_values("HTTP", {**HTTP, "url": "http://127.0.0.1:9/run", "route_strategy": "broadcast"})
    assert "broadcast" in exc.value.fields["route_strategy"][0]
    with pytest.raises(errors.InvalidArgument) as exc:
        TaskSpec.from_values("GRPC", {**GRPC, "grpc_service": "127.0.0.1:9/orders.Billing",
                                      "route_strategy": "broadcast"})
    assert list(exc.value.fields) == ["route_strategy"]
    assert TaskSpec.from_values("HTTP", {**HTTP, "url": "executor://fan/run",
                                         "route_strategy": "broadcast"}).route_strategy == "broadcast"
    assert TaskSpec.from_values("GRPC", {**GRPC, "grpc_service": "orders.Billing",
                                         "route_strategy": "broadcast"}).route_strategy == "broadcast"


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_fire_reaches_each_live_instance_once_with_its_shard_and_runs_the_children_once(
        node_factory, department, http_target):
    now = datetime.now(UTC)
    with HttpTarget() as second, HttpTarget() as third:
        targets = [http_target, second, third]
        for target in targets:
            target.on("/run", status=200, body="ok")
            Executor.objects.create(department=department, name="fan", kind="http", address=target.base_url,
                                    source="self", ttl_seconds=30, last_heartbeat=now)
        # Its TTL ran out: not live, so no shard (a call there would be refused anyway).
        Executor.objects.create(department=department, name="fan", kind="http", address=f"http://127.0.0.1:{free_port()}",
                                source="self", ttl_seconds=5, last_heartbeat=now - timedelta(seconds=60))
        at = (now + timedelta(seconds=2)).replace(microsecond=0)
        task = TaskFactory(department=department, url="executor://fan/run", status=2, cron_expression="0 0 1 1 *",
                           next_execute_time=at, route_strategy="broadcast")
        child = TaskFactory(department=department, url=f"{http_target.base_url}/child", status=1,
                            cron_expression="0 0 1 1 *", next_execute_time=now + timedelta(days=300))
        http_target.on("/child", status=200, body="child")
        TaskChild.objects.create(parent=task, child=child, position=0)
        node_factory()
        records = wait_until(finished(task, 3), timeout=15)
        child_records = wait_until(finished(child, 1), timeout=15)
        hits = {target.base_url: target.requests("/run") for target in targets}

    assert sorted(r.shard for r in records) == [0, 1, 2]
    assert all(r.success and r.shard_total == 3 and r.trigger_type == TriggerType.SCHEDULE for r in records), \
        [(r.shard, r.error) for r in records]
    assert len({r.start_time for r in records}) == 1  # marked together, in one transaction
    assert {r.instance for r in records} == set(hits)
    ms = int(at.timestamp() * 1000)
    for record in records:
        hit, = hits[record.instance]  # each live instance exactly once
        assert hit.header("X-DJS-Shard-Index") == str(record.shard)
        assert hit.header("X-DJS-Shard-Total") == "3"
        assert hit.header("Idempotency-Key") == f"djs-{task.pk}-{ms}-s{record.shard}"
    # The children ran once for the fire (on shard 0's success), not once per shard.
    assert len(child_records) == 1 and child_records[0].trigger_type == TriggerType.CHILD
    assert TriggerRequest.objects.filter(task_id=child.pk).count() == 1
    shard0, = [r for r in records if r.shard == 0]
    assert child_records[0].parent_record_id == shard0.pk


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_with_no_live_instance_is_one_failed_record(node_factory, department):
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    task = TaskFactory(department=department, url="executor://nobody/run", status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=at, route_strategy="broadcast")
    node_factory()
    record, = wait_until(finished(task, 1), timeout=15)
    assert record.status == RecordStatus.FAILED and record.error == "no live executor for nobody"
    assert (record.shard, record.shard_total) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_a_lost_shard_is_rerun_as_the_same_shard_on_its_instance(department):
    scheduled = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    task = TaskFactory(department=department, url="executor://fan/run", status=1, max_retry=1,
                       route_strategy="broadcast")
    model = ensure_record_table(*month_of(scheduled))
    common = dict(task_id=task.pk, task_name=task.name, department_id=department.pk, task_type="HTTP",
                  trigger_type=TriggerType.SCHEDULE, scheduled_time=scheduled, status=RecordStatus.RUNNING,
                  executor="dead-node", start_time=scheduled, shard_total=2)
    model.objects.create(shard=0, instance="http://127.0.0.1:1001", **common)
    model.objects.create(shard=1, instance="http://127.0.0.1:1002", **common)
    # The unique key is per shard: a second shard 1 of the same fire is refused.
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(shard=1, instance="http://127.0.0.1:1003", **common)

    found = recovery.recover_records_of("dead-node", me="survivor", misfire_threshold=60)

    assert found.lost == 2 and found.rerun == 2
    by_shard = {fire.shard: fire for fire in found.fires}
    assert sorted(by_shard) == [0, 1]
    rerun = by_shard[1]
    assert (rerun.trigger, rerun.shard_total, rerun.pinned, rerun.recovery) == (
        TriggerType.RECOVERY, 2, "http://127.0.0.1:1002", True)
    spec = execution.plan_for(rerun, {})
    assert spec.idempotency_key == f"djs-{task.pk}-{int(scheduled.timestamp() * 1000)}-s1"
    assert (spec.shard, spec.pinned) == ((1, 2), "http://127.0.0.1:1002")
    stored = {r.shard: r for r in records_of(task, TriggerType.RECOVERY)}
    assert {s: (r.shard_total, r.instance, r.status) for s, r in stored.items()} == {
        0: (2, "http://127.0.0.1:1001", RecordStatus.RUNNING), 1: (2, "http://127.0.0.1:1002", RecordStatus.RUNNING)}


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_older_month_tables_the_shard_columns_and_the_wider_key_and_can_run_twice():
    migration = import_module("apps.records.migrations.0009_record_shard")
    model = ensure_record_table(2018, 3)
    table = model._meta.db_table
    qn = connection.ops.quote_name
    try:
        with connection.schema_editor(atomic=False) as editor:
            migration.drop_shards(None, editor)  # the table as records.0008 left it
        with connection.cursor() as cursor:
            columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            cursor.execute(f"INSERT INTO {qn(table)} (task_id, task_name, department_id, task_type, trigger_type, "
                           "scheduled_time, retry_times, used_fallback) VALUES "
                           "(1, 'old', 1, 'HTTP', 'SCHEDULE', '2018-03-01 00:00:00', 0, 0)")
            indexes_before = set(connection.introspection.get_constraints(cursor, table))
        assert "shard" not in columns
        for _ in range(2):  # a rerun changes nothing
            with connection.schema_editor(atomic=False) as editor:
                migration.add_shards(None, editor)
        with connection.cursor() as cursor:
            assert set(connection.introspection.get_constraints(cursor, table)) == indexes_before
            key = connection.introspection.get_constraints(cursor, table)[f"uq_{table}_fire"]
        assert key["unique"] and key["columns"] == ["task_id", "scheduled_time", "trigger_type", "shard"]
        old, = model.objects.all()
        assert (old.task_name, old.shard, old.shard_total) == ("old", 0, None)
        model.objects.create(task_id=1, task_name="old", department_id=1, task_type="HTTP",
                             trigger_type="SCHEDULE", scheduled_time=old.scheduled_time, shard=1, shard_total=2)
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.create(task_id=1, task_name="old", department_id=1, task_type="HTTP",
                                 trigger_type="SCHEDULE", scheduled_time=old.scheduled_time, shard=1)
    finally:
        drop_record_table(2018, 3)
