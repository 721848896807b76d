"""Declarative tasks: the service (create / update / unchanged, dry run, prune, scope, permissions, all or
nothing), ``POST /v1/tasks/apply``, ``manage.py apply_tasks`` and ``scheduler.jobs`` at bootstrap."""
from __future__ import annotations

import copy
import json
from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import AuditLog
from apps.tasks.declarative import tasks_apply
from apps.tasks.models import Task
from conftest import Api
from djs_platform import errors
from djs_platform.actor import Actor


def http_entry(department, name="ping", **over):
    entry = {"type": "HTTP", "name": name, "department": department, "cron": "*/5 * * * *", "status": 1,
             "url": "http://127.0.0.1:9/ping", "httpMethod": "POST", "headers": {"X-Token": "t"}, "retryCount": 2}
    entry.update(over)
    return entry


def grpc_entry(department, name="billing", **over):
    entry = {"type": "GRPC", "name": name, "department": department, "cron": "0 3 * * *", "status": 1,
             "grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo",
             "grpcParams": {"message": "hi", "n": 1}}
    entry.update(over)
    return entry


def apply(user, document, **kw):
    return tasks_apply(actor=Actor(user=user, via="cli"), document=copy.deepcopy(document), **kw)


def names(lines):
    return sorted(line.name for line in lines)


def rows():
    """Every task as stored (to prove a refused or dry run changed nothing)."""
    return list(Task.objects.order_by("id").values())


def audit_count():
    return AuditLog.objects.count()


# --- create / update / unchanged ----------------------------------------------------------------------

def test_first_apply_creates_then_a_second_one_changes_nothing(org):
    doc = {"tasks": [http_entry("Headquarters/A"), grpc_entry(org.a1.pk)]}
    report = apply(org.admin, doc)
    assert (names(report.created), report.updated, report.unchanged) == (["billing", "ping"], [], [])
    ping = Task.objects.get(name="ping")
    assert (ping.department_id, ping.url, ping.http_method, ping.headers, ping.max_retry, ping.creator_id) == \
        (org.a.pk, "http://127.0.0.1:9/ping", "POST", {"X-Token": "t"}, 2, org.admin.pk)
    assert ping.next_execute_time is not None
    assert report.created[0].id == ping.pk and report.created[0].department_name == "A"
    before, audits = rows(), audit_count()
    again = apply(org.admin, doc)
    assert (again.created, again.updated, names(again.unchanged)) == ([], [], ["billing", "ping"])
    assert rows() == before and audit_count() == audits  # no version bump, no audit row


def test_a_changed_field_is_an_update_with_the_changed_fields_listed(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk)]})
    task = Task.objects.get(name="ping")
    report = apply(org.admin, {"tasks": [http_entry(org.a.pk, cron="0 4 * * *", retryCount=0)]})
    assert [(line.id, line.changes) for line in report.updated] == [(task.pk, ["cron", "retryCount"])]
    task2 = Task.objects.get(pk=task.pk)
    assert (task2.cron_expression, task2.max_retry, task2.version) == ("0 4 * * *", 0, task.version + 1)
    assert task2.next_execute_time.hour == 4 and task2.next_execute_time.minute == 0
    assert AuditLog.objects.filter(action="task.update", object_id=str(task.pk)).count() == 1


def test_department_by_path_by_id_and_by_department_id_name_the_same_task(org):
    apply(org.admin, {"tasks": [http_entry("Headquarters/A/A1")]})
    for ref in ({"department": org.a1.pk}, {"departmentId": org.a1.pk}, {"department": "/Headquarters/A/A1/"}):
        entry = http_entry(None)
        entry.pop("department")
        report = apply(org.admin, {"tasks": [{**entry, **ref}]})
        assert names(report.unchanged) == ["ping"], ref
    assert Task.objects.count() == 1


def test_grpc_params_key_order_does_not_make_an_update(org):
    apply(org.admin, {"tasks": [grpc_entry(org.a.pk, grpcParams={"message": "hi", "n": 1})]})
    report = apply(org.admin, {"tasks": [grpc_entry(org.a.pk, grpcParams='{"n": 1, "message": "hi"}')]})
    assert names(report.unchanged) == ["billing"]


