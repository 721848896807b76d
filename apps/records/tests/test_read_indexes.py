"""The record reads at volume use their indexes (docs/performance.md "Records at volume", migration records.0004).

What a user observes at 10M records is the time of a page; here, on a few thousand rows, the same plans are
asserted through what the database reports: rows touched (MariaDB handler counters) and index-only plans."""
import json
import math
from datetime import datetime, timedelta, timezone
from importlib import import_module

import pytest
from django.db import connection

from apps.records import rollups
from apps.records.models import RecordStatus, ensure_record_table, record_model
from conftest import Api
from tests.factories import TaskFactory, add_record
from tests.isolation import ACTOR_CODES

UTC = timezone.utc


@pytest.mark.django_db(transaction=True)
def test_migration_adds_the_task_index_to_older_month_tables_and_can_run_twice():
    """Month tables created before records.0004 (here: one with only id and task_id) get ix_<table>_taskid on
    (task_id, id); running the step again changes nothing."""
    migration = import_module("apps.records.migrations.0004_read_indexes")
    table, qn = "record_203102", connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {qn(table)} ({qn('id')} bigint NOT NULL PRIMARY KEY, {qn('task_id')} bigint)")
    try:
        for _ in range(2):
            with connection.schema_editor() as editor:
                migration.add_task_index(None, editor)
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        assert constraints[f"ix_{table}_taskid"]["columns"] == ["task_id", "id"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {qn(table)}")


@pytest.mark.django_db(transaction=True)
def test_a_new_month_table_has_the_task_index():
    ensure_record_table(2031, 3)
    try:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "record_203103")
        assert constraints["ix_record_203103_taskid"]["columns"] == ["task_id", "id"]
    finally:
        from apps.records.models import drop_record_table

        drop_record_table(2031, 3)


def _fill_month(org, *, tasks: int, runs: int) -> list[int]:
    """``runs`` records per task for ``tasks`` tasks of department A in 2026-02, interleaved in id order (every
    task runs every minute), inserted in bulk; returns the task ids."""
    model = ensure_record_table(2026, 2)
    ids = list(range(900_001, 900_001 + tasks))
    start = datetime(2026, 2, 1, tzinfo=UTC)
    rows = [model(task_id=t, task_name=f"t{t}", department_id=org.a.pk, task_type="HTTP", trigger_type="SCHEDULE",
                  scheduled_time=start + timedelta(minutes=i), status=RecordStatus.SUCCESS, success=True,
                  cost_time=10, executor="n")
            for i in range(runs) for t in ids]
    model.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE record_202602")
        cursor.fetchall()
    return ids


def _handler_reads(run) -> int:
    """Rows the server touched while ``run()`` ran (MariaDB's session Handler_read_* counters)."""
    def reads() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
            return sum(int(value) for _, value in cursor.fetchall())

    before = reads()
    run()
    return reads() - before


@pytest.mark.mariadb_only
@pytest.mark.django_db(transaction=True)
def test_a_tasks_newest_runs_read_only_their_page(org, empty_month_tables):
    """GET /records?taskId= (and a task's recent runs) newest first: the page reads about its own rows, not every
    run of the task in the month (before records.0004: all 200 of them, read through (task_id, status) and
    sorted; 10M records gave a task 1,000 runs and a cold page 143 ms)."""
    ids = _fill_month(org, tasks=50, runs=200)
    model = record_model(2026, 2)
    page = lambda: list(model.objects.filter(department_id__in=[org.a.pk], task_id=ids[3])  # noqa: E731
                        .order_by("-id").values_list("id", flat=True)[:21])
    rows = page()
    assert len(rows) == 21 and rows == sorted(rows, reverse=True)
    touched = _handler_reads(page)
    assert touched <= 3 * 21, touched
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN FORMAT=JSON SELECT id FROM record_202602 WHERE department_id IN (%s) AND task_id = %s "
                       "ORDER BY id DESC LIMIT 21", [org.a.pk, ids[3]])
        plan = json.loads(cursor.fetchone()[0])
    assert "filesort" not in json.dumps(plan), plan


