"""Issue 16, the task side: SHELL transitions need ``task:shell`` (7), audit rows never copy task secrets (10),
only top-department operators pause the platform, optional optimistic concurrency on task writes, task names
unique per department case-insensitively (16). Each test replays the attack the issue describes over REST."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.tasks.models import SchedulerNode, SchedulerState, Task, TaskChild, TriggerRequest
from conftest import Api
from apps.accounts.permissions import PERMISSION_CODES
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shell_on(settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)


@pytest.fixture
def live_node(db):
    now = timezone.now()
    return SchedulerNode.objects.create(name="n", host="h", pid=1, started_at=now, heartbeat_at=now)


def shell_task(department, status=0, **kw):
    return Task.objects.create(name=kw.pop("name", "backup"), department=department, task_type="SHELL",
                               cron_expression="0 3 * * *", timezone="UTC", shell_command="/bin/true",
                               status=status, **kw)


def task_row(task):
    return Task.objects.filter(pk=task.pk).values().get()


# --- 7: every transition that makes a SHELL task run needs task:shell ----------------------------------

@pytest.mark.parametrize("status", [1, 2])
def test_enabling_a_disabled_shell_task_needs_task_shell(org, shell_on, status):
    task = shell_task(org.a)
    before, audits = task_row(task), AuditLog.objects.count()
    reply = Api(org.member(org.a, {"task:update", "task:view"})).patch(f"tasks/{task.pk}/status",
                                                                      {"status": status}).expect(4003)
    assert "task:shell" in reply.message
    assert task_row(task) == before and AuditLog.objects.count() == audits
    enabled = Api(org.member(org.a, {"task:update", "task:shell"})).patch(f"tasks/{task.pk}/status",
                                                                         {"status": status}).expect(0).data
    assert enabled["status"] == status and enabled["nextExecuteTime"] is not None


def test_disabling_a_shell_task_needs_only_task_update(org, shell_on):
    task = shell_task(org.a, status=1)
    Api(org.member(org.a, {"task:update"})).patch(f"tasks/{task.pk}/status", {"status": 0}).expect(0)
    assert Task.objects.get(pk=task.pk).status == 0


def test_enabling_or_triggering_a_parent_of_a_shell_child_needs_task_shell(org, shell_on, live_node):
    child = shell_task(org.a1, name="wipe")
    middle = TaskFactory(department=org.a, status=0, name="middle")
    parent = TaskFactory(department=org.a, status=0, name="parent")
    TaskChild.objects.create(parent=parent, child=middle)
    TaskChild.objects.create(parent=middle, child=child)  # two levels down still runs the SHELL command
    before = task_row(parent)
    plain = Api(org.member(org.a, {"task:update", "task:execute"}))
    assert "task:shell" in plain.post(f"tasks/{parent.pk}/trigger", {}).expect(4003).message
    assert "task:shell" in plain.patch(f"tasks/{parent.pk}/status", {"status": 1}).expect(4003).message
    assert not TriggerRequest.objects.exists() and task_row(parent) == before
    shell = Api(org.member(org.a, {"task:update", "task:execute", "task:shell"}))
    shell.post(f"tasks/{parent.pk}/trigger", {}).expect(0)
    shell.patch(f"tasks/{parent.pk}/status", {"status": 1}).expect(0)
    assert TriggerRequest.objects.count() == 1


def test_linking_a_task_whose_child_is_shell_needs_task_shell(org, shell_on):
    child = shell_task(org.a, name="wipe")
    middle = TaskFactory(department=org.a, status=0, name="middle")
    TaskChild.objects.create(parent=middle, child=child)
    parent = TaskFactory(department=org.a, status=0, name="parent")
    body = {"name": "parent", "departmentId": org.a.pk, "cron": "0 3 * * *", "url": "http://127.0.0.1:9/",
            "httpMethod": "GET", "status": 0, "childTaskIds": [middle.pk]}
    user = org.member(org.a, {"task:update", "task:view"})
    assert "task:shell" in Api(user).put(f"tasks/http/{parent.pk}", body).expect(4003).message
    assert not TaskChild.objects.filter(parent=parent).exists()


def test_put_enabling_an_http_parent_of_a_shell_child_needs_task_shell(org, shell_on):
    child = shell_task(org.a, name="wipe")
    parent = TaskFactory(department=org.a, status=0, name="parent")
    TaskChild.objects.create(parent=parent, child=child)
    body = {"name": "parent", "departmentId": org.a.pk, "cron": "0 3 * * *", "url": "http://127.0.0.1:9/",
            "httpMethod": "GET", "status": 1}
    before = task_row(parent)
    Api(org.member(org.a, {"task:update", "task:view"})).put(f"tasks/http/{parent.pk}", body).expect(4003)
    assert task_row(parent) == before


# --- 10: audit rows do not copy task secrets ----------------------------------------------------------

def test_audit_rows_keep_secret_keys_but_never_their_values(org, shell_on):
    admin = Api(org.admin)
    created = admin.post("tasks/http", {
        "name": "billing", "departmentId": org.a.pk, "cron": "0 3 * * *", "url": "https://api.example.com/run",
        "httpMethod": "POST", "status": 0, "headers": {"X-Api-Key": "sk-live-4242", "X-Team": "ops"},
        "body": '{"dbPassword": "hunter2"}'}).expect(0).data
    admin.put(f"tasks/http/{created['id']}", {
        "name": "billing", "departmentId": org.a.pk, "cron": "0 3 * * *", "url": "https://api.example.com/run",
        "httpMethod": "POST", "status": 0, "headers": {"X-Api-Key": "sk-live-9999", "X-Team": "ops"},
        "body": '{"dbPassword": "correct-horse"}'}).expect(0)
    shell = admin.post("tasks/shell", {"name": "dump", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
                                       "shellCommand": "/usr/bin/mysqldump", "shellArgs": ["-pS3cr3t!"],
                                       "shellEnv": {"MYSQL_PWD": "S3cr3t!"}}).expect(0).data
    admin.put(f"tasks/shell/{shell['id']}", {"name": "dump", "departmentId": org.a.pk, "cron": "0 3 * * *",
                                             "status": 0, "shellCommand": "/usr/bin/mysqldump",
                                             "shellEnv": {"MYSQL_PWD": "n3w-S3cr3t"}}).expect(0)
    grpc = admin.post("tasks/grpc", {"name": "sync", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
                                     "grpcService": "10.0.0.5:50051/billing.Sync", "grpcMethod": "Run",
                                     "grpcParams": {"token": "grpc-t0ken"}}).expect(0).data
    # what a system:manage user without task:view reads
    auditor = Api(org.member(org.hq, {"system:manage"}))
    rows = auditor.get("audit-logs", size=100).expect(0).data["list"]
    text = json.dumps(rows)
    for secret in ("sk-live-4242", "sk-live-9999", "hunter2", "correct-horse", "S3cr3t!", "n3w-S3cr3t",
                   "grpc-t0ken"):
        assert secret not in text, secret
    by_action = {(r["action"], r["objectId"]): r["changes"] for r in rows}
    create = by_action[("task.create", str(created["id"]))]
    assert create["headers"] == {"X-Api-Key": "changed", "X-Team": "changed"} and create["body"] == "changed"
    update = by_action[("task.update", str(created["id"]))]
    assert update["headers"] == {"X-Api-Key": "changed"} and update["body"] == "changed"
    shell_update = by_action[("task.update", str(shell["id"]))]
    assert shell_update["shellEnv"] == {"MYSQL_PWD": "changed"} and shell_update["shellArgs"] == "changed"
    assert by_action[("task.create", str(grpc["id"]))]["grpcParams"] == {"token": "changed"}
    assert update.get("url") is None  # unchanged fields are not listed; plain fields stay readable
    assert by_action[("task.create", str(created["id"]))]["url"] == "https://api.example.com/run"


# --- 16: only operators of the top department pause the platform ---------------------------------------

@pytest.mark.parametrize("path", ["scheduler/pause", "scheduler/resume"])
def test_a_department_operator_with_system_manage_cannot_pause_every_tenant(org, path):
    if path == "scheduler/resume":
        Api(org.admin).post("scheduler/pause", {"reason": "kept"}).expect(0)
    before, audits = list(SchedulerState.objects.values()), AuditLog.objects.count()
    reply = Api(org.member(org.a, PERMISSION_CODES)).post(path, {}).expect(4003)
    assert "top department" in reply.message
    assert list(SchedulerState.objects.values()) == before and AuditLog.objects.count() == audits
    Api(org.member(org.hq, {"system:manage"})).post(path, {}).expect(0)


# --- 16: optional optimistic concurrency on task writes ------------------------------------------------

def http_body(department, **over):
    return {"name": "ping", "departmentId": department.pk, "cron": "0 3 * * *", "url": "http://127.0.0.1:9/",
            "httpMethod": "GET", "status": 0, **over}


def test_a_stale_version_in_the_body_or_if_match_is_4009_and_changes_nothing(org):
    admin = Api(org.admin)
    created = admin.post("tasks/http", http_body(org.a)).expect(0).data
    first = admin.put(f"tasks/http/{created['id']}", http_body(org.a, description="first",
                                                               version=created["version"])).expect(0).data
    assert first["version"] == created["version"] + 1
    before = task_row(Task(pk=created["id"]))
    reply = admin.put(f"tasks/http/{created['id']}", http_body(org.a, description="stale",
                                                               version=created["version"])).expect(4009)
    assert f"version {first['version']}" in reply.message
    admin.call("PUT", f"tasks/http/{created['id']}", http_body(org.a, description="stale"),
               HTTP_IF_MATCH=f'"{created["version"]}"').expect(4009)
    admin.call("PATCH", f"tasks/{created['id']}/status", {"status": 1},
               HTTP_IF_MATCH=str(created["version"])).expect(4009)
    admin.patch(f"tasks/{created['id']}/status", {"status": 1, "version": created["version"]}).expect(4009)
    assert task_row(Task(pk=created["id"])) == before
    # the current version goes through; without one the write is last-write-wins
    admin.call("PUT", f"tasks/http/{created['id']}", http_body(org.a, description="second"),
               HTTP_IF_MATCH=f'"{first["version"]}"').expect(0)
    last = admin.put(f"tasks/http/{created['id']}", http_body(org.a, description="third")).expect(0).data
    assert last["description"] == "third"
    admin.patch(f"tasks/{created['id']}/status", {"status": 1, "version": last["version"]}).expect(0)


def test_a_scheduler_claim_does_not_make_a_client_version_stale(org):
    admin = Api(org.admin)
    created = admin.post("tasks/http", http_body(org.a, status=1)).expect(0).data
    Task.objects.filter(pk=created["id"]).update(version=created["version"] + 5)  # five claims since the read
    admin.put(f"tasks/http/{created['id']}", http_body(org.a, version=created["version"])).expect(0)


@pytest.mark.parametrize("body, header, field", [
    ({"version": "x"}, None, "version"),
    ({"version": -1}, None, "version"),
    ({}, "W/\"1\"", "If-Match"),
    ({}, "abc", "If-Match"),
])
def test_a_malformed_version_is_4001_and_changes_nothing(org, body, header, field):
    admin = Api(org.admin)
    created = admin.post("tasks/http", http_body(org.a)).expect(0).data
    before = task_row(Task(pk=created["id"]))
    extra = {"HTTP_IF_MATCH": header} if header else {}
    reply = admin.call("PUT", f"tasks/http/{created['id']}", http_body(org.a, description="x", **body), **extra)
    reply.expect(4001)
    assert field in reply.data["fields"]
    assert task_row(Task(pk=created["id"])) == before


# --- 16: task names unique per department, case-insensitively -----------------------------------------

def test_task_names_are_unique_per_department_ignoring_case(org):
    admin = Api(org.admin)
    first = admin.post("tasks/http", http_body(org.a, name="Nightly-Report")).expect(0).data
    count = Task.objects.count()
    reply = admin.post("tasks/http", http_body(org.a, name="nightly-report")).expect(4009)
    assert "Nightly-Report" in reply.message and Task.objects.count() == count
    admin.post("tasks/http", http_body(org.b, name="nightly-report")).expect(0)  # another department: fine
    other = admin.post("tasks/http", http_body(org.a, name="other")).expect(0).data
    admin.put(f"tasks/http/{other['id']}", http_body(org.a, name="NIGHTLY-REPORT")).expect(4009)
    assert Task.objects.get(pk=other["id"]).name == "other"
    # moving a task into a department that holds its name is the same conflict
    b_task = Task.objects.get(department=org.b, name="nightly-report")
    admin.put(f"tasks/http/{b_task.pk}", http_body(org.a, name="nightly-report")).expect(4009)
    # renaming a task to another case of its own name is fine
    admin.put(f"tasks/http/{first['id']}", http_body(org.a, name="NIGHTLY-report")).expect(0)


def test_the_migration_renames_existing_duplicates():
    from importlib import import_module

    migration = import_module("apps.tasks.migrations.0004_task_revision_and_unique_names")
    rows = [(1, 7, "Backup"), (2, 7, "backup"), (3, 7, "BACKUP"), (4, 8, "backup"), (5, 7, "backup (2)")]
    assert migration.renames(rows) == {2: "backup (3)", 3: "BACKUP (4)"}
