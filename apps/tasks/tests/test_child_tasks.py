"""Child tasks: a task names tasks to run after each of its successful runs (docs/child-tasks.md).

API: childTaskIds on create/update (same department scope, no cycles, job.childDepth levels, 4001 changes
nothing). Runtime: real scheduler nodes and a real HTTP target; a child runs once per parent success with
trigger CHILD and a link to the parent's record.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from apps.accounts.models import AuditLog
from apps.records.models import RecordStatus, month_of
from apps.tasks.models import Task, TaskChild, TriggerRequest
from conftest import Api
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until

UTC = timezone.utc


def body(department, name: str, **over):
    data = {"name": name, "departmentId": department.pk, "cron": "0 3 * * *", "url": "http://127.0.0.1:9/x",
            "httpMethod": "GET", "status": 0}
    data.update(over)
    return data


def create(api: Api, department, name: str, **over) -> dict:
    return api.post("tasks/http", body(department, name, **over)).expect(0).data


def children_of(task_id: int) -> list[int]:
    return list(TaskChild.objects.filter(parent_id=task_id).order_by("position").values_list("child_id", flat=True))


# --- API ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_task_names_children_in_order_and_every_output_lists_them(admin_api, org):
    b = create(admin_api, org.a, "b")
    c = create(admin_api, org.a, "c")
    a = create(admin_api, org.a, "a", childTaskIds=[c["id"], b["id"]])
    assert a["childTaskIds"] == [c["id"], b["id"]] and b["childTaskIds"] == []
    assert admin_api.get(f"tasks/{a['id']}").expect(0).data["childTaskIds"] == [c["id"], b["id"]]
    listed = {t["id"]: t["childTaskIds"] for t in admin_api.get("tasks", size=100).expect(0).data["list"]}
    assert listed[a["id"]] == [c["id"], b["id"]] and listed[b["id"]] == []
    audit = AuditLog.objects.get(action="task.create", object_id=str(a["id"]))
    assert audit.changes["childTaskIds"] == [c["id"], b["id"]]


@pytest.mark.django_db
def test_the_task_list_finds_a_tasks_parents_within_the_callers_scope(admin_api, org):
    """``GET /v1/tasks?childOf=`` (the task page's dependency graph): one list request, scoped like the list."""
    from apps.accounts.models import Role
    from tests.factories import UserFactory

    child = create(admin_api, org.a1, "child")
    near = create(admin_api, org.a1, "near-parent", childTaskIds=[child["id"]])
    far = create(admin_api, org.a, "far-parent", childTaskIds=[child["id"]])
    create(admin_api, org.a1, "unrelated")
    assert {t["id"] for t in admin_api.get(f"tasks?childOf={child['id']}").expect(0).data["list"]} == {
        near["id"], far["id"]}
    local = Api(UserFactory(department=org.a1, role=Role.objects.get(name="admin")))
    listed = local.get(f"tasks?childOf={child['id']}").expect(0).data
    assert [t["id"] for t in listed["list"]] == [near["id"]] and listed["total"] == 1  # A's task is not theirs
    assert admin_api.get("tasks?childOf=0").expect(4001).data["fields"]["childOf"]


@pytest.mark.django_db
def test_update_keeps_children_when_omitted_and_clears_them_with_an_empty_list(admin_api, org):
    b = create(admin_api, org.a, "b")
    a = create(admin_api, org.a, "a", childTaskIds=[b["id"]])
    kept = admin_api.put(f"tasks/http/{a['id']}", body(org.a, "a", description="x")).expect(0).data
    assert kept["childTaskIds"] == [b["id"]]
    cleared = admin_api.put(f"tasks/http/{a['id']}", body(org.a, "a", childTaskIds=[])).expect(0).data
    assert cleared["childTaskIds"] == [] and children_of(a["id"]) == []
    audit = AuditLog.objects.filter(action="task.update", object_id=str(a["id"])).order_by("-id").first()
    assert audit.changes["childTaskIds"] == {"old": [b["id"]], "new": []}


@pytest.mark.django_db
def test_grpc_and_shell_tasks_take_children_too(admin_api, org, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)
    b = create(admin_api, org.a, "b")
    grpc = admin_api.post("tasks/grpc", {"name": "g", "departmentId": org.a.pk, "cron": "0 3 * * *",
                                         "grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo",
                                         "status": 0, "childTaskIds": [b["id"]]}).expect(0).data
    shell = admin_api.post("tasks/shell", {"name": "s", "departmentId": org.a.pk, "cron": "0 3 * * *",
                                           "shellCommand": "true", "status": 0,
                                           "childTaskIds": [b["id"], grpc["id"]]}).expect(0).data
    assert grpc["childTaskIds"] == [b["id"]] and shell["childTaskIds"] == [b["id"], grpc["id"]]


def refused(reply, text: str) -> None:
    reply.expect(4001)
    assert any(text in message for message in reply.data["fields"]["childTaskIds"]), reply.data


@pytest.mark.django_db
def test_a_cycle_is_refused_and_nothing_changes(admin_api, org):
    b = create(admin_api, org.a, "b")
    a = create(admin_api, org.a, "a", childTaskIds=[b["id"]])
    before = Task.objects.get(pk=b["id"]).version
    refused(admin_api.put(f"tasks/http/{b['id']}", body(org.a, "b2", childTaskIds=[a["id"]])), "cycle")
    task = Task.objects.get(pk=b["id"])
    assert (task.name, task.version, children_of(b["id"])) == ("b", before, [])
    # longer: a -> b -> c, then c -> a
    c = create(admin_api, org.a, "c")
    admin_api.put(f"tasks/http/{b['id']}", body(org.a, "b", childTaskIds=[c["id"]])).expect(0)
    refused(admin_api.put(f"tasks/http/{c['id']}", body(org.a, "c", childTaskIds=[a["id"]])), "cycle")
    assert children_of(c["id"]) == []


@pytest.mark.django_db
def test_a_task_cannot_be_its_own_child(admin_api, org):
    a = create(admin_api, org.a, "a")
    refused(admin_api.put(f"tasks/http/{a['id']}", body(org.a, "a", childTaskIds=[a["id"]])), "own child")


@pytest.mark.django_db
def test_child_in_a_sibling_department_is_refused_as_not_found(admin_api, org):
    in_b = create(admin_api, org.b, "in-b")
    refused(admin_api.post("tasks/http", body(org.a, "a", childTaskIds=[in_b["id"]])), f"task {in_b['id']} not found")
    assert not Task.objects.filter(name="a").exists()
    # a child's department must lie below the parent's: A1 under A is fine, A above A1 is not
    in_a1 = create(admin_api, org.a1, "in-a1")
    assert create(admin_api, org.a, "parent", childTaskIds=[in_a1["id"]])["childTaskIds"] == [in_a1["id"]]
    in_a = create(admin_api, org.a, "in-a")
    refused(admin_api.post("tasks/http", body(org.a1, "low", childTaskIds=[in_a["id"]])), "not found")


@pytest.mark.django_db
def test_child_outside_the_actors_scope_reads_as_not_found(org):
    hq_task = Api(org.admin).post("tasks/http", body(org.hq, "hq")).expect(0).data
    api = Api(org.member(org.a))
    refused(api.post("tasks/http", body(org.a, "a", childTaskIds=[hq_task["id"]])), f"task {hq_task['id']} not found")
    refused(api.post("tasks/http", body(org.a, "a", childTaskIds=[987654321])), "task 987654321 not found")
    assert not Task.objects.filter(name="a").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value, text", [
    ([0], "greater than or equal to 1"), (["1"], "valid integer"), ([True], "valid integer"),
    ("1", "list"), (list(range(1, 23)), "no more than 20"), ([5, 5], "more than once")])
