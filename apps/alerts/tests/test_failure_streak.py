"""The consecutive-failures condition counts a task's latest finished runs (docs/alerts.md): what it counts, and
that counting stays bounded by the policy's N however many runs the task has (docs/records.md, "at volume")."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from apps.alerts.services import failure_streak
from apps.records.models import RecordStatus, ensure_record_table
from tests.factories import TaskFactory, add_record

UTC = timezone.utc
S = RecordStatus
pytestmark = pytest.mark.django_db


def runs(task, start: datetime, statuses) -> list:
    return [add_record(task_id=task.pk, task_name=task.name, department_id=task.department_id,
                       scheduled_time=start + timedelta(seconds=i), status=status)
            for i, status in enumerate(statuses)]


def test_a_streak_counts_failed_and_lost_runs_back_to_the_last_success(department):
    task = TaskFactory(department=department)
    rows = runs(task, datetime(2026, 3, 10, tzinfo=UTC),
                [S.FAILED, S.SUCCESS, S.FAILED, S.SKIPPED, S.LOST, S.KILLED, S.FAILED, S.RUNNING])
    latest_final = rows[6]
    assert failure_streak(task.pk, 2026, 3, latest_final.pk, 10) == 3  # skipped and killed neither break nor count
    assert failure_streak(task.pk, 2026, 3, rows[4].pk, 10) == 2       # as of an earlier record
    assert failure_streak(task.pk, 2026, 3, latest_final.pk, 2) == 2   # at most `limit` runs back
    assert failure_streak(task.pk, 2026, 3, rows[1].pk, 10) == 0


def test_a_streak_continues_into_the_previous_months_tables(department):
    task = TaskFactory(department=department)
    other = TaskFactory(department=department)
    runs(task, datetime(2026, 1, 31, 23, 0, tzinfo=UTC), [S.SUCCESS, S.FAILED])
    runs(other, datetime(2026, 2, 10, tzinfo=UTC), [S.FAILED] * 3)  # another task's failures never count
    ensure_record_table(2026, 2)  # an empty month in between
    (march,) = runs(task, datetime(2026, 3, 1, tzinfo=UTC), [S.FAILED])
    assert failure_streak(task.pk, 2026, 3, march.pk, 5) == 2


@pytest.mark.mariadb_only
def test_counting_a_streak_reads_a_bounded_number_of_rows_however_many_runs_the_task_has(department):
    """The reported cost: ``status IN (success, failed, lost) ORDER BY id DESC`` either walked the primary key
    back through every other task's runs or sorted every run of this task (MariaDB read thousands of rows below
    for a streak of 3). Counted with the server's own handler counters, not timed."""
    task = TaskFactory(department=department)
    busy = TaskFactory(department=department)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    model = ensure_record_table(2026, 3)

    def bulk(of, count, offset):
        model.objects.bulk_create([
            model(task_id=of.pk, task_name=of.name, department_id=of.department_id, task_type="HTTP",
                  trigger_type="SCHEDULE", scheduled_time=start + timedelta(seconds=offset + i),
                  status=S.SUCCESS if i % 3 else S.FAILED, cost_time=5) for i in range(count)], batch_size=1000)

    bulk(task, 1500, 0)       # the task's own history, ending in a success
    bulk(busy, 3000, 10_000)  # then a busy task's runs
    latest = runs(task, start + timedelta(hours=5), [S.FAILED, S.LOST, S.FAILED])[-1]
    with connection.cursor() as cursor:
        cursor.execute("FLUSH STATUS")
        streak = failure_streak(task.pk, 2026, 3, latest.pk, 4)
        cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
        reads = {name: int(value) for name, value in cursor.fetchall()}
    assert streak == 3
    rows_read = sum(v for k, v in reads.items() if k in (
        "Handler_read_key", "Handler_read_next", "Handler_read_prev", "Handler_read_rnd", "Handler_read_rnd_next",
        "Handler_read_last"))
    assert rows_read <= 40, reads
