"""PlainOutput gives exactly what the DRF serializer gives (djs_platform/output.py): records with every column
null and every column set, read back from the database, in UTC and in another current time zone; a task with
its department relation, JSON and list fields and a method field."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as django_timezone

from apps.records.api.serializers import RecordOutput
from apps.records.models import RecordStatus, record_model
from apps.tasks.api.serializers import TaskOutput
from apps.tasks.selectors import task_get
from djs_platform.output import PlainOutput
from tests.factories import TaskFactory, add_record

pytestmark = pytest.mark.django_db(transaction=True)


def _same(plain, drf) -> None:
    # Equal values and types, and the same JSON on the wire (key order included).
    assert plain == drf
    assert json.dumps(plain) == json.dumps(drf)


def test_records_every_column_null_and_set(org, empty_month_tables):
    task = TaskFactory(department=org.a, status=0, next_execute_time=None)
    at = datetime(2026, 3, 14, 1, 59, 26, 535000, tzinfo=timezone.utc)
    add_record(task_id=task.pk, task_name=task.name, department_id=org.a.pk, scheduled_time=at,
               status=RecordStatus.RUNNING, cost_time=None, start_time=None, end_time=None, success=None,
               status_code=None, executor=None)
    add_record(task_id=task.pk, task_name="名前 ✓", department_id=org.a.pk, scheduled_time=at + timedelta(seconds=1),
               status=RecordStatus.FAILED, trigger_type="CHILD", cost_time=1234, response='{"a": 1}', error="boom",
               retry_times=2, used_fallback=True, parent_record_id=7, parent_month=202602, shard=1, shard_total=3,
               instance="i-1", taken_over_from="node-x",
               attempts=[{"attempt": 1, "target": "http://x", "statusCode": 500, "costMs": 3, "error": "e"}])
    rows = list(record_model(2026, 3).objects.order_by("id"))
    plain = PlainOutput(RecordOutput)
    _same(plain.many(rows), [dict(r) for r in RecordOutput(rows, many=True).data])
    with django_timezone.override("Asia/Shanghai"):  # DRF writes the current zone; so must the mapping
        _same(plain.one(rows[1]), dict(RecordOutput(rows[1]).data))
        assert plain.one(rows[1])["scheduledTime"].endswith("+08:00")
    assert plain.one(rows[0])["startTime"] is None and plain.one(rows[1])["parentYear"] == 2026


def test_a_task_with_relations_json_lists_and_a_method_field(org):
    child = TaskFactory(department=org.a)
    task = TaskFactory(department=org.a, headers={"X-A": "1"}, next_execute_time=None)
    task.child_links.create(child=child, position=0)
    loaded = task_get(user=org.admin, task_id=task.pk)
    _same(PlainOutput(TaskOutput).one(loaded), dict(TaskOutput(loaded).data))


def test_a_task_list_page_with_health_and_last_runs(org, empty_month_tables):
    """GET /tasks rows (TaskListOutput: nested health, a nested last run or null, lists and dicts of strings)
    through the view's mapping equal DRF's, and the view answers them."""
    from apps.tasks.api.serializers import TaskListOutput
    from apps.tasks.api.views import TASK_ROWS
    from apps.tasks.selectors import task_list, task_page_details
    from conftest import Api

    now = django_timezone.now()
    ran = TaskFactory(department=org.a, task_type="SHELL", shell_command="/bin/echo", shell_args=["a", "b"],
                      shell_env={"K": "v"}, url=None)
    idle = TaskFactory(department=org.a1, headers=None)
    ran.child_links.create(child=idle, position=0)
    add_record(task_id=ran.pk, task_name=ran.name, department_id=org.a.pk, scheduled_time=now - timedelta(minutes=1),
               status=RecordStatus.SUCCESS)
    rows = list(task_list(user=org.admin).filter(pk__in=[ran.pk, idle.pk]))
    task_page_details(user=org.admin, tasks=rows)
    plain = TASK_ROWS.many(rows)
    _same(plain, [dict(r) for r in TaskListOutput(rows, many=True).data])
    by_id = {row["id"]: row for row in plain}
    assert by_id[ran.pk]["health"]["lastRun"]["status"] == RecordStatus.SUCCESS
    assert by_id[idle.pk]["health"]["lastRun"] is None and by_id[ran.pk]["childTaskIds"] == [idle.pk]
    assert by_id[ran.pk]["shellArgs"] == ["a", "b"] and by_id[ran.pk]["shellEnv"] == {"K": "v"}
    listed = Api(org.admin).get("tasks", size=100).expect(0).data["list"]
    assert [row for row in listed if row["id"] in by_id] == plain
