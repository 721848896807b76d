"""The task list answers "is it healthy?" (issue 20): per row the last 7 days from the rollups, the executions
running now and the last run, scoped like records; and export / import of the declarative YAML."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from apps.records.models import RecordStatus
from apps.tasks.models import Task, TaskChild
from apps.tasks.services import AUDITED_FIELDS
from conftest import Api
from tests.factories import TaskFactory, add_record

S, F, RUN, KILLED = RecordStatus.SUCCESS, RecordStatus.FAILED, RecordStatus.RUNNING, RecordStatus.KILLED


def _row(api: Api, task_id: int, **params) -> dict:
    rows = api.get("tasks", size=100, **params).expect(0).data["list"]
    return next(row for row in rows if row["id"] == task_id)


def _run(task: Task, when, status: int, department_id: int | None = None, **fields):
    return add_record(task_id=task.pk, task_name=task.name, department_id=department_id or task.department_id,
                      scheduled_time=when, status=status, **fields)


def test_list_rows_show_seven_days_running_and_last_run(org, admin_api):
    now = timezone.now()
    task = TaskFactory(department=org.a, name="healthy-ish", status=1)
    quiet = TaskFactory(department=org.a, name="never-ran", status=1)
    for days, status in ((0, S), (1, S), (2, F), (3, S), (6, KILLED), (8, F), (20, S)):
        _run(task, now - timedelta(days=days, minutes=5), status)
    _run(task, now - timedelta(seconds=30), RUN, end_time=None)  # started, still running
    last = _run(task, now - timedelta(seconds=1), RUN, start_time=None, end_time=None)  # claimed, not started
    health = _row(admin_api, task.pk)["health"]
    # 8 days ago is outside the window (today and the 6 days before); 6 days ago is inside, whatever the hour
    assert {k: health[k] for k in ("runs", "successCount", "failCount", "successRate", "running")} == {
        "runs": 5, "successCount": 3, "failCount": 1, "successRate": 0.75, "running": 1}
    assert health["lastRun"]["id"] == last.pk and health["lastRun"]["status"] == RUN
    assert health["lastRun"]["startTime"] is None
    assert _row(admin_api, quiet.pk)["health"] == {"runs": 0, "successCount": 0, "failCount": 0,
                                                   "successRate": None, "running": 0, "lastRun": None}


def test_health_counts_only_records_of_the_user_s_scope(org, admin_api):
    """A task that moved from B to A keeps B's records in B: a user of A does not see them, the admin does."""
    now = timezone.now()
    task = TaskFactory(department=org.a, name="moved-in", status=1)
    _run(task, now - timedelta(hours=3), S)
    _run(task, now - timedelta(hours=2), F, department_id=org.b.pk)  # before the move, in B
    _run(task, now - timedelta(minutes=50), RUN, department_id=org.b.pk, end_time=None)
    newest = _run(task, now - timedelta(minutes=40), S, department_id=org.b.pk)
    viewer = Api(org.member(org.a, {"task:view"}))
    mine = _row(viewer, task.pk)["health"]
    assert (mine["runs"], mine["successCount"], mine["failCount"], mine["running"]) == (1, 1, 0, 0)
    assert mine["lastRun"] is None  # the newest run is B's
    everything = _row(admin_api, task.pk)["health"]
    assert (everything["runs"], everything["failCount"], everything["running"]) == (3, 1, 1)
    assert everything["lastRun"]["id"] == newest.pk
    outsider = Api(org.member(org.b, {"task:view"}))
    assert task.pk not in {row["id"] for row in outsider.get("tasks", size=100).expect(0).data["list"]}


# --- export and import ------------------------------------------------------------------------------------

def _make_tasks(api: Api, department_id: int) -> dict[str, dict]:
    child = api.post("tasks/grpc", {"name": "grpc-child", "departmentId": department_id, "cron": "0 3 * * *",
                                    "status": 0, "grpcService": "127.0.0.1:50051/djs.test.Target",
                                    "grpcMethod": "Echo", "grpcParams": {"b": [1, 2.5, None], "a": "yes"},
                                    "fallbackGrpcService": "127.0.0.1:50052/djs.test.Target"}).expect(0).data
    http = api.post("tasks/http", {"name": "http: parent", "departmentId": department_id,
                                   "description": "line one\nline two", "cron": "0 */5 * * * *",
                                   "timezone": "Europe/Berlin", "status": 1, "url": "http://127.0.0.1:9/run",
                                   "httpMethod": "POST", "headers": {"X-Token": "007", "on": "yes"},
                                   "body": '{"full": true}\n', "fallbackUrl": "http://127.0.0.1:9/fb",
                                   "retryCount": 2, "retryInterval": 5, "timeout": 12,
                                   "concurrencyPolicy": "forbid", "misfirePolicy": "fire_once",
                                   "childTaskIds": [child["id"]]}).expect(0).data
    shell = api.post("tasks/shell", {"name": "备份 shell", "departmentId": department_id, "cron": "@every 10m",
                                     "status": 0, "shellCommand": "/bin/echo", "shellArgs": ["", " a b ", "0123"],
                                     "shellEnv": {"MODE": "2024-01-01"}}).expect(0).data
    return {"child": child, "http": http, "shell": shell}