def test_bad_child_ids_are_refused_and_nothing_changes(admin_api, org, value, text):
    b = create(admin_api, org.a, "b")
    a = create(admin_api, org.a, "a", childTaskIds=[b["id"]])
    reply = admin_api.put(f"tasks/http/{a['id']}", body(org.a, "changed", childTaskIds=value)).expect(4001)
    fields = reply.data["fields"]  # list items answer as childTaskIds[i]
    assert text in str([m for key, ms in fields.items() if key.startswith("childTaskIds") for m in ms]), fields
    assert Task.objects.get(pk=a["id"]).name == "a" and children_of(a["id"]) == [b["id"]]


@pytest.mark.django_db
def test_chain_longer_than_job_child_depth_is_refused(admin_api, org, settings):
    settings.DJS_SCHEDULER = replace(settings.DJS_SCHEDULER, child_depth=2)
    c = create(admin_api, org.a, "c")
    b = create(admin_api, org.a, "b", childTaskIds=[c["id"]])
    a = create(admin_api, org.a, "a", childTaskIds=[b["id"]])  # a -> b -> c: 2 levels, the limit
    d = create(admin_api, org.a, "d")
    refused(admin_api.put(f"tasks/http/{c['id']}", body(org.a, "c", childTaskIds=[d["id"]])), "job.childDepth")
    refused(admin_api.post("tasks/http", body(org.a, "top", childTaskIds=[a["id"]])), "3 levels deep")
    assert children_of(c["id"]) == [] and not Task.objects.filter(name="top").exists()
    # a sibling branch of the same depth is fine
    assert create(admin_api, org.a, "e", childTaskIds=[d["id"]])["childTaskIds"] == [d["id"]]