def test_the_same_name_in_another_department_is_another_task(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk), http_entry(org.a1.pk)]})
    assert sorted(Task.objects.values_list("department_id", flat=True)) == sorted([org.a.pk, org.a1.pk])


def test_an_entry_cannot_change_the_type_of_an_existing_task(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk, name="job")]})
    before = rows()
    with pytest.raises(errors.InvalidArgument) as exc:
        apply(org.admin, {"tasks": [grpc_entry(org.a.pk, name="job")]})
    assert list(exc.value.fields) == ["tasks[0].type"] and "HTTP task" in exc.value.message
    assert rows() == before


def test_two_stored_tasks_with_the_entry_name_are_a_conflict(org):
    """Task names are unique per department ignoring case (issue 16); rows written around the API by raw SQL
    (no name key) can still hold twins, and apply refuses to pick one."""
    from django.db import connection

    for name in ("twin", "other"):
        Task.objects.create(name=name, department=org.a, task_type="HTTP", cron_expression="0 3 * * *",
                            timezone="UTC", url="http://127.0.0.1:9/x", status=0)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE task SET name = %s, name_key = NULL WHERE name = %s", ["Twin", "other"])
    before = rows()
    with pytest.raises(errors.Conflict) as exc:
        apply(org.admin, {"tasks": [http_entry(org.a.pk, name="twin")]})
    assert "2 tasks named 'twin'" in exc.value.message
    assert rows() == before


def test_an_entry_matches_a_stored_task_whose_name_differs_only_in_case(org):
    stored = Task.objects.create(name="Nightly", department=org.a, task_type="HTTP", cron_expression="0 3 * * *",
                                 timezone="UTC", url="http://127.0.0.1:9/x", status=0)
    report = apply(org.admin, {"tasks": [http_entry(org.a.pk, name="NIGHTLY")]})
    assert [line.id for line in report.updated] == [stored.pk] and "name" in report.updated[0].changes
    assert list(Task.objects.filter(department=org.a).values_list("name", flat=True)) == ["NIGHTLY"]


# --- dry run and prune -------------------------------------------------------------------------------

def test_dry_run_answers_the_real_report_and_changes_nothing(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk, name="keep"), http_entry(org.a.pk, name="old")]})
    doc = {"tasks": [http_entry(org.a.pk, name="keep", cron="0 1 * * *"), http_entry(org.a.pk, name="new")]}
    before, audits = rows(), audit_count()
    dry = apply(org.admin, doc, dry_run=True, prune=True)
    assert rows() == before and audit_count() == audits
    assert dry.dry_run and [line.id for line in dry.created] == [None]
    real = apply(org.admin, doc, prune=True)
    assert not real.dry_run
    for action in ("updated", "unchanged", "pruned"):
        assert getattr(dry, action) == getattr(real, action), action
    assert [(c.name, c.index) for c in dry.created] == [(c.name, c.index) for c in real.created]
    assert sorted(Task.objects.values_list("name", flat=True)) == ["keep", "new"]


def test_prune_deletes_only_unlisted_tasks_of_the_named_departments(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk, name="listed"), http_entry(org.a.pk, name="stray"),
                                http_entry(org.a1.pk, name="child-task"), http_entry(org.b.pk, name="other")]})
    report = apply(org.admin, {"tasks": [http_entry(org.a.pk, name="listed")]}, prune=True)
    assert names(report.pruned) == ["stray"] and report.pruned[0].index is None
    assert sorted(Task.objects.values_list("name", flat=True)) == ["child-task", "listed", "other"]
    assert AuditLog.objects.filter(action="task.delete", object_repr="stray").exists()
    # a department listed under `departments` is owned by the document even without entries
    report = apply(org.admin, {"tasks": [], "departments": ["Headquarters/A/A1"]}, prune=True)
    assert names(report.pruned) == ["child-task"]
    assert sorted(Task.objects.values_list("name", flat=True)) == ["listed", "other"]


def test_without_prune_unlisted_tasks_stay(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk, name="one"), http_entry(org.a.pk, name="two")]})
    report = apply(org.admin, {"tasks": [http_entry(org.a.pk, name="one")]})
    assert report.pruned == [] and Task.objects.count() == 2


# --- scope and permissions ---------------------------------------------------------------------------