def _columns(task_id: int) -> dict:
    task = Task.objects.get(pk=task_id)
    values = {field: getattr(task, field) for field in AUDITED_FIELDS}
    values.update(task_type=task.task_type, route_strategy=task.route_strategy,
                  children=list(TaskChild.objects.filter(parent=task).order_by("position")
                                .values_list("child_id", flat=True)))
    return values


def test_export_then_apply_makes_identical_tasks(org, admin_api, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)
    made = _make_tasks(admin_api, org.a.pk)
    ids = sorted(t["id"] for t in made.values())
    before = {pk: _columns(pk) for pk in ids}
    exported = admin_api.get("tasks/export", ids=",".join(map(str, reversed(ids)))).expect(0).data
    assert exported["count"] == 3 and exported["filename"].endswith(".yaml")
    document = yaml.safe_load(exported["document"])
    assert [entry["name"] for entry in document["tasks"]] == ["grpc-child", "http: parent", "备份 shell"]
    assert {entry["department"] for entry in document["tasks"]} == {f"{org.hq.name}/A"}  # the admin sees the path

    # applied where they exist: nothing to do
    report = admin_api.post("tasks/import", {"document": exported["document"]}).expect(0).data
    assert (report["created"], report["updated"], len(report["unchanged"])) == ([], [], 3)
    assert {pk: _columns(pk) for pk in ids} == before

    # applied after two of them were deleted: created again, column for column (the child stays: its id)
    for key in ("http", "shell"):
        admin_api.delete(f"tasks/{made[key]['id']}").expect(0)
    report = admin_api.post("tasks/import", {"document": exported["document"]}).expect(0).data
    assert sorted(line["name"] for line in report["created"]) == ["http: parent", "备份 shell"]
    for key in ("http", "shell"):
        again = Task.objects.get(department=org.a, name=made[key]["name"])
        assert _columns(again.pk) == before[made[key]["id"]]


def test_a_user_below_the_top_exports_department_ids(org):
    user = org.member(org.a, {"task:view"})
    task = TaskFactory(department=org.a1, name="deep", status=0)
    document = yaml.safe_load(Api(user).get("tasks/export", ids=task.pk).expect(0).data["document"])
    assert document["tasks"][0]["departmentId"] == org.a1.pk and "department" not in document["tasks"][0]


@pytest.mark.parametrize("ids", ["", "abc", "1,,2", "0", "1,1", "-3", "1.5", ",".join(["7"] * 1001)])
def test_export_refuses_bad_ids(org, admin_api, ids):
    reply = admin_api.get("tasks/export", ids=ids).expect(4001)
    assert set(reply.data["fields"]) == {"ids"}


def test_export_of_a_foreign_or_missing_task_is_not_found(org):
    user = org.member(org.a, {"task:view"})
    mine = TaskFactory(department=org.a, name="mine", status=0)
    foreign = TaskFactory(department=org.b, name="theirs", status=0)
    api = Api(user)
    foreign_reply = api.get("tasks/export", ids=f"{mine.pk},{foreign.pk}").expect(4004)
    missing_reply = api.get("tasks/export", ids=f"{mine.pk},{10**12}").expect(4004)
    assert foreign_reply.message == missing_reply.message
    assert foreign_reply.data["fields"] == {"ids": [f"task {foreign.pk} not found"]}
    Api(org.member(org.a, {"task:create"})).get("tasks/export", ids=mine.pk).expect(4003)


def test_import_reports_yaml_and_entry_errors_and_changes_nothing(org, admin_api):
    before = list(Task.objects.values())
    bad = admin_api.post("tasks/import", {"document": "tasks:\n  - name: [unclosed\n"}).expect(4001)
    assert list(bad.data["fields"]) == ["document"] and "line" in bad.data["fields"]["document"][0]
    bomb = "a: &x [1, 2]\nb: [*x, *x]\n"
    assert "aliases" in admin_api.post("tasks/import", {"document": bomb}).expect(4001).message
    entry = (f"tasks:\n  - name: ok\n    departmentId: {org.a.pk}\n    cron: '0 3 * * *'\n    status: 0\n"
             f"    url: http://127.0.0.1:9/x\n    httpMethod: GET\n  - name: broken\n    departmentId: {org.a.pk}\n"
             f"    cron: 'not a cron'\n    status: 0\n    url: http://127.0.0.1:9/x\n    httpMethod: GET\n")
    reply = admin_api.post("tasks/import", {"document": entry}).expect(4001)
    assert list(reply.data["fields"]) == ["tasks[1].cron"]
    assert list(Task.objects.values()) == before
    dry = admin_api.post("tasks/import", {"document": entry.split("  - name: broken")[0], "dryRun": True})
    assert [line["name"] for line in dry.expect(0).data["created"]] == ["ok"]
    assert list(Task.objects.values()) == before


def test_import_needs_the_rights_of_each_action(org, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)
    shell = (f"tasks:\n  - {{name: sh, type: SHELL, departmentId: {org.a.pk}, cron: '0 3 * * *', status: 0, "
             f"shellCommand: /bin/true}}\n")
    Api(org.member(org.a, {"task:view"})).post("tasks/import", {"document": shell}).expect(4003)
    Api(org.member(org.a, {"task:create"})).post("tasks/import", {"document": shell}).expect(4003)
    Api(org.member(org.a, {"task:create", "task:shell"})).post("tasks/import", {"document": shell}).expect(0)
    assert Task.objects.filter(name="sh", department=org.a).count() == 1