@pytest.mark.django_db
def test_deleting_a_task_removes_its_links(admin_api, org):
    c = create(admin_api, org.a, "c")
    b = create(admin_api, org.a, "b", childTaskIds=[c["id"]])
    a = create(admin_api, org.a, "a", childTaskIds=[b["id"], c["id"]])
    admin_api.delete(f"tasks/{b['id']}").expect(0)
    assert admin_api.get(f"tasks/{a['id']}").expect(0).data["childTaskIds"] == [c["id"]]
    assert not TaskChild.objects.filter(child_id=b["id"]).exists()
    assert not TaskChild.objects.filter(parent_id=b["id"]).exists()


@pytest.mark.django_db
def test_moving_a_child_above_its_parents_department_is_refused(admin_api, org):
    child = create(admin_api, org.a1, "child")
    create(admin_api, org.a1, "parent", childTaskIds=[child["id"]])
    reply = admin_api.put(f"tasks/http/{child['id']}", body(org.a, "child")).expect(4001)
    assert "departmentId" in reply.data["fields"]
    assert Task.objects.get(pk=child["id"]).department_id == org.a1.pk


@pytest.mark.django_db
def test_declarative_entries_take_child_ids(admin_api, org):
    b = create(admin_api, org.a, "b")
    entry = {"name": "a", "departmentId": org.a.pk, "cron": "0 3 * * *", "url": "http://127.0.0.1:9/x",
             "httpMethod": "GET", "status": 0, "childTaskIds": [b["id"]]}
    report = admin_api.post("tasks/apply", {"tasks": [entry]}).expect(0).data
    created = report["created"][0]["id"]
    assert children_of(created) == [b["id"]]
    again = admin_api.post("tasks/apply", {"tasks": [entry]}).expect(0).data
    assert [t["id"] for t in again["unchanged"]] == [created]
    cleared = admin_api.post("tasks/apply", {"tasks": [{**entry, "childTaskIds": []}]}).expect(0).data
    assert cleared["updated"][0]["changes"] == ["childTaskIds"] and children_of(created) == []


# --- runtime ------------------------------------------------------------------------------------------

def once_soon(department, url: str, **over) -> Task:
    """A one-shot task firing about a second from now."""
    return TaskFactory(department=department, url=url, status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=datetime.now(UTC) + timedelta(seconds=1), **over)


def idle(department, url: str, **over) -> Task:
    """An enabled task that never fires by schedule (1 January, 00:00): it runs as a child only."""
    return TaskFactory(department=department, url=url, status=1, cron_expression="0 0 1 1 *",
                       next_execute_time=datetime.now(UTC) + timedelta(days=400), **over)