@pytest.mark.parametrize("ref_field, foreign, missing", [
    ("department", lambda org: "Headquarters/B", lambda org: "Headquarters/Nowhere"),
    ("department", lambda org: org.b.pk, lambda org: 10**12),
    ("departmentId", lambda org: org.b.pk, lambda org: 10**12),
    ("department", lambda org: "Headquarters", lambda org: "Elsewhere"),
])
def test_a_department_outside_the_scope_reads_like_a_missing_one(org, ref_field, foreign, missing):
    member = org.member(org.a)
    Task.objects.create(name="ping", department=org.b, task_type="HTTP", cron_expression="0 3 * * *",
                        timezone="UTC", url="http://127.0.0.1:9/x", status=0)
    before = rows()
    answers = []
    for ref in (foreign(org), missing(org)):
        entry = http_entry(None)
        entry.pop("department")
        with pytest.raises(errors.InvalidArgument) as exc:
            apply(member, {"tasks": [http_entry(org.a.pk, name="fine"), {**entry, ref_field: ref}]})
        assert exc.value.fields == {f"tasks[1].{ref_field}": [f"department {ref} not found"]}
        answers.append(exc.value.message.replace(str(ref), "<ref>"))
    assert answers[0] == answers[1]
    assert rows() == before  # the valid first entry was not applied either


def test_prune_cannot_name_a_foreign_department(org):
    member = org.member(org.a)
    before = rows()
    with pytest.raises(errors.InvalidArgument) as exc:
        apply(member, {"tasks": [], "departments": [org.b.pk]}, prune=True)
    assert exc.value.fields == {"departments[0]": [f"department {org.b.pk} not found"]}
    assert rows() == before


def test_prune_never_reaches_tasks_outside_the_scope(org):
    apply(org.admin, {"tasks": [http_entry(org.hq.pk, name="top")]})
    member = org.member(org.a)
    report = apply(member, {"tasks": [http_entry(org.a.pk)]}, prune=True)
    assert report.pruned == [] and Task.objects.filter(name="top").exists()


def test_each_action_needs_its_permission(org):
    apply(org.admin, {"tasks": [http_entry(org.a.pk, name="existing")]})
    creator = org.member(org.a, {"task:create"})
    updater = org.member(org.a, {"task:update"})
    before = rows()
    with pytest.raises(errors.Forbidden, match="task:update"):
        apply(creator, {"tasks": [http_entry(org.a.pk, name="new"), http_entry(org.a.pk, name="existing")]})
    with pytest.raises(errors.Forbidden, match="task:create"):
        apply(updater, {"tasks": [http_entry(org.a.pk, name="existing"), http_entry(org.a.pk, name="new")]})
    with pytest.raises(errors.Forbidden, match="task:delete"):
        apply(org.member(org.a, {"task:create", "task:update"}), {"tasks": []}, prune=True)
    with pytest.raises(errors.Forbidden, match="task:update"):  # also a dry run, also for an unchanged task
        apply(creator, {"tasks": [http_entry(org.a.pk, name="existing")]}, dry_run=True)
    assert rows() == before
    assert names(apply(creator, {"tasks": [http_entry(org.a.pk, name="new")]}).created) == ["new"]


def test_shell_entries_follow_the_shell_rules(org, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=False)
    entry = {"type": "shell", "name": "sh", "department": org.a.pk, "cron": "0 3 * * *", "status": 0,
             "shellCommand": "/bin/echo", "shellArgs": ["hi"]}
    with pytest.raises(errors.Forbidden, match="job.shell.enabled"):
        apply(org.admin, {"tasks": [entry]})
    assert Task.objects.count() == 0


# --- invalid documents: 4001 with index and field, nothing applied --------------------------------------

def test_invalid_entries_answer_the_api_s_own_errors_and_apply_nothing(org, admin_api):
    bad_cron = http_entry(org.a.pk, name="b1", cron="61 * * * *")
    bad_url = http_entry(org.a.pk, name="b2", url="ftp://x/y")
    before, audits = rows(), audit_count()
    with pytest.raises(errors.InvalidArgument) as exc:
        apply(org.admin, {"tasks": [http_entry(org.a.pk, name="good"), bad_cron, bad_url]})
    assert rows() == before and audit_count() == audits
    fields = exc.value.fields
    assert set(fields) == {"tasks[1].cron", "tasks[2].url"}
    assert exc.value.message.startswith("tasks[1].cron: ")
    for index, entry, field in ((1, bad_cron, "cron"), (2, bad_url, "url")):
        body = {k: v for k, v in entry.items() if k not in ("type", "department")}
        rest = admin_api.post("tasks/http", {**body, "departmentId": org.a.pk}).expect(4001)
        assert fields[f"tasks[{index}].{field}"] == rest.data["fields"][field]