def _plan(sql: str, params: list) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN FORMAT=JSON " + sql, params)
        return json.loads(cursor.fetchone()[0])


def _tables(plan) -> list[dict]:
    """Every ``table`` node of an EXPLAIN FORMAT=JSON plan."""
    found = []
    if isinstance(plan, dict):
        if "table_name" in plan:
            found.append(plan)
        for value in plan.values():
            found += _tables(value)
    elif isinstance(plan, list):
        for value in plan:
            found += _tables(value)
    return found


@pytest.mark.mariadb_only
@pytest.mark.django_db(transaction=True)
def test_rollup_reads_of_a_period_are_index_only(org):
    """Top failing tasks, list totals and a scope's histogram scan a period of one grain; with 2,000 tasks x 28
    days of cells they must read index entries only (at 10M records before the covering indexes: 77 ms and
    51 ms fetching every cell of the month by primary key)."""
    cells = rollups.Cells()
    for day in range(1, 29):
        for task in range(2000):
            status = RecordStatus.FAILED if task % 7 == 0 else RecordStatus.SUCCESS
            cells.add(org.a.pk if task % 2 else org.b.pk, 800_000 + task, f"t{task}",
                      datetime(2026, 2, day).date(), int(status), "SCHEDULE", "HTTP", 5 + task % 300)
    cells.write()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE record_rollup, record_rollup_cost")
        cursor.fetchall()
    scope = [org.a.pk, org.b.pk]
    marks = ", ".join(["%s"] * len(scope))
    reads = {
        "top failing": (f"SELECT key_id, SUM(count) FROM record_rollup WHERE grain = 2 AND period = '2026-02-01' "
                        f"AND status = 2 AND department_id IN ({marks}) GROUP BY key_id ORDER BY 2 DESC, 1 LIMIT 10",
                        scope),
        "list total": (f"SELECT SUM(count) FROM record_rollup WHERE grain = 1 AND period BETWEEN '2026-02-01' AND "
                       f"'2026-02-28' AND department_id IN ({marks}) AND status IN (1, 2, 3, 4, 5)", scope),
        "histogram": (f"SELECT bucket, SUM(count) FROM record_rollup_cost WHERE grain = 1 AND period BETWEEN "
                      f"'2026-02-01' AND '2026-02-28' AND department_id IN ({marks}) GROUP BY bucket", scope),
    }
    for name, (sql, params) in reads.items():
        tables = _tables(_plan(sql, params))
        assert tables, name
        assert all(t.get("using_index") for t in tables), (name, tables)
    # and the figures are right (what the dashboard shows)
    top = rollups.top_failing(month_first=datetime(2026, 2, 1).date(), department_ids=scope, limit=3)
    assert [t["failures"] for t in top] == [28, 28, 28]
    # A task's own cells (GET /records/stats?taskId=, a task's record total) are read through the unique index
    # (grain, key, ...): with the covering period index present the planner scanned every task cell of the month
    # for one task (359 ms at 10M records).
    days = (datetime(2026, 2, 1).date(), datetime(2026, 2, 28).date())
    for read in (lambda: rollups.daily(rollups.RollupGrain.TASK_DAY, periods=days, department_ids=scope,
                                       key_ids=[800_007]),
                 lambda: rollups.totals(rollups.RollupGrain.TASK_DAY, periods=days, department_ids=scope,
                                        key_ids=[800_007]),
                 lambda: rollups.count(periods=days, department_ids=scope, task_id=800_007)):
        assert _handler_reads(read) <= 200
    assert rollups.count(periods=days, department_ids=scope, task_id=800_007) == 28
    # The dashboard's month totals and p95, and a whole month's list total, read the department x month cells:
    # rows per department and bucket, not per department, day and bucket (27,241 cost rows at 10M records).
    month = (days[0], days[0])
    for read in (lambda: rollups.totals(rollups.RollupGrain.DEPARTMENT_MONTH, periods=month, department_ids=scope),
                 lambda: rollups.count(periods=days, department_ids=scope)):
        assert _handler_reads(read) <= 400
    assert _handler_reads(lambda: rollups.totals(rollups.RollupGrain.DEPARTMENT_DAY, periods=days,
                                                 department_ids=scope)) > 2000  # what the month grain saves
    assert rollups.count(periods=days, department_ids=scope) == 2000 * 28


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_months_their_department_month_cells_from_the_day_cells(org):
    """records.0010 derives the department x month cells of months rolled up before it from their department x
    day cells: the same cells the writer now adds (counts, cost sums, histograms), across two months."""
    from django.apps import apps as registry

    from apps.records.models import RollupCost, RollupCount
    migration = import_module("apps.records.migrations.0010_department_month_grain")
    cells = rollups.Cells()
    for day in (datetime(2026, 1, 31).date(), datetime(2026, 2, 1).date(), datetime(2026, 2, 17).date()):
        for task in range(12):
            status = RecordStatus.FAILED if task % 5 == 0 else RecordStatus.SUCCESS
            cells.add(org.a.pk if task % 3 else org.b.pk, 900_000 + task, f"t{task}", day, int(status),
                      "MANUAL" if task % 4 == 0 else "SCHEDULE", "HTTP", None if task == 7 else 3 + 11 * task,
                      n=1 + task % 2)
    cells.write()
    month_grain = rollups.RollupGrain.DEPARTMENT_MONTH

    def month_cells():
        return (sorted(RollupCount.objects.filter(grain=month_grain).values_list(
                    "key_id", "department_id", "period", "status", "trigger_type", "task_type", "count", "cost_sum",
                    "cost_count")),
                sorted(RollupCost.objects.filter(grain=month_grain).values_list(
                    "key_id", "department_id", "period", "bucket", "count")))
    written = month_cells()
    assert {row[2] for row in written[0]} == {datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date()}
    with connection.schema_editor() as editor:
        migration.remove_department_months(registry, editor)
    assert month_cells() == ([], [])
    for _ in range(2):  # a rerun changes nothing
        with connection.schema_editor() as editor:
            migration.add_department_months(registry, editor)
        assert month_cells() == written