def link(parent: Task, *children: Task) -> None:
    for i, child in enumerate(children):
        TaskChild.objects.create(parent=parent, child=child, position=i)


run_db = pytest.mark.django_db(transaction=True)


@run_db
def test_parent_success_runs_each_enabled_child_once_linked_to_the_parent_record(node_factory, http_target, department,
                                                                                 org):
    parent = once_soon(department, http_target.url("/parent"), name="parent")
    child = idle(department, http_target.url("/child"), name="child")
    disabled = TaskFactory(department=department, url=http_target.url("/disabled"), name="disabled", status=0)
    link(parent, child, disabled)
    node_factory()
    (parent_row,) = wait_until(finished(parent, 1))
    (row,) = wait_until(finished(child, 1, "CHILD"))
    assert parent_row.status == RecordStatus.SUCCESS and row.status == RecordStatus.SUCCESS
    year, month = month_of(parent_row.scheduled_time)
    assert (row.parent_record_id, row.parent_month) == (parent_row.pk, year * 100 + month)
    assert row.scheduled_time == parent_row.end_time  # the key that makes a repeated trigger harmless
    time.sleep(1.0)
    assert len(records_of(child)) == 1 and http_target.hits("/child") == 1
    assert records_of(disabled) == [] and http_target.hits("/disabled") == 0
    # what the API shows: the child's record points at the parent, the parent's children are listed
    api = Api(org.admin)
    cy, cm = month_of(row.scheduled_time)
    shown = api.get(f"records/{row.pk}", year=cy, month=cm).expect(0).data
    assert (shown["triggerType"], shown["parentRecordId"], shown["parentYear"], shown["parentMonth"]) == (
        "CHILD", parent_row.pk, year, month)
    kids = api.get("records", year=cy, month=cm, parentRecordId=parent_row.pk, parentYear=year,
                   parentMonth=month).expect(0).data
    assert [r["id"] for r in kids["list"]] == [row.pk]
    parent_shown = api.get(f"records/{parent_row.pk}", year=year, month=month).expect(0).data
    assert parent_shown["parentRecordId"] is None and parent_shown["parentYear"] is None
    assert api.get("records", year=cy, month=cm, triggerType="CHILD", taskId=child.pk).expect(0).data["total"] == 1


@run_db
def test_parent_failure_runs_no_child(node_factory, http_target, department):
    http_target.on("/parent", status=500)
    parent = once_soon(department, http_target.url("/parent"))
    child = idle(department, http_target.url("/child"))
    link(parent, child)
    node_factory()
    (row,) = wait_until(finished(parent, 1))
    assert row.status == RecordStatus.FAILED
    time.sleep(1.5)
    assert records_of(child) == [] and http_target.hits("/child") == 0
    assert not TriggerRequest.objects.filter(task=child).exists()


@run_db
def test_a_chain_of_three_runs_in_order(node_factory, http_target, department):
    a = once_soon(department, http_target.url("/a"), name="a")
    b = idle(department, http_target.url("/b"), name="b")
    c = idle(department, http_target.url("/c"), name="c")
    link(a, b)
    link(b, c)
    node_factory()
    (ra,) = wait_until(finished(a, 1))
    (rb,) = wait_until(finished(b, 1, "CHILD"))
    (rc,) = wait_until(finished(c, 1, "CHILD"))
    assert rb.parent_record_id == ra.pk and rc.parent_record_id == rb.pk
    assert ra.end_time <= rb.start_time and rb.end_time <= rc.start_time
    assert TriggerRequest.objects.get(task=c).depth == 2


@run_db
def test_runtime_depth_bound_stops_a_chain_deeper_than_job_child_depth(node_factory, http_target, department, settings):
    settings.DJS_SCHEDULER = replace(settings.DJS_SCHEDULER, child_depth=1)
    a = once_soon(department, http_target.url("/a"))
    b = idle(department, http_target.url("/b"))
    c = idle(department, http_target.url("/c"))
    link(a, b)
    link(b, c)  # written around the API (or the limit was lowered later)
    node_factory()
    wait_until(finished(b, 1, "CHILD"))
    time.sleep(1.5)
    assert records_of(c) == [] and http_target.hits("/c") == 0