@pytest.mark.parametrize("document, field, text", [
    ("just text", "document", "mapping"),
    ({"tasks": {"name": "x"}}, "tasks", "list"),
    ({}, "tasks", "required"),
    ({"tasks": [], "extra": 1}, "extra", "unknown field"),
    ({"tasks": ["x"]}, "tasks[0]", "mapping"),
    ({"tasks": [{"type": "FTP", "name": "x"}]}, "tasks[0].type", "HTTP, GRPC, SHELL"),
    ({"tasks": [{**http_entry(1), "departmentId": 1}]}, "tasks[0].department", "not both"),
    ({"tasks": [http_entry(True)]}, "tasks[0].department", "department id"),
    ({"tasks": [http_entry("")]}, "tasks[0].department", "department id"),
    ({"tasks": [{**http_entry(1), "version": 3}]}, "tasks[0].version", "unknown field"),
    ({"tasks": [{**http_entry(1), "status": "1"}]}, "tasks[0].status", "integer"),
    ({"tasks": [http_entry("Headquarters", name="a"), http_entry("/Headquarters", name="a")]}, "tasks[1].name",
     "tasks[0] already declares"),
    ({"tasks": [], "departments": [0]}, "departments[0]", "department id"),
    ({"tasks": [], "departments": "A"}, "departments", "list"),
    ({"tasks": [http_entry(1, name=f"t{i}") for i in range(1001)]}, "tasks", "at most 1000"),
])
def test_malformed_documents_are_refused_with_the_place(org, document, field, text):
    with pytest.raises(errors.InvalidArgument) as exc:
        apply(org.admin, document)
    if field == "document":
        assert text in exc.value.message
    else:
        assert field in exc.value.fields, exc.value.fields
        assert text.lower() in " ".join(exc.value.fields[field]).lower()
    assert Task.objects.count() == 0


def test_a_bare_list_is_a_list_of_tasks(org):
    assert names(apply(org.admin, [http_entry(org.a.pk)]).created) == ["ping"]


# --- POST /v1/tasks/apply ----------------------------------------------------------------------------

def test_rest_apply_reports_and_is_idempotent(org, admin_api):
    body = {"tasks": [http_entry("Headquarters/A"), grpc_entry(org.a.pk)]}
    dry = admin_api.post("tasks/apply", {**body, "dryRun": True}).expect(0).data
    assert Task.objects.count() == 0
    assert dry["dryRun"] is True and [(c["name"], c["id"], c["index"]) for c in dry["created"]] == \
        [("ping", None, 0), ("billing", None, 1)]
    created = admin_api.post("tasks/apply", body).expect(0).data
    assert created["dryRun"] is False and {c["name"] for c in created["created"]} == {"ping", "billing"}
    line = created["created"][0]
    assert line == {"index": 0, "id": Task.objects.get(name="ping").pk, "name": "ping", "departmentId": org.a.pk,
                    "departmentName": "A", "taskType": "HTTP", "changes": []}
    again = admin_api.post("tasks/apply", body).expect(0).data
    assert (again["created"], len(again["unchanged"]), again["updated"], again["pruned"]) == ([], 2, [], [])


def test_rest_apply_prunes_with_the_flag(org, admin_api):
    admin_api.post("tasks/apply", {"tasks": [http_entry(org.a.pk, name="a"), http_entry(org.a.pk, name="b")]})
    data = admin_api.post("tasks/apply", {"tasks": [http_entry(org.a.pk, name="a")], "prune": True}).expect(0).data
    assert [p["name"] for p in data["pruned"]] == ["b"]
    assert list(Task.objects.values_list("name", flat=True)) == ["a"]


