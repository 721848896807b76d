"""scheduler.TaskScheduler: every method's success and error paths, through real gRPC calls."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import grpc
import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.records.models import RecordStatus
from apps.tasks.models import SchedulerNode, Task, TriggerRequest
from conftest import Api
from rpc.generated import scheduler_pb2 as pb
from rpc.tests.conftest import fails, trailer
from tests.factories import TaskFactory, add_record
from tests.isolation import ACTOR_CODES

pytestmark = pytest.mark.django_db(transaction=True)

HTTP_PARAMS = {"url": "http://127.0.0.1:9/hook", "httpMethod": "post", "body": '{"x": 1}',
               "headers": {"X-Team": "ops"}, "timezone": "Asia/Shanghai", "description": "nightly export",
               "retryInterval": 10, "concurrencyPolicy": "forbid", "misfirePolicy": "fire_once"}
GRPC_PARAMS = {"grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo", "grpcParams": {"text": "hi"},
               "fallbackGrpcService": "127.0.0.1:50052/djs.test.Target"}


def request(department=None, *, handler: str = "http", params: dict | bytes | None = None,
            **fields) -> pb.ScheduleTaskRequest:
    body = params if isinstance(params, bytes) else json.dumps(HTTP_PARAMS if params is None else params).encode()
    values = {"name": "export", "cron_expression": "0 2 * * *", "handler": handler, "params": body, **fields}
    if department is not None:
        values.setdefault("department_id", department.pk)
    return pb.ScheduleTaskRequest(**values)


@pytest.fixture
def member(org):
    return org.member(org.a, ACTOR_CODES)


# --- ScheduleTask ------------------------------------------------------------------------------------

def test_schedule_http_task(rpc, org, member):
    reply = rpc(member).scheduler.ScheduleTask(request(org.a, max_retry=2, timeout=15))
    assert reply.success and reply.message == f"task {reply.task_id} created"
    task = Task.objects.get(pk=reply.task_id)
    assert (task.name, task.task_type, task.department_id, task.cron_expression, task.timezone) == (
        "export", "HTTP", org.a.pk, "0 2 * * *", "Asia/Shanghai")
    assert (task.url, task.http_method, task.body, task.headers) == (
        "http://127.0.0.1:9/hook", "POST", '{"x": 1}', {"X-Team": "ops"})
    assert (task.max_retry, task.timeout, task.retry_interval, task.concurrency_policy, task.misfire_policy) == (
        2, 15, 10, "forbid", "fire_once")
    assert (task.status, task.creator_id, task.description) == (1, member.pk, "nightly export")
    assert task.next_execute_time is not None and task.next_execute_time > timezone.now()
    audit = AuditLog.objects.get(action="task.create")
    assert (audit.object_id, audit.user_id, audit.via, audit.client_ip, audit.department_id) == (
        str(task.pk), member.pk, "grpc", "127.0.0.1", org.a.pk)


def test_schedule_grpc_task(rpc, org, member):
    reply = rpc(member).scheduler.ScheduleTask(request(org.a1, handler=" gRPC ", params=GRPC_PARAMS))
    task = Task.objects.get(pk=reply.task_id)
    assert (task.task_type, task.grpc_service, task.grpc_method, json.loads(task.grpc_params)) == (
        "GRPC", "127.0.0.1:50051/djs.test.Target", "Echo", {"text": "hi"})
    assert (task.fallback_grpc_service, task.fallback_grpc_method, task.url, task.department_id) == (
        "127.0.0.1:50052/djs.test.Target", "Echo", None, org.a1.pk)


def test_top_level_fields_override_params_and_zero_means_unset(rpc, org, member):
    params = {**HTTP_PARAMS, "name": "from-params", "cron": "*/5 * * * *", "retryCount": 1,
              "departmentId": org.a.pk, "timeout": 5, "status": 2}
    client = rpc(member)
    top = Task.objects.get(pk=client.scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        name="top", cron_expression="0 3 * * *", handler="http", params=json.dumps(params).encode(), max_retry=3,
        department_id=org.a1.pk, timeout=20, status=0)).task_id)
    assert (top.name, top.cron_expression, top.max_retry, top.department_id, top.timeout, top.status) == (
        "top", "0 3 * * *", 3, org.a1.pk, 20, 0)
    assert top.next_execute_time is None  # disabled
    from_params = Task.objects.get(pk=client.scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        handler="http", params=json.dumps(params).encode())).task_id)
    assert (from_params.name, from_params.cron_expression, from_params.max_retry, from_params.department_id,
            from_params.timeout, from_params.status) == ("from-params", "*/5 * * * *", 1, org.a.pk, 5, 2)


@pytest.mark.parametrize("fields, params, message", [
    ({"handler": "bash"}, None, "handler: must be 'http', 'grpc' or 'shell'"),
    ({"handler": ""}, None, "handler: must be 'http', 'grpc' or 'shell'"),
    ({"handler": "shell"}, None, "params.body: unknown field"),  # validated as a SHELL body
    ({}, b"{not json", "params: invalid JSON"),
    ({}, b"\xff\xfe", "params: invalid JSON"),
    ({}, b"[1, 2]", "params: must be a JSON object"),
    ({"cron_expression": "61 * * * *"}, None, "cron_expression: "),
    ({"cron_expression": ""}, {**HTTP_PARAMS, "cron": "bad"}, "params.cron: "),
    ({"max_retry": -1}, None, "max_retry: "),
    ({"timeout": 100000}, None, "timeout: "),
    ({}, {**HTTP_PARAMS, "id": 5}, "params.id: unknown field"),
    ({}, {k: v for k, v in HTTP_PARAMS.items() if k != "url"}, "params.url: This field is required."),
    ({}, {**HTTP_PARAMS, "url": "ftp://x/y"}, "params.url: must be an absolute http:// or https:// URL"),
    ({}, {**HTTP_PARAMS, "retryInterval": "5"}, "params.retryInterval: A valid integer is required."),
    ({}, {**HTTP_PARAMS, "timezone": "Mars/Base"}, "params.timezone: "),
    ({"status": 7}, None, "status: "),
    ({"handler": "grpc"}, {**GRPC_PARAMS, "grpcService": "nohost"}, "params.grpcService: "),
    ({"name": " "}, None, "name: This field may not be blank."),
])
def test_bad_input_is_invalid_argument_naming_the_field_and_creates_nothing(rpc, org, member, fields, params,
                                                                             message):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(member).scheduler.ScheduleTask(request(org.a, params=params, **fields)))
    assert err.details().startswith(message), err.details()
    assert trailer(err, "djs-code") == "4001"
    assert not Task.objects.exists() and not AuditLog.objects.filter(action="task.create").exists()


@pytest.mark.parametrize("params", [
    {**HTTP_PARAMS, "cron": "* * *"}, {**HTTP_PARAMS, "headers": {"Host": "x"}}, {**HTTP_PARAMS, "httpMethod": "TRACE"},
    {**HTTP_PARAMS, "body": 5}, {**HTTP_PARAMS, "unknown": 1}, {**HTTP_PARAMS, "fallbackUrl": "nope"}])
def test_validation_is_the_same_as_rest(rpc, org, member, params):
    body = {**params, "name": "n", "departmentId": org.a.pk, "status": 1}
    rest = Api(member).post("tasks/http", body).expect(4001)
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(member).scheduler.ScheduleTask(
        pb.ScheduleTaskRequest(handler="http", params=json.dumps(body).encode())))
    assert err.details() == "params." + rest.message
    assert json.loads(trailer(err, "djs-fields")) == {f"params.{k}": v for k, v in rest.data["fields"].items()}


def test_foreign_department_is_invalid_and_creates_nothing(rpc, org, member):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(member).scheduler.ScheduleTask(request(org.b)))
    assert err.details() == f"department_id: department {org.b.pk} not found"
    in_params = {**HTTP_PARAMS, "departmentId": org.hq.pk}
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(member).scheduler.ScheduleTask(request(params=in_params)))
    assert err.details() == f"params.departmentId: department {org.hq.pk} not found"
    assert not Task.objects.exists()


def test_schedule_needs_task_create(rpc, org):
    viewer = org.member(org.a, {"task:view"})
    err = fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(viewer).scheduler.ScheduleTask(request(org.a)))
    assert err.details() == "permission denied: requires task:create"
    assert not Task.objects.exists()


# --- the seed's sample: handler, params {"url": ...}, max_retry, nothing else (issue 18 item 3) ----------

def test_what_a_request_leaves_out_gets_grpc_s_defaults(rpc, org, member):
    reply = rpc(member).scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        name="ExampleTask", cron_expression="*/5 * * * *", handler="http",
        params=b'{"url": "http://example.com/api"}', max_retry=3))
    task = Task.objects.get(pk=reply.task_id)
    assert (task.department_id, task.http_method, task.url, task.body, task.max_retry, task.status) == (
        member.department_id, "GET", "http://example.com/api", None, 3, 1)
    assert (task.timeout, task.timezone, task.creator_id) == (30, settings.TIME_ZONE, member.pk)
    assert task.next_execute_time is not None
    with_body = rpc(member).scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        name="posts", cron_expression="@daily", handler="http",
        params=json.dumps({"url": "http://example.com/api", "body": '{"a": 1}'}).encode()))
    assert Task.objects.get(pk=with_body.task_id).http_method == "POST"
    explicit = rpc(member).scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        name="puts", cron_expression="@daily", handler="http",
        params=json.dumps({"url": "http://example.com/api", "body": "x", "httpMethod": "put"}).encode()))
    assert Task.objects.get(pk=explicit.task_id).http_method == "PUT"
    grpc_task = rpc(member).scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        name="rpc", cron_expression="@daily", handler="grpc",
        params=json.dumps({"grpcService": "127.0.0.1:50051/djs.test.Target", "grpcMethod": "Echo"}).encode()))
    assert Task.objects.get(pk=grpc_task.task_id).department_id == member.department_id


def test_the_seed_sample_still_needs_authorization_metadata(rpc, org):
    request = pb.ScheduleTaskRequest(name="ExampleTask", cron_expression="*/5 * * * *", handler="http",
                                     params=b'{"url": "http://example.com/api"}', max_retry=3)
    fails(grpc.StatusCode.UNAUTHENTICATED, lambda: rpc().scheduler.ScheduleTask(request))
    assert not Task.objects.exists()


def test_errors_name_the_field_the_caller_sent_or_left_out(rpc, org, member):
    client = rpc(member)
    sample = {"name": "x", "cron_expression": "@daily", "handler": "http"}
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: client.scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        **sample, params=b'{"url": "http://metadata.google.internal/computeMetadata/v1/"}')))
    assert err.details() == ("params.url: egress denied: host metadata.google.internal is a cloud metadata "
                             "endpoint")
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: client.scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        **sample, params=b'{"url": "http://example.com/", "retryCount": 101}')))
    assert json.loads(trailer(err, "djs-fields")) == {"params.retryCount": [
        "Ensure this value is less than or equal to 100."]}
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: client.scheduler.ScheduleTask(pb.ScheduleTaskRequest(
        **sample, params=b'{"url": "http://example.com/", "childTaskIds": [999999999]}')))
    assert err.details() == "params.childTaskIds: task 999999999 not found"  # a service's error, renamed alike
    assert not Task.objects.exists()


# --- BatchScheduleTasks --------------------------------------------------------------------------------

def test_batch_reports_each_item_and_applies_the_good_ones(rpc, org, member):
    items = [request(org.a, name="one"), request(org.a, name="two", cron_expression="nope"),
             request(org.b, name="three"), request(org.a1, name="four", handler="grpc", params=GRPC_PARAMS)]
    reply = rpc(member).scheduler.BatchScheduleTasks(pb.BatchScheduleTasksRequest(tasks=items))
    assert [r.success for r in reply.results] == [True, False, False, True]
    assert not reply.overall_success and reply.message == "2 of 4 tasks created"
    assert reply.results[1].message.startswith("tasks[1]: INVALID_ARGUMENT: cron_expression: ")
    assert reply.results[2].message == f"tasks[2]: INVALID_ARGUMENT: department_id: department {org.b.pk} not found"
    assert reply.results[1].task_id == reply.results[2].task_id == 0
    created = dict(Task.objects.values_list("pk", "name"))
    assert created == {reply.results[0].task_id: "one", reply.results[3].task_id: "four"}
    assert AuditLog.objects.filter(action="task.create", via="grpc").count() == 2


def test_batch_all_good_is_overall_success(rpc, org, member):
    items = [request(org.a, name=f"t{i}") for i in range(3)]
    reply = rpc(member).scheduler.BatchScheduleTasks(pb.BatchScheduleTasksRequest(tasks=items))
    assert reply.overall_success and reply.message == "3 of 3 tasks created"
    assert sorted(r.task_id for r in reply.results) == sorted(Task.objects.values_list("pk", flat=True))


def test_batch_bounds_and_permission(rpc, org, member):
    client = rpc(member)
    too_many = pb.BatchScheduleTasksRequest(tasks=[request(org.a, name=f"t{i}") for i in range(101)])
    assert "at most 100" in fails(grpc.StatusCode.INVALID_ARGUMENT,
                                  lambda: client.scheduler.BatchScheduleTasks(too_many)).details()
    fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: client.scheduler.BatchScheduleTasks(pb.BatchScheduleTasksRequest()))
    viewer = org.member(org.a, {"task:view"})
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(viewer).scheduler.BatchScheduleTasks(
        pb.BatchScheduleTasksRequest(tasks=[request(org.a)])))
    assert not Task.objects.exists()


# --- PauseTask, ResumeTask ---------------------------------------------------------------------------

def test_pause_and_resume(rpc, org, member):
    task = TaskFactory(department=org.a, status=1, cron_expression="*/10 * * * *",
                       next_execute_time=timezone.now() + timedelta(minutes=5))
    client = rpc(member)
    paused = client.scheduler.PauseTask(pb.TaskRequest(task_id=task.pk))
    assert (paused.success, paused.message) == (True, f"task {task.pk} paused")
    task.refresh_from_db()
    assert (task.status, task.next_execute_time) == (0, None)
    resumed = client.scheduler.ResumeTask(pb.TaskRequest(task_id=task.pk))
    task.refresh_from_db()
    assert task.status == 1 and task.next_execute_time > timezone.now()
    assert resumed.message.startswith(f"task {task.pk} resumed; next fire 20")
    changes = [a.changes for a in AuditLog.objects.filter(action="task.status", via="grpc").order_by("id")]
    assert changes == [{"status": {"old": 1, "new": 0}}, {"status": {"old": 0, "new": 1}}]


def test_pause_and_resume_errors(rpc, org):
    task = TaskFactory(department=org.a, status=1, next_execute_time=None)
    viewer = rpc(org.member(org.a, {"task:view"}))
    for method in ("PauseTask", "ResumeTask"):
        err = fails(grpc.StatusCode.PERMISSION_DENIED,
                    lambda: getattr(viewer.scheduler, method)(pb.TaskRequest(task_id=task.pk)))
        assert err.details() == "permission denied: requires task:update"
        admin = rpc(org.admin)
        assert fails(grpc.StatusCode.NOT_FOUND, lambda: getattr(admin.scheduler, method)(
            pb.TaskRequest(task_id=10**12))).details() == "task not found"
        assert fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: getattr(admin.scheduler, method)(
            pb.TaskRequest())).details() == "task_id: required: a positive id"
    task.refresh_from_db()
    assert task.status == 1


# --- GetTaskStatus -----------------------------------------------------------------------------------

def test_task_status_aggregates_the_records(rpc, org, make_record):
    now = timezone.now()
    task = TaskFactory(department=org.a, status=1, last_execute_time=now - timedelta(minutes=1),
                       next_execute_time=now + timedelta(minutes=59))
    other = TaskFactory(department=org.a, status=0)
    make_record(task, scheduled=now - timedelta(seconds=40), cost=100)
    make_record(task, scheduled=now - timedelta(seconds=30), cost=300)
    make_record(task, scheduled=now - timedelta(seconds=20), status=RecordStatus.FAILED, cost=200)
    make_record(task, scheduled=now - timedelta(seconds=10), status=RecordStatus.RUNNING, cost=None, retry_times=2)
    make_record(task, scheduled=now - timedelta(days=40), cost=400)     # an earlier month, still counted
    make_record(task, scheduled=now - timedelta(days=400), cost=9999)   # older than 12 months: not counted
    make_record(other, scheduled=now - timedelta(seconds=5), cost=5000)  # another task
    viewer = org.member(org.a, {"task:view"})  # counts need task:view only
    reply = rpc(viewer).scheduler.GetTaskStatus(pb.TaskRequest(task_id=task.pk))
    assert (reply.task_id, reply.status, reply.success_count, reply.fail_count, reply.running_count) == (
        task.pk, 1, 3, 1, 1)
    assert reply.avg_execution_time == pytest.approx(250.0)
    assert reply.retry_count == 2  # retries used by the latest execution
    assert reply.last_execute_time == (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert reply.next_execute_time == (now + timedelta(minutes=59)).isoformat().replace("+00:00", "Z")


def test_task_status_of_a_task_never_run(rpc, org):
    task = TaskFactory(department=org.a, status=0)
    reply = rpc(org.admin).scheduler.GetTaskStatus(pb.TaskRequest(task_id=task.pk))
    assert (reply.status, reply.last_execute_time, reply.next_execute_time, reply.success_count,
            reply.fail_count, reply.avg_execution_time, reply.retry_count) == (0, "", "", 0, 0, 0.0, 0)


def test_task_status_errors(rpc, org):
    task = TaskFactory(department=org.a, status=0)
    nobody = rpc(org.member(org.a, {"record:view"}))
    assert fails(grpc.StatusCode.PERMISSION_DENIED, lambda: nobody.scheduler.GetTaskStatus(
        pb.TaskRequest(task_id=task.pk))).details() == "permission denied: requires task:view"
    fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(org.admin).scheduler.GetTaskStatus(pb.TaskRequest(task_id=10**12)))
    fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(org.admin).scheduler.GetTaskStatus(pb.TaskRequest(task_id=-3)))


# --- ExecuteTaskImmediately, KillTask, DeleteTask -----------------------------------------------------

def test_execute_immediately_without_a_live_node_is_a_failed_precondition(rpc, org, member):
    task = TaskFactory(department=org.a, status=0)
    err = fails(grpc.StatusCode.FAILED_PRECONDITION,
                lambda: rpc(member).scheduler.ExecuteTaskImmediately(pb.TaskRequest(task_id=task.pk)))
    assert "no live scheduler node" in err.details() and trailer(err, "djs-code") == "4009"
    assert not TriggerRequest.objects.exists()


def test_execute_immediately_queues_a_manual_run(rpc, org, member):
    now = timezone.now()
    SchedulerNode.objects.create(name="node-x", host="h", pid=1, started_at=now, heartbeat_at=now)
    task = TaskFactory(department=org.a, status=0)
    reply = rpc(member).scheduler.ExecuteTaskImmediately(pb.TaskRequest(task_id=task.pk))
    trigger = TriggerRequest.objects.get()
    assert (trigger.task_id, trigger.requested_by_id, trigger.claimed_by) == (task.pk, member.pk, None)
    assert reply.success and reply.message == f"task {task.pk} queued to run now (trigger {trigger.pk})"
    assert AuditLog.objects.get(action="task.trigger").via == "grpc"
    viewer = rpc(org.member(org.a, {"task:view"}))
    fails(grpc.StatusCode.PERMISSION_DENIED,
          lambda: viewer.scheduler.ExecuteTaskImmediately(pb.TaskRequest(task_id=task.pk)))
    fails(grpc.StatusCode.NOT_FOUND,
          lambda: rpc(member).scheduler.ExecuteTaskImmediately(pb.TaskRequest(task_id=10**12)))
    assert TriggerRequest.objects.count() == 1


def test_kill_task(rpc, org, member):
    task = TaskFactory(department=org.a, status=0)
    reply = rpc(member).scheduler.KillTask(pb.TaskRequest(task_id=task.pk))
    assert reply.success and "kill requested" in reply.message
    assert Task.objects.get(pk=task.pk).kill_seq == task.kill_seq + 1
    assert AuditLog.objects.get(action="task.kill").via == "grpc"
    viewer = rpc(org.member(org.a, {"task:view", "task:update"}))
    assert fails(grpc.StatusCode.PERMISSION_DENIED, lambda: viewer.scheduler.KillTask(
        pb.TaskRequest(task_id=task.pk))).details() == "permission denied: requires task:execute"
    fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(member).scheduler.KillTask(pb.TaskRequest(task_id=10**12)))
    assert Task.objects.get(pk=task.pk).kill_seq == task.kill_seq + 1


def test_delete_task(rpc, org, member):
    task = TaskFactory(department=org.a, status=0)
    viewer = rpc(org.member(org.a, {"task:view", "task:update"}))
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: viewer.scheduler.DeleteTask(pb.TaskRequest(task_id=task.pk)))
    assert Task.objects.filter(pk=task.pk).exists()
    reply = rpc(member).scheduler.DeleteTask(pb.TaskRequest(task_id=task.pk))
    assert (reply.success, reply.message) == (True, f"task {task.pk} deleted")
    assert not Task.objects.filter(pk=task.pk).exists()
    audit = AuditLog.objects.get(action="task.delete")
    assert (audit.object_id, audit.via) == (str(task.pk), "grpc")
    fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(member).scheduler.DeleteTask(pb.TaskRequest(task_id=task.pk)))


@pytest.mark.django_db(transaction=True)
def test_kill_execution_refuses_a_finished_or_foreign_execution_like_rest(rpc, org):
    task = TaskFactory(department=org.a)
    finished = add_record(task_id=task.pk, task_name=task.name, department_id=org.a.pk,
                          scheduled_time=datetime(2026, 3, 4, tzinfo=dt_timezone.utc), status=RecordStatus.FAILED, executor="n1")
    client = rpc(org.admin)
    error = fails(grpc.StatusCode.FAILED_PRECONDITION, lambda: client.scheduler.KillExecution(
        pb.KillExecutionRequest(record_id=finished.pk, year=2026, month=3)))
    assert f"execution {finished.pk} is not running" in error.details()
    fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(org.member(org.b)).scheduler.KillExecution(
        pb.KillExecutionRequest(record_id=finished.pk, year=2026, month=3)))