@run_db
def test_manual_run_of_a_parent_triggers_its_children(node_factory, http_target, department, org):
    from apps.tasks import services
    from djs_platform.actor import Actor

    parent = TaskFactory(department=department, url=http_target.url("/p"), status=0)
    child = idle(department, http_target.url("/c"))
    link(parent, child)
    node_factory()
    services.task_trigger(actor=Actor(user=org.admin), task_id=parent.pk)
    (prow,) = wait_until(finished(parent, 1, "MANUAL"))
    (crow,) = wait_until(finished(child, 1, "CHILD"))
    assert crow.parent_record_id == prow.pk


@run_db
def test_with_two_nodes_each_child_fires_exactly_once(node_factory, http_target, department, caplog):
    # Small batches and queues, so neither node can take every parent: both must do part of the work. The
    # nodes start first and see each other (heartbeats every 0.5 s) before the parents fall due.
    nodes = [node_factory(claim_batch=2, queue_size=2), node_factory(claim_batch=2, queue_size=2)]
    children = [idle(department, http_target.url(f"/child/{i}"), name=f"child-{i}") for i in range(4)]
    parents = []
    due = datetime.now(UTC) + timedelta(seconds=2.5)
    for i in range(6):
        http_target.on(f"/parent/{i}", delay=1.0)  # a parent holds its node's queue for a second
        parent = TaskFactory(department=department, url=http_target.url(f"/parent/{i}"), name=f"parent-{i}", status=2,
                             cron_expression="0 0 1 1 *", next_execute_time=due)
        link(parent, *children)
        parents.append(parent)
    for parent in parents:
        wait_until(finished(parent, 1), timeout=15)
    for child in children:
        wait_until(finished(child, len(parents), "CHILD"), timeout=20)
    wait_until(lambda: TriggerRequest.objects.filter(claimed_by__isnull=True).count() == 0)
    parent_rows = [records_of(p)[0] for p in parents]
    assert {r.executor for r in parent_rows} == {n.name for n in nodes}, [r.executor for r in parent_rows]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    for child in children:
        rows = records_of(child)
        assert len(rows) == len(parents), [(r.parent_record_id, r.executor) for r in rows]
        assert sorted(r.parent_record_id for r in rows) == sorted(records_of(p)[0].pk for p in parents)
        assert http_target.hits(f"/child/{children.index(child)}") == len(parents)
    assert TriggerRequest.objects.filter(claimed_by__isnull=True).count() == 0


@run_db
def test_a_repeated_flush_does_not_run_a_child_twice(node_factory, http_target, department):
    """A flush retried after its commit went through (the acknowledgement was lost) queues the child's trigger a
    second time; the child's record key (task, parent's end time, CHILD) makes that second request a no-op."""
    from apps.tasks.scheduler import TASK_FIELDS, Fire, results

    parent = once_soon(department, http_target.url("/p"))
    child = idle(department, http_target.url("/c"))
    link(parent, child)
    node = node_factory()
    (prow,) = wait_until(finished(parent, 1))
    wait_until(finished(child, 1, "CHILD"))
    # the same batch written again, as the records thread does when a flush is retried
    row = Task.objects.filter(pk=parent.pk).values(*TASK_FIELDS).get()
    fire = Fire(task=row, scheduled=prow.scheduled_time, trigger="SCHEDULE", record_id=prow.pk)
    results.write_results([(fire, {"status": RecordStatus.SUCCESS, "success": True, "end_time": prow.end_time})],
                          node.name)
    assert TriggerRequest.objects.filter(task=child).count() == 2
    wait_until(lambda: TriggerRequest.objects.filter(claimed_by__isnull=True).count() == 0)
    time.sleep(1.0)
    assert len(records_of(child)) == 1 and http_target.hits("/c") == 1
    assert node.stats["duplicates_prevented"] >= 1