@pytest.mark.parametrize("body, field", [
    ({"tasks": [], "dryRun": "true"}, "dryRun"),
    ({"tasks": [], "prune": 1}, "prune"),
    ({"tasks": [], "force": True}, "force"),
    ({"dryRun": True}, "tasks"),
    ({"tasks": [{"name": "x"}]}, "tasks[0].departmentId"),
])
def test_rest_apply_refuses_bad_bodies(org, admin_api, body, field):
    reply = admin_api.post("tasks/apply", body).expect(4001)
    assert field in reply.data["fields"]
    assert Task.objects.count() == 0


def test_rest_apply_refuses_a_body_that_is_not_an_object(org, admin_api):
    admin_api.call("POST", "tasks/apply", raw=json.dumps([http_entry(org.a.pk)])).expect(4001)
    assert Task.objects.count() == 0


def test_rest_apply_answers_4003_without_the_permission(org):
    viewer = org.member(org.a, {"task:view"})
    Api(viewer).post("tasks/apply", {"tasks": [http_entry(org.a.pk)]}).expect(4003)
    assert Task.objects.count() == 0


def test_the_schema_documents_the_apply_route():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/v1/tasks/apply"]["post"]
    assert "task:delete" in operation["description"]
    request = schema["components"]["schemas"]["TaskApplyInputRequest"]
    assert request["required"] == ["tasks"] and request["properties"]["tasks"]["maxItems"] == 1000
    data = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data["$ref"].endswith("/TaskApplyOutput")


# --- manage.py apply_tasks ---------------------------------------------------------------------------

YAML_FILE = """\
tasks:
  - name: nightly-report
    department: Headquarters/A      # a name path from the top
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    status: 1
    url: http://127.0.0.1:9/report
    httpMethod: POST
    body: '{{"full": true}}'
    headers: {{Content-Type: application/json}}
  - name: billing-sync
    type: GRPC
    departmentId: {a1}
    cron: "@every 10m"
    status: 0
    grpcService: 127.0.0.1:50051/djs.test.Target
    grpcMethod: Echo
    grpcParams: {{message: hi}}
"""


def write(tmp_path, text):
    path = tmp_path / "tasks.yaml"
    path.write_text(text)
    return str(path)


def run_command(*args):
    out = StringIO()
    call_command("apply_tasks", *args, stdout=out)
    return out.getvalue()


def test_apply_tasks_command_creates_then_reports_unchanged(org, tmp_path):
    path = write(tmp_path, YAML_FILE.format(a1=org.a1.pk))
    text = run_command(path, "--as", org.admin.username)
    assert "2 created, 0 updated, 0 unchanged, 0 pruned" in text
    assert "nightly-report" in text and "A (%d)" % org.a.pk in text
    report = Task.objects.get(name="nightly-report")
    assert (report.timezone, report.headers, report.body) == ("Europe/Berlin", {"Content-Type": "application/json"},
                                                              '{"full": true}')
    assert Task.objects.get(name="billing-sync").task_type == "GRPC"
    assert AuditLog.objects.filter(action="task.create", via="cli").count() == 2
    assert "0 created, 0 updated, 2 unchanged" in run_command(path, "--as", org.admin.username)


def test_apply_tasks_command_dry_run_prune_and_json(org, tmp_path):
    text = YAML_FILE.format(a1=org.a1.pk)
    run_command(write(tmp_path, text), "--as", org.admin.username)
    only_one = text.split("  - name: billing-sync")[0]
    path = write(tmp_path, only_one)
    text = run_command(path, "--as", org.admin.username, "--dry-run", "--prune")
    assert "1 unchanged, 0 pruned (dry run" in text  # billing-sync is in A1, a department the file does not name
    data = json.loads(run_command(path, "--as", org.admin.username, "--json", "--prune"))
    assert [u["name"] for u in data["unchanged"]] == ["nightly-report"] and data["pruned"] == []


def test_apply_tasks_command_acts_as_the_admin_by_default(db, settings, tmp_path):
    call_command("bootstrap", stdout=StringIO(), stderr=StringIO())
    path = write(tmp_path, "tasks:\n- {name: t, department: Headquarters, cron: '@daily', status: 0,"
                           " url: 'http://127.0.0.1:9/t', httpMethod: GET}\n")
    assert "1 created" in run_command(path)
    assert Task.objects.get(name="t").creator.username == settings.DJS_AUTH.admin_username


