"""SHELL run logs carry the record's month (issue 16, finding 9): record ids repeat across month tables, so
``task_<id>_record_<id>.log`` made a record of last month serve this month's output, and pruning last month deleted
this month's log. Logs named the old way are served (and pruned) only for the record that wrote them."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from apps.records import runlogs
from apps.records.models import (
    RecordStatus,
    ensure_record_table,
    existing_record_tables,
    record_model,
    table_name,
)
from apps.records.services import records_prune
from apps.tasks.executors import ExecutionPlan, Executors, execute
from conftest import shell_settings
from djs_platform.egress import EgressPolicy

UTC = timezone.utc
pytestmark = pytest.mark.django_db(transaction=True)
JANUARY, FEBRUARY = datetime(2018, 1, 20, 10, tzinfo=UTC), datetime(2018, 2, 3, 10, tzinfo=UTC)


@pytest.fixture
def log_dir(settings, tmp_path):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, log_dir=tmp_path)
    yield tmp_path
    for year, month in ((2018, 1), (2018, 2)):
        if table_name(year, month) in existing_record_tables(refresh=True):
            record_model(year, month).objects.filter(task_id=9).delete()


def shell_record(scheduled: datetime, department_id: int, record_id: int = 5):
    """A finished SHELL record with a chosen id in the month table of ``scheduled`` (ids repeat across months)."""
    model = ensure_record_table(scheduled.year, scheduled.month)
    return model.objects.create(
        id=record_id, task_id=9, task_name="report", department_id=department_id, task_type="SHELL", trigger_type="SCHEDULE",
        scheduled_time=scheduled, start_time=scheduled, end_time=scheduled + timedelta(seconds=2),
        status=RecordStatus.SUCCESS, success=True, status_code=0, cost_time=2000, retry_times=0, executor="n")


def run_shell(scheduled: datetime, record_id: int, word: str, directory) -> None:
    """Run ``echo <word>`` for that record the way a node does (the executor writes the log)."""
    spec = ExecutionPlan.of(
        task_id=9, task_type="SHELL", url=None, http_method="GET", headers={}, body=None, fallback_url=None,
        grpc_service=None, grpc_method=None, grpc_params=None, fallback_grpc_service=None,
        fallback_grpc_method=None, timeout=10, max_retry=0, retry_interval=0,
        idempotency_key=f"djs-9-{int(scheduled.timestamp() * 1000)}", record_id=record_id,
        shell_command="/bin/echo", shell_args=(word,))

    async def main():
        async with Executors(http_workers=1, grpc_workers=1, egress=EgressPolicy(),
                             shell=shell_settings(enabled=True, log_dir=directory)) as executors:
            return await execute(spec, executors)

    outcome = asyncio.run(main())
    assert outcome.success, outcome.error


def served(admin_api, scheduled: datetime, record_id: int = 5) -> dict:
    return admin_api.get(f"records/{record_id}/log?year={scheduled.year}&month={scheduled.month}").expect(0).data


def keep_from_february_2018() -> int:
    now = datetime.now(UTC)
    return (now.year - 2018) * 12 + now.month - 1  # the current month counts: keeps 2018-02 onwards


def test_records_with_the_same_id_in_two_months_keep_their_own_logs(admin_api, org, log_dir):
    shell_record(JANUARY, org.a.pk)
    shell_record(FEBRUARY, org.a.pk)
    run_shell(JANUARY, 5, "january", log_dir)
    run_shell(FEBRUARY, 5, "february", log_dir)

    january, february = served(admin_api, JANUARY), served(admin_api, FEBRUARY)
    assert "january" in january["content"] and "february" not in january["content"]
    assert "february" in february["content"] and "january" not in february["content"]

    records_prune(keep_months=keep_from_february_2018())  # drops 2018-01 (and older), keeps 2018-02
    assert table_name(2018, 1) not in existing_record_tables(refresh=True)
    february = served(admin_api, FEBRUARY)
    assert february["exists"] and "february" in february["content"]
    assert sorted(p.name for p in log_dir.iterdir()) == ["task_9_record_201802_5.log"]


def test_a_log_named_the_old_way_is_served_only_to_the_record_that_wrote_it(admin_api, org, log_dir):
    shell_record(JANUARY, org.a.pk)
    shell_record(FEBRUARY, org.a.pk)
    legacy = runlogs.legacy_log_path(log_dir, 9, 5)
    legacy.write_text(f"=== attempt 0 at {JANUARY:%Y-%m-%dT%H:%M:%SZ}: /bin/echo old\nold output\n")

    assert "old output" in served(admin_api, JANUARY)["content"]
    assert served(admin_api, FEBRUARY)["exists"] is False  # same id, another month: not its log

    records_prune(keep_months=keep_from_february_2018())
    assert not legacy.exists()  # January's own legacy log went with its month


def test_pruning_a_month_keeps_a_legacy_log_of_another_month(admin_api, org, log_dir):
    shell_record(JANUARY, org.a.pk)
    shell_record(FEBRUARY, org.a.pk)
    legacy = runlogs.legacy_log_path(log_dir, 9, 5)
    legacy.write_text(f"=== attempt 0 at {FEBRUARY + timedelta(seconds=1):%Y-%m-%dT%H:%M:%SZ}: x\nfebruary\n")

    records_prune(keep_months=keep_from_february_2018())
    assert legacy.exists()
    assert "february" in served(admin_api, FEBRUARY)["content"]


def test_the_log_month_is_the_scheduled_month_in_the_platform_time_zone(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    late_utc = int(datetime(2026, 1, 31, 20, tzinfo=UTC).timestamp() * 1000)  # 2026-02-01 04:00 in Shanghai
    assert runlogs.record_month(late_utc) == (2026, 2)
    assert runlogs.log_name(year=2026, month=2, task_id=3, record_id=41) == "task_3_record_202602_41.log"