@pytest.mark.django_db
def test_adding_a_shell_child_needs_task_shell(org, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)
    shell = Api(org.admin).post("tasks/shell", {"name": "s", "departmentId": org.a.pk, "cron": "0 3 * * *",
                                                "shellCommand": "true", "status": 0}).expect(0).data
    api = Api(org.member(org.a, {"task:view", "task:create", "task:update"}))
    api.post("tasks/http", body(org.a, "a", childTaskIds=[shell["id"]])).expect(4003)
    assert not Task.objects.filter(name="a").exists()
    assert create(Api(org.admin), org.a, "b", childTaskIds=[shell["id"]])["childTaskIds"] == [shell["id"]]


@pytest.mark.django_db
def test_record_parent_filter_needs_parent_year_and_month_together(admin_api):
    reply = admin_api.get("records", year=2026, month=3, parentRecordId=1, parentYear=2026).expect(4001)
    assert "parentMonth" in reply.data["fields"]
    reply = admin_api.get("records", year=2026, month=3, parentYear=2026, parentMonth=2).expect(4001)
    assert "parentRecordId" in reply.data["fields"]
    assert admin_api.get("records", year=2026, month=3, parentRecordId=1).expect(0).data["total"] == 0


@pytest.mark.django_db(transaction=True)
def test_records_migration_adds_the_parent_columns_to_older_month_tables_and_can_run_twice():
    """Month tables created before records.0002 (here: one with only id and task_id) get parent_record_id,
    parent_month and the parent index; running the migration again changes nothing."""
    from importlib import import_module

    from django.db import connection

    migration = import_module("apps.records.migrations.0002_record_parent_columns")
    table, qn = "record_203101", connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {qn(table)} ({qn('id')} bigint NOT NULL PRIMARY KEY, {qn('task_id')} bigint)")
    try:
        for _ in range(2):
            with connection.schema_editor() as editor:
                migration.add_columns(None, editor)
        with connection.cursor() as cursor:
            columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            constraints = connection.introspection.get_constraints(cursor, table)
            cursor.execute(f"INSERT INTO {qn(table)} (id, task_id, parent_record_id, parent_month) "
                           "VALUES (1, 2, 9007199254740993, 203012)")
            cursor.execute(f"SELECT parent_record_id, parent_month FROM {qn(table)}")
            stored = cursor.fetchone()
        assert {"parent_record_id", "parent_month"} <= columns
        assert constraints[f"ix_{table}_parent"]["columns"] == ["parent_record_id"]
        assert tuple(stored) == (9007199254740993, 203012)  # BIGINT: ids beyond 2**53 survive
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {qn(table)}")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_cannot_close_a_cycle(org):
    """A -> B and B -> A sent at the same moment by two clients: graph edits are serialised (scheduler_state row
    lock), so the second one sees the first one's link and is refused; never both links."""
    import threading

    from django.db import connection

    admin = Api(org.admin)
    for round_ in range(4):
        a = create(admin, org.a, f"a{round_}")
        b = create(admin, org.a, f"b{round_}")
        barrier = threading.Barrier(2)
        replies: dict[str, object] = {}

        def edit(key: str, task: dict, child: dict) -> None:
            client = Api(org.admin)
            try:
                barrier.wait(5)
                replies[key] = client.put(f"tasks/http/{task['id']}", body(org.a, task["name"],
                                                                           childTaskIds=[child["id"]]))
            finally:
                connection.close()

        threads = [threading.Thread(target=edit, args=("ab", a, b)), threading.Thread(target=edit, args=("ba", b, a))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        codes = sorted(reply.code for reply in replies.values())
        assert codes == [0, 4001], {k: (r.code, r.message) for k, r in replies.items()}
        refused_reply = next(r for r in replies.values() if r.code == 4001)
        assert "cycle" in refused_reply.message
        links = set(TaskChild.objects.filter(parent_id__in=[a["id"], b["id"]]).values_list("parent_id", "child_id"))
        assert links in ({(a["id"], b["id"])}, {(b["id"], a["id"])})