@pytest.mark.django_db(transaction=True)
def test_a_tasks_stats_come_from_its_month_cell_and_equal_its_rows(org, empty_month_tables):
    """GET /records/stats?taskId=: month totals, average and p95 (from the task x month cell) and the daily
    series (task x day cells) equal what the raw rows say, per the caller's scope, for a task whose runs carry
    two departments (it moved on the 10th)."""
    task = TaskFactory(department=org.a, status=0, next_execute_time=None)
    costs = []
    for day in range(1, 21):
        department = org.b if day < 10 else org.a
        for n in range(3):
            cost = 7 * day + 13 * n
            status = RecordStatus.FAILED if (day + n) % 5 == 0 else RecordStatus.SUCCESS
            add_record(task_id=task.pk, task_name=task.name, department_id=department.pk, cost_time=cost,
                       status=status, scheduled_time=datetime(2026, 2, day, 3, n, tzinfo=UTC))
            if department == org.a:
                costs.append((cost, status))
    data = Api(org.member(org.a, ACTOR_CODES)).get("records/stats", year=2026, month=2, taskId=task.pk).expect(0).data
    assert data["total"] == len(costs) == 33
    assert data["successCount"] == sum(1 for _, s in costs if s == RecordStatus.SUCCESS)
    assert data["failCount"] == sum(1 for _, s in costs if s == RecordStatus.FAILED)
    assert data["avgCostTime"] == round(sum(c for c, _ in costs) / len(costs), 1)
    ordered = sorted(c for c, _ in costs)
    exact = ordered[math.ceil(0.95 * len(ordered)) - 1]
    assert abs(data["p95CostTime"] - exact) <= max(1, exact * 0.05)
    assert [d["total"] for d in data["daily"][:21]] == [0] * 9 + [3] * 11 + [0]
    everything = Api(org.admin).get("records/stats", year=2026, month=2, taskId=task.pk).expect(0).data
    assert everything["total"] == 60
