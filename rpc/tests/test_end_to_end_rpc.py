"""End to end over gRPC: ScheduleTask -> a real scheduler node fires it against a real HTTP target ->
GetTaskHistory shows the record; ExecuteTaskImmediately and KillTask act on real executions."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from apps.records.models import RecordStatus
from apps.tasks.scheduler import start_in_thread
from conftest import LOOPBACK_EGRESS, NO_RETENTION
from rpc.generated import data_pb2, scheduler_pb2
from rpc.tests.conftest import delete_records_of
from tests.isolation import ACTOR_CODES

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def node(settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    fast = replace(settings.DJS_SCHEDULER, poll_interval=0.2, lookahead=1.0, heartbeat_interval=0.5,
                   node_timeout=3.0, misfire_threshold=5.0, shutdown_grace=5.0)
    node, thread = start_in_thread(fast, retention=NO_RETENTION)
    deadline = time.monotonic() + 10
    while node.node_id is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert node.node_id is not None, "scheduler node did not register"
    yield node
    node.stop()
    thread.join(20)


@pytest.fixture
def created_tasks():
    ids: list[int] = []
    yield ids
    delete_records_of(*ids)


def wait_for(fetch, predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last value: {value}")
        time.sleep(0.2)


def schedule(client, org, url: str, *, cron: str = "* * * * * *", status: int = 1, name: str = "e2e") -> int:
    params = {"url": url, "httpMethod": "GET", "timeout": 30}
    reply = client.scheduler.ScheduleTask(scheduler_pb2.ScheduleTaskRequest(
        name=name, cron_expression=cron, handler="http", params=json.dumps(params).encode(),
        department_id=org.a.pk, status=status))
    assert reply.success
    return reply.task_id


def history(client, task_id: int) -> list:
    return list(client.data.GetTaskHistory(data_pb2.TaskHistoryRequest(task_id=task_id, limit=100)).records)


def test_scheduled_task_fires_and_its_record_is_in_the_history(rpc, org, http_target, node, created_tasks):
    http_target.on("/tick", status=200, body="pong")
    client = rpc(org.member(org.a, ACTOR_CODES))
    task_id = schedule(client, org, http_target.url("/tick"))
    created_tasks.append(task_id)
    rows = wait_for(lambda: history(client, task_id),
                    lambda rows: any(r.status == RecordStatus.SUCCESS for r in rows))
    done = next(r for r in rows if r.status == RecordStatus.SUCCESS)
    assert (done.task_id, done.task_name, done.success, done.status_code, done.response, done.trigger_type) == (
        task_id, "e2e", True, 200, "pong", "SCHEDULE")
    assert done.execute_time.endswith("Z") and done.cost_time >= 0
    hit = http_target.requests("/tick")[0]
    assert hit.header("Idempotency-Key").startswith(f"djs-{task_id}-")
    status = client.scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=task_id))
    assert status.success_count >= 1 and status.last_execute_time and status.next_execute_time

    client.scheduler.PauseTask(scheduler_pb2.TaskRequest(task_id=task_id))
    time.sleep(1.5)  # fires already claimed before the pause may still land
    settled = http_target.hits("/tick")
    time.sleep(1.5)
    assert http_target.hits("/tick") == settled, "a paused task kept firing"


def test_execute_immediately_runs_now_and_kill_stops_it(rpc, org, http_target, node, created_tasks):
    http_target.on("/once", status=200, body="manual")
    http_target.on("/hang", hang=True)
    client = rpc(org.member(org.a, ACTOR_CODES))
    once = schedule(client, org, http_target.url("/once"), cron="0 0 1 1 *", status=0, name="manual")
    created_tasks.append(once)
    client.scheduler.ExecuteTaskImmediately(scheduler_pb2.TaskRequest(task_id=once))
    (row,) = wait_for(lambda: history(client, once), lambda rows: rows and rows[0].status != RecordStatus.RUNNING)
    assert (row.status, row.trigger_type, row.response) == (RecordStatus.SUCCESS, "MANUAL", "manual")

    hanging = schedule(client, org, http_target.url("/hang"), cron="0 0 1 1 *", status=0, name="hang")
    created_tasks.append(hanging)
    client.scheduler.ExecuteTaskImmediately(scheduler_pb2.TaskRequest(task_id=hanging))
    http_target.wait_for(1, "/hang", timeout=10)
    running = client.scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=hanging))
    assert running.running_count == 1
    asked = time.monotonic()
    client.scheduler.KillTask(scheduler_pb2.TaskRequest(task_id=hanging))
    (killed,) = wait_for(lambda: history(client, hanging),
                         lambda rows: rows and rows[0].status != RecordStatus.RUNNING, timeout=5)
    assert time.monotonic() - asked < 3
    assert (killed.status, killed.success, killed.error) == (RecordStatus.KILLED, False, "killed")
