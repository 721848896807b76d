"""Hostile input over gRPC (issue 16, findings 3 and 13): every request message passes the one validation module
(:mod:`djs_platform.validation`) before a servicer sees it, so a lone surrogate, NUL in a header value, JSON nested
thousands of levels, times whose UTC form overflows and bytes that are no message answer INVALID_ARGUMENT (never
INTERNAL) and change nothing; a bad legacy row still answers."""
from __future__ import annotations

import json

import grpc
import pytest

from apps.tasks.models import Task
from djs_platform import validation
from rpc.generated import data_pb2, mcp_pb2
from rpc.generated import scheduler_pb2 as pb
from rpc.tests.conftest import CALL_TIMEOUT, fails, trailer
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = 3000


def schedule(department, **params) -> pb.ScheduleTaskRequest:
    body = {"name": "probe", "departmentId": department.pk, "cron": "*/5 * * * *", "url": "http://127.0.0.1:9/p",
            "status": 0}
    body.update(params)
    return pb.ScheduleTaskRequest(handler="http", params=json.dumps(body).encode())


@pytest.mark.parametrize("headers", [{"X-Probe": "\udfff"}, '{"X-Probe": "\\udfff"}', {"X-Probe": "a\x00b"}])
def test_schedule_task_with_a_lone_surrogate_or_nul_in_a_header_is_invalid_argument(rpc, org, headers):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(org.admin).scheduler.ScheduleTask(schedule(org.a, headers=headers)))
    assert [k[:len("params.headers")] for k in json.loads(trailer(err, "djs-fields"))] == ["params.headers"]
    assert not Task.objects.filter(name="probe").exists()


def test_schedule_task_with_params_nested_3000_levels_is_invalid_argument(rpc, org):
    params = json.dumps({"name": "probe", "departmentId": org.a.pk})[:-1] + ', "headers": ' + "[" * DEEP + "]" * DEEP
    request = pb.ScheduleTaskRequest(handler="http", params=(params + "}").encode())
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(org.admin).scheduler.ScheduleTask(request))
    assert f"nested deeper than {validation.max_json_depth()}" in err.details()
    assert not Task.objects.filter(name="probe").exists()


def test_a_batch_item_with_deep_params_refuses_the_batch(rpc, org):
    deep = pb.ScheduleTaskRequest(handler="http", params=("[" * DEEP + "]" * DEEP).encode())
    request = pb.BatchScheduleTasksRequest(tasks=[schedule(org.a), deep])
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(org.admin).scheduler.BatchScheduleTasks(request))
    assert list(json.loads(trailer(err, "djs-fields"))) == ["tasks[1].params"]
    assert not Task.objects.filter(name="probe").exists()


def test_get_task_history_with_a_start_time_before_year_1_in_utc_is_invalid_argument(rpc, org):
    request = data_pb2.TaskHistoryRequest(start_time="0001-01-01T00:00:00+14:00")
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(org.admin).data.GetTaskHistory(request))
    assert list(json.loads(trailer(err, "djs-fields"))) == ["start_time"]


def test_get_task_statistics_with_an_end_time_after_year_9999_in_utc_is_invalid_argument(rpc, org):
    request = data_pb2.TaskStatisticsRequest(end_time="9999-12-31T23:59:59-14:00")
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(org.admin).data.GetTaskStatistics(request))
    assert list(json.loads(trailer(err, "djs-fields"))) == ["end_time"]


@pytest.mark.parametrize("start, end", [
    ("0001-01-01T00:00:00Z", ""), ("", "9999-12-31T23:59:59Z"), ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z"),
    ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"),
])
def test_times_at_the_edges_of_the_calendar_never_answer_internal(rpc, org, start, end):
    client = rpc(org.admin)
    for call in (lambda: client.data.GetTaskHistory(data_pb2.TaskHistoryRequest(start_time=start, end_time=end)),
                 lambda: client.data.GetTaskStatistics(data_pb2.TaskStatisticsRequest(start_time=start,
                                                                                      end_time=end))):
        try:
            call()
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (start, end, err.code(), err.details())


@pytest.mark.parametrize("method", ["/scheduler.TaskScheduler/ScheduleTask", "/data.DataService/GetTaskHistory",
                                    "/auth.AuthService/Authenticate"])
def test_an_undecodable_message_is_invalid_argument(rpc, org, channel, method):
    call = channel.unary_unary(method, request_serializer=lambda raw: raw,
                               response_deserializer=lambda raw: raw)
    metadata = (("authorization", f"Bearer {rpc(org.admin).token}"),)
    with pytest.raises(grpc.RpcError) as info:
        call(b"\x0a\xff\xff\xff\xff\x0f", metadata=metadata, timeout=CALL_TIMEOUT)  # a length past the end
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert "could not be decoded" in info.value.details()


def test_an_undecodable_message_without_a_token_is_still_unauthenticated(channel):
    call = channel.unary_unary("/data.DataService/GetTaskHistory", request_serializer=lambda raw: raw,
                               response_deserializer=lambda raw: raw)
    with pytest.raises(grpc.RpcError) as info:
        call(b"\x0a\xff\xff\xff\xff\x0f", timeout=CALL_TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_legacy_task_with_a_lone_surrogate_still_has_a_model_context(rpc, org):
    from django.db import IntegrityError, connection, transaction

    task = TaskFactory(department=org.a, name="legacy", status=0)
    try:  # written before the checks existed; MariaDB's JSON_VALID check refuses it, SQLite keeps it
        with transaction.atomic():
            Task.objects.filter(pk=task.pk).update(headers={"X-Probe": "\udfff"})
        expected = {"X-Probe": "\ufffd"}
    except IntegrityError:
        assert connection.vendor == "mysql"
        expected = None
    reply = rpc(org.admin).mcp.GetModelContext(mcp_pb2.ModelContextRequest(model_id=f"task:{task.pk}"))
    assert json.loads(reply.context)["configuration"]["headers"] == expected
