"""Record rollups equal what the raw rows say (DESIGN §14.1): after a real node's mixed workload, after
recovery, after a refused late flush, across a month boundary, and after ``rebuild_rollups``.

The raw side is recounted here independently (Python over every raw row), never through the rollup code.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from apps.records import rollups
from apps.records.models import (
    RecordStatus,
    RollupMonth,
    ensure_record_table,
    existing_record_tables,
    month_of,
    record_model,
)
from apps.tasks.models import SchedulerNode, Task, TaskChild
from tests.factories import TaskFactory
from tests.rollup_check import mismatch, rolled_cells
from tests.scheduling import wait_until
from tests.targets import Respond

UTC = timezone.utc


# --- the histogram --------------------------------------------------------------------------------------------

def test_a_bucket_stands_for_every_cost_in_it_within_5_percent_or_1_ms():
    for cost in list(range(0, 2000)) + [random.Random(7).randrange(2000, 2_000_000_000) for _ in range(5000)]:
        value = rollups.bucket_value(rollups.bucket_of(cost))
        assert abs(value - cost) <= max(1, 0.05 * cost), (cost, value)
    assert [rollups.bucket_of(c) for c in range(20)] == list(range(20))  # exact below 20 ms


def test_p95_from_the_histogram_is_within_5_percent_of_the_exact_nearest_rank():
    rng = random.Random(11)
    for _ in range(50):
        costs = [int(rng.lognormvariate(4, 1.5)) for _ in range(rng.randrange(1, 3000))]
        exact = sorted(costs)[math.ceil(0.95 * len(costs)) - 1]
        histogram: dict[int, int] = defaultdict(int)
        for cost in costs:
            histogram[rollups.bucket_of(cost)] += 1
        assert abs(rollups.p95(histogram) - exact) <= max(1, 0.05 * exact), (exact, rollups.p95(histogram))


# --- rollups == raw -------------------------------------------------------------------------------------------

def assert_rollups_match_raw() -> None:
    assert not (diff := mismatch()), diff


def previous_month_instant(now: datetime) -> datetime:
    year, month = month_of(now)
    first_local = datetime(year, month, 1, tzinfo=ZoneInfo(settings.TIME_ZONE))
    return (first_local - timedelta(hours=6)).astimezone(UTC).replace(microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_rollups_equal_raw_counts_after_a_mixed_workload_on_a_real_node(empty_month_tables, node_factory, http_target,
                                                                        org, admin_api):
    """Successes, failures with retries, fallbacks, a kill, forbid-skips, children, a dead node's records
    recovered in this month and the last (lost + RECOVERY, and lost with no retry left), and a late flush
    refused because a survivor declared the record lost first: the rollups count exactly the final rows."""
    t = http_target
    t.on("/ok", Respond(body="ok"))
    t.on("/bad", status=500)
    t.on("/slow", *[Respond(delay=1.5)] * 50)
    t.on("/hang", hang=True)
    now = datetime.now(UTC)
    soon = (now + timedelta(seconds=2)).replace(microsecond=0)
    dept_a, dept_b = org.a, org.b

    def every_second(dept, path, **over):
        return TaskFactory(department=dept, url=t.url(path), cron_expression="* * * * * *", **over)

    every_second(dept_a, "/ok", name="ok-a")
    every_second(dept_b, "/ok", name="ok-b")
    every_second(dept_a, "/bad", name="bad-retry", max_retry=1, retry_interval=0)
    every_second(dept_b, "/bad", name="bad-fallback", fallback_url=t.url("/ok"))
    every_second(dept_a, "/slow", name="forbid", concurrency_policy="forbid")
    parent = every_second(dept_b, "/ok", name="parent")
    child = TaskFactory(department=dept_b, url=t.url("/ok"), name="child", status=1, cron_expression="0 0 1 1 *",
                        next_execute_time=now + timedelta(days=400))
    TaskChild.objects.create(parent=parent, child=child, position=0)
    killed = TaskFactory(department=dept_a, url=t.url("/hang"), name="killed", status=2,
                         cron_expression="0 0 1 1 *", next_execute_time=soon, timeout=60)

    # A dead node's work: running records in this month and in the last, with and without retries left.
    last_month_at = previous_month_instant(now)
    ensure_record_table(*month_of(last_month_at))
    ghost_at = now - timedelta(seconds=60)
    SchedulerNode.objects.create(name="ghost", host="h", pid=1, started_at=ghost_at, heartbeat_at=ghost_at,
                                 status="up")
    recoverable = TaskFactory(department=dept_a, url=t.url("/ok"), name="recoverable", max_retry=1, status=0,
                              next_execute_time=None)
    hopeless = TaskFactory(department=dept_b, url=t.url("/ok"), name="hopeless", max_retry=0, status=0,
                           next_execute_time=None)
    for task, at in ((recoverable, now - timedelta(seconds=30)), (hopeless, now - timedelta(seconds=30)),
                     (recoverable, last_month_at), (hopeless, last_month_at)):
        record_model(*month_of(at)).objects.create(
            task_id=task.pk, task_name=task.name, department_id=task.department_id, task_type="HTTP",
            trigger_type="SCHEDULE", scheduled_time=at, start_time=at, status=RecordStatus.RUNNING, executor="ghost")

    node = node_factory()
    wait_until(lambda: _count(status=RecordStatus.SUCCESS) >= 30, timeout=20)
    wait_until(lambda: t.hits("/hang") >= 1, timeout=10)  # started (a claimed, not yet started fire runs after a kill)
    assert admin_api.post(f"/tasks/{killed.pk}/kill").code == 0

    # A late flush refused: a record this node runs is declared lost by a "survivor" (its own statement, with
    # its rollups) before the node's result arrives; the node's UPDATE changes nothing and adds nothing.
    late = TaskFactory(department=dept_a, url=t.url("/slow"), name="late", status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=(datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0))
    late_row = wait_until(lambda: _running_of(late), timeout=10)
    with transaction.atomic():
        model = record_model(*month_of(late_row.scheduled_time))
        assert model.objects.filter(pk=late_row.pk, status=RecordStatus.RUNNING).update(
            status=RecordStatus.LOST, success=False, end_time=datetime.now(UTC)) == 1
        rollups.add([rollups.Finished(late_row.department_id, late_row.task_id, late_row.task_name,
                                      late_row.scheduled_time, RecordStatus.LOST, late_row.trigger_type, None,
                                      late_row.task_type)])
    wait_until(lambda: not _running_of(late) and t.hits("/slow") >= 2, timeout=10)

    Task.objects.exclude(pk=killed.pk).update(status=0, next_execute_time=None)
    try:
        wait_until(lambda: _count(status=RecordStatus.RUNNING) == 0, timeout=20)
    except AssertionError:
        raise AssertionError([(r.task_name, r.trigger_type, r.scheduled_time, r.start_time, r.executor)
                              for r in _all_rows() if r.status == RecordStatus.RUNNING]) from None
    node.stop()

    # The workload produced every kind of final row this test is about.
    kinds = {(r.status, r.trigger_type) for name in existing_record_tables(refresh=True)
             for r in record_model(int(name[7:11]), int(name[11:13])).objects.all()}
    for kind in ((RecordStatus.SUCCESS, "SCHEDULE"), (RecordStatus.FAILED, "SCHEDULE"),
                 (RecordStatus.SKIPPED, "SCHEDULE"), (RecordStatus.KILLED, "SCHEDULE"),
                 (RecordStatus.LOST, "SCHEDULE"), (RecordStatus.SUCCESS, "RECOVERY"),
                 (RecordStatus.SUCCESS, "CHILD")):
        assert kind in kinds, (kind, kinds)
    assert record_model(*month_of(late_row.scheduled_time)).objects.get(pk=late_row.pk).status == RecordStatus.LOST
    assert record_model(*month_of(last_month_at)).objects.filter(status=RecordStatus.LOST).count() == 2
    assert_rollups_match_raw()

    # Rebuilding from the raw rows gives the same rollups, month by month.
    before = rolled_cells()
    for name in existing_record_tables(refresh=True):
        call_command("rebuild_rollups", year=int(name[7:11]), month=int(name[11:13]), chunk=7, verbosity=0)
    assert rolled_cells() == before


def _all_rows():
    for name in existing_record_tables(refresh=True):
        yield from record_model(int(name[7:11]), int(name[11:13])).objects.all()


def _count(**filters) -> int:
    return sum(record_model(int(n[7:11]), int(n[11:13])).objects.filter(**filters).count()
               for n in existing_record_tables(refresh=True))


def _running_of(task: Task):
    return next((row for row in _all_rows() if row.task_id == task.pk and row.status == RecordStatus.RUNNING), None)


# --- unbuilt months -------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_an_unbuilt_month_is_read_from_raw_rows_with_a_warning_until_rebuilt(empty_month_tables, org, admin_api):
    """What the migration leaves for months that existed before rollups: their stats come from the raw rows,
    say so, and after ``rebuild_rollups`` come from the rollups with the same figures."""
    year, month = 2025, 3
    model = ensure_record_table(year, month)
    task = TaskFactory(department=org.a, name="legacy", status=0, next_execute_time=None)
    at = datetime(2025, 3, 10, 12, tzinfo=UTC)
    for i, (status, cost) in enumerate([(1, 120), (1, 80), (2, 900), (4, None), (5, None)]):
        model.objects.create(task_id=task.pk, task_name=task.name, department_id=org.a.pk, task_type="HTTP",
                             trigger_type="SCHEDULE", scheduled_time=at + timedelta(seconds=i), status=status,
                             cost_time=cost, executor="n")
    RollupMonth.objects.update_or_create(month=202503, defaults={"state": RollupMonth.UNBUILT})
    raw = admin_api.get("/records/stats", year=year, month=month).expect(0).data
    assert "not built" in raw["warning"]
    assert (raw["total"], raw["successCount"], raw["failCount"], raw["skippedCount"], raw["lostCount"]) == (5, 2, 1, 1, 1)

    call_command("rebuild_rollups", verbosity=0)  # every unbuilt month
    assert rollups.month_state(year, month) == "built"
    rolled = admin_api.get("/records/stats", year=year, month=month).expect(0).data
    assert "warning" not in rolled
    assert rolled["timeZone"] == settings.TIME_ZONE  # the zone of the daily series' days (the console's "today")
    for key in ("total", "successCount", "failCount", "skippedCount", "lostCount", "successRate", "avgCostTime",
                "daily", "topFailingTasks", "timeZone"):
        assert rolled[key] == raw[key], key
    assert abs(rolled["p95CostTime"] - raw["p95CostTime"]) <= 0.05 * raw["p95CostTime"]
    assert rolled["daily"][9] == {"date": date(2025, 3, 10).isoformat(), "total": 5, "success": 2, "failed": 1}


# --- retention ------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_pruned_month_keeps_its_dashboard_until_rollup_keep_months_and_the_list_says_raw_pruned(
        empty_month_tables, org, admin_api):
    from apps.records.services import records_prune, rollups_prune
    from tests.factories import add_record

    task = TaskFactory(department=org.a, name="history", status=0, next_execute_time=None)
    for month, status in ((1, 1), (1, 2), (2, 1)):
        add_record(task_id=task.pk, task_name=task.name, department_id=org.a.pk,
                   scheduled_time=datetime(2025, month, 15, 12, status, tzinfo=UTC), status=status, cost_time=40)
    now = datetime(2025, 6, 10, tzinfo=UTC)
    assert records_prune(keep_months=5, now=now) == ["record_202501"]  # February..June kept

    listed = admin_api.get("/records", year=2025, month=1).expect(0).data
    assert (listed["total"], listed["list"], listed["rawPruned"]) == (0, [], True)
    stats = admin_api.get("/records/stats", year=2025, month=1).expect(0).data
    assert (stats["total"], stats["successCount"], stats["failCount"]) == (2, 1, 1)  # the rollups stayed
    assert "rawPruned" not in admin_api.get("/records", year=2025, month=2).expect(0).data

    # Rollups older than rollupKeepMonths go, except a month whose raw table still exists.
    assert rollups_prune(keep_months=3, now=now) == [202501]  # February is older too, but its rows are kept
    assert admin_api.get("/records/stats", year=2025, month=1).expect(0).data["total"] == 0
    assert admin_api.get("/records/stats", year=2025, month=2).expect(0).data["total"] == 1


def test_start_up_refuses_rollup_keep_months_below_keep_months():
    import os
    import subprocess
    import sys

    from djs_platform.config import BASE_DIR

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    env.update(DJS_DEBUG="true", DJS_RECORDS_KEEP_MONTHS="12", DJS_RECORDS_ROLLUP_KEEP_MONTHS="6")
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "check"], env=env, cwd=BASE_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: records.rollupKeepMonths (6) is below records.keepMonths (12): the dashboard would lose months "
        "whose records are still kept; set it to at least keepMonths, or 0 (forever)"]


@pytest.mark.mariadb_only
@pytest.mark.django_db(transaction=True)
def test_rebuild_refreshes_the_rollup_tables_statistics(empty_month_tables, org):
    """After a rebuild the planner must know the rollup tables' new size (a restart before InnoDB's background
    recalculation left them planned as empty: make bench-records, docs/performance.md)."""
    import time

    from django.db import connection

    from tests.factories import add_record

    task = TaskFactory(department=org.a, status=0, next_execute_time=None)
    add_record(task_id=task.pk, task_name=task.name, department_id=org.a.pk,
               scheduled_time=datetime(2026, 2, 3, 4, 5, tzinfo=UTC))

    def analyzed() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_name, last_update FROM mysql.innodb_table_stats WHERE database_name = %s "
                           "AND table_name IN ('record_rollup', 'record_rollup_cost')",
                           [connection.settings_dict["NAME"]])
            return dict(cursor.fetchall())

    before = analyzed()
    time.sleep(1.1)  # last_update has whole seconds
    call_command("rebuild_rollups", year=2026, month=2, verbosity=0)
    after = analyzed()
    assert set(after) == {"record_rollup", "record_rollup_cost"}
    assert all(after[name] > before.get(name, datetime.min) for name in after), (before, after)