@pytest.mark.parametrize("text, message", [
    ("tasks: [{name: x, department: 1, cron: '61 * * * *', status: 0, url: 'http://h/', httpMethod: GET}]",
     "tasks[0].cron"),
    ("tasks: [unclosed", "not valid YAML"),
])
def test_apply_tasks_command_fails_with_the_error_and_applies_nothing(org, tmp_path, text, message):
    with pytest.raises(CommandError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run_command(write(tmp_path, text), "--as", org.admin.username)
    assert Task.objects.count() == 0


def test_apply_tasks_command_refuses_an_unknown_user_and_a_missing_file(org, tmp_path):
    with pytest.raises(CommandError, match="no active user 'ghost'"):
        run_command(write(tmp_path, "tasks: []"), "--as", "ghost")
    with pytest.raises(CommandError, match="cannot read"):
        run_command(str(tmp_path / "missing.yaml"), "--as", org.admin.username)


def test_apply_tasks_command_answers_with_the_user_s_scope(org, tmp_path):
    member = org.member(org.a, username="scoped")
    path = write(tmp_path, f"tasks: [{{name: x, department: {org.b.pk}, cron: '@daily', status: 0,"
                           " url: 'http://127.0.0.1:9/x', httpMethod: GET}]")
    with pytest.raises(CommandError, match=f"department {org.b.pk} not found"):
        run_command(path, "--as", member.username)


# --- scheduler.jobs at bootstrap ---------------------------------------------------------------------

JOBS = [{"name": "heartbeat", "department": "Headquarters", "cron": "@every 1m", "status": 1,
         "url": "http://127.0.0.1:9/beat", "httpMethod": "GET"},
        {"name": "cleanup", "type": "GRPC", "department": "Headquarters", "cron": "0 2 * * *", "status": 0,
         "grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo"}]


def bootstrap() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_bootstrap_applies_scheduler_jobs_idempotently(db, settings):
    settings.DJS_SCHEDULER = replace(settings.DJS_SCHEDULER, jobs=JOBS)
    assert "scheduler.jobs: 2 created, 0 updated, 0 unchanged" in bootstrap()
    assert sorted(Task.objects.values_list("name", flat=True)) == ["cleanup", "heartbeat"]
    assert Task.objects.get(name="heartbeat").creator.username == settings.DJS_AUTH.admin_username
    before = rows()
    assert "scheduler.jobs: 0 created, 0 updated, 2 unchanged" in bootstrap()
    assert rows() == before
    # edited in the config; never pruned
    settings.DJS_SCHEDULER = replace(settings.DJS_SCHEDULER, jobs=[{**JOBS[0], "cron": "@every 2m"}])
    assert "scheduler.jobs: 0 created, 1 updated, 0 unchanged" in bootstrap()
    assert Task.objects.get(name="heartbeat").cron_expression == "@every 2m"
    assert Task.objects.filter(name="cleanup").exists()


def test_bootstrap_fails_on_an_invalid_job_and_creates_none(db, settings):
    settings.DJS_SCHEDULER = replace(settings.DJS_SCHEDULER,
                                     jobs=[JOBS[0], {**JOBS[1], "grpcMethod": "not a method"}])
    with pytest.raises(CommandError, match=r"scheduler.jobs in the configuration: error 4001: tasks\[1\].grpcMethod"):
        bootstrap()
    assert Task.objects.count() == 0


def test_without_scheduler_jobs_bootstrap_prints_nothing_about_them(db):
    assert "scheduler.jobs" not in bootstrap()


def test_apply_tasks_refuses_a_yaml_file_with_a_lone_surrogate_or_nul_in_a_header(org, tmp_path):
    """The YAML path (manage.py apply_tasks, scheduler.jobs) passes through the same input checks as a REST body
    (djs_platform/validation.py; issue 16 finding 3): nothing is stored."""
    for value in ('"\\udfff"', '"a\\0b"'):
        path = write(tmp_path, f"""
tasks:
  - {{type: HTTP, name: bad, department: {org.a.pk}, cron: "0 3 * * *", url: "http://127.0.0.1:9/x", status: 0, httpMethod: GET,
     headers: {{X-Token: {value}}}}}
""")
        with pytest.raises(CommandError, match="headers"):
            run_command(path, "--as", org.admin.username)
    assert not Task.objects.filter(name="bad").exists()
