"""Maintenance mode on a real scheduler node (own thread and event loop) against real HTTP targets: while the
platform is paused nothing new is claimed or started, work already running finishes, kills still apply,
heartbeats go on; after resume the missed fire times follow each task's misfire policy and waiting manual
triggers run."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from apps.records.models import RecordStatus
from apps.tasks import services
from apps.tasks.models import SchedulerNode, Task, TriggerRequest
from conftest import Api
from djs_platform.actor import Actor
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until

UTC = timezone.utc
pytestmark = pytest.mark.django_db(transaction=True)


def pause(org, node=None, reason: str = "maintenance") -> datetime:
    """Pause through the service; with ``node``, wait until that node has seen it. Returns the time after
    which nothing new may start."""
    services.scheduler_pause(actor=Actor(user=org.admin), reason=reason)
    if node is not None:
        wait_until(lambda: node.paused, timeout=5, interval=0.02)
    return datetime.now(UTC)


def resume(org, node) -> datetime:
    """Resume at about .3 s past a whole second, so the node's first claim after it (within a poll interval)
    happens before the next fire instant of an every-second task; returns the time just before resuming."""
    time.sleep((1.3 - time.time() % 1.0) % 1.0)
    called = datetime.now(UTC)
    services.scheduler_resume(actor=Actor(user=org.admin))
    wait_until(lambda: not node.paused, timeout=5, interval=0.02)
    return called


def settled(task: Task) -> list:
    """The task's records once none is running (a fire started just before the pause may still be finishing;
    a claimed fire that never started is being given back)."""
    def check():
        rows = records_of(task)
        return rows if all(r.status != RecordStatus.RUNNING for r in rows) else None
    return wait_until(check, timeout=5)


def test_paused_every_second_task_stops_firing_heartbeats_go_on_and_it_resumes(node_factory, http_target, department,
                                                                             org):
    task = TaskFactory(department=department, url=http_target.url("/tick"), misfire_policy="skip")
    # A long lookahead: when the pause comes, the next fires are always claimed already and must be given back.
    node = node_factory(misfire_threshold=1.0, lookahead=3.0)
    wait_until(finished(task, 2), timeout=10)

    paused_at = pause(org, node)
    before = settled(task)
    hits = http_target.hits("/tick")
    beat = SchedulerNode.objects.get(pk=node.node_id).heartbeat_at
    time.sleep(3.0)
    assert records_of(task) == before, "a record was written while paused"
    assert http_target.hits("/tick") == hits, "the target was called while paused"
    row = SchedulerNode.objects.get(pk=node.node_id)
    assert row.status == "up" and row.heartbeat_at > beat, "the node stopped heartbeating while paused"
    mine = next(n for n in Api(org.admin).get("nodes").expect(0).data if n["id"] == node.node_id)
    assert (mine["alive"], mine["paused"], mine["schedulerPaused"]) == (True, True, True)
    task.refresh_from_db()
    assert task.next_execute_time <= datetime.now(UTC)  # due, and waiting for the resume

    resumed_at = resume(org, node)
    rows = wait_until(lambda: [r for r in records_of(task) if r.scheduled_time > resumed_at
                               and r.status == RecordStatus.SUCCESS][:2] or None, timeout=10)
    assert len(rows) >= 1
    during = [r for r in records_of(task) if paused_at + timedelta(seconds=0.1) < r.scheduled_time < resumed_at]
    assert during == [], "skip: the fire times missed during the pause are not run"
    keys = [h.header("Idempotency-Key") for h in http_target.requests("/tick")]
    assert len(keys) == len(set(keys)), "a scheduled second was called twice"
    assert node.stats["duplicates_prevented"] == 0 and node.stats["released"] >= 2


@pytest.mark.parametrize("policy", ["fire_once", "fire_all"])
def test_after_resume_missed_fire_times_follow_the_misfire_policy(node_factory, http_target, department, org, policy):
    task = TaskFactory(department=department, url=http_target.url("/m"), misfire_policy=policy)
    node = node_factory(misfire_threshold=1.0)
    wait_until(finished(task, 1), timeout=10)
    paused_at = pause(org, node)
    settled(task)
    time.sleep(3.5)
    resumed_at = resume(org, node)
    wait_until(lambda: any(r.scheduled_time > resumed_at + timedelta(seconds=1) and r.status != RecordStatus.RUNNING
                           for r in records_of(task)), timeout=10)
    caught_up = [r for r in records_of(task) if paused_at + timedelta(seconds=0.1) < r.scheduled_time <= resumed_at]
    assert all(r.trigger_type == "SCHEDULE" and r.status == RecordStatus.SUCCESS for r in caught_up)
    assert all(r.start_time >= resumed_at for r in caught_up), "a missed fire ran before the resume"
    seconds = [r.scheduled_time for r in caught_up]
    if policy == "fire_once":
        assert len(seconds) == 1, seconds  # the latest missed instant, once
        assert resumed_at - seconds[0] < timedelta(seconds=1.5)
    else:
        assert len(seconds) >= 3, seconds  # every missed second, each once, none skipped
        assert all(b - a == timedelta(seconds=1) for a, b in zip(seconds, seconds[1:])), seconds


def test_manual_trigger_made_while_paused_waits_and_runs_after_resume(node_factory, http_target, department, org):
    http_target.on("/now", status=200)
    task = TaskFactory(department=department, url=http_target.url("/now"), status=0)
    pause(org)
    node = node_factory()  # a node started during the pause knows it before its first tick
    assert node.paused
    reply = Api(org.admin).post(f"tasks/{task.pk}/trigger", {}).expect(0).data
    time.sleep(2.0)
    assert records_of(task) == [] and http_target.hits("/now") == 0
    assert TriggerRequest.objects.get(pk=reply["triggerId"]).claimed_by is None  # waiting in task_trigger

    resumed_at = resume(org, node)
    (row,) = wait_until(finished(task, 1, "MANUAL"), timeout=10)
    assert row.status == RecordStatus.SUCCESS and row.start_time >= resumed_at
    assert http_target.hits("/now") == 1
    assert TriggerRequest.objects.get(pk=reply["triggerId"]).claimed_by == node.name


def test_work_started_before_the_pause_finishes_and_kills_still_apply(node_factory, http_target, department, org):
    http_target.on("/slow", delay=2.0).on("/hang", hang=True)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    slow = TaskFactory(department=department, url=http_target.url("/slow"), status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=soon)
    hang = TaskFactory(department=department, url=http_target.url("/hang"), status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=soon, timeout=60)
    node = node_factory()
    http_target.wait_for(1, "/slow", timeout=10)
    http_target.wait_for(1, "/hang", timeout=10)
    pause(org, node)
    (done,) = wait_until(finished(slow, 1), timeout=10)
    assert done.status == RecordStatus.SUCCESS, "an execution started before the pause is finished"
    services.task_kill(actor=Actor(user=org.admin), task_id=hang.pk)
    (killed,) = wait_until(finished(hang, 1), timeout=5)
    assert (killed.status, killed.error) == (RecordStatus.KILLED, "killed")
    assert node.paused


def test_a_claimed_fire_that_has_not_started_is_given_back_and_runs_once_after_resume(node_factory, http_target,
                                                                                      department, org):
    http_target.on("/later", status=200)
    at = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    task = TaskFactory(department=department, url=http_target.url("/later"), status=2, cron_expression="0 0 1 1 *",
                       next_execute_time=at)
    node = node_factory(lookahead=6.0, misfire_threshold=30.0)
    (claimed,) = wait_until(lambda: records_of(task) or None, timeout=5)  # claimed ahead, waiting for its instant
    assert claimed.status == RecordStatus.RUNNING and claimed.start_time is None
    pause(org, node)
    wait_until(lambda: records_of(task) == [], timeout=5)  # the claim is undone: no record of a fire that never ran
    task.refresh_from_db()
    assert (task.status, task.next_execute_time) == (2, at)  # one-shot again, due at its own instant
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 1.0)
    assert http_target.hits("/later") == 0, "a fire started while paused"

    resume(org, node)
    (row,) = wait_until(finished(task, 1), timeout=10)
    assert (row.status, row.scheduled_time, row.trigger_type) == (RecordStatus.SUCCESS, at, "SCHEDULE")
    assert http_target.hits("/later") == 1
    task.refresh_from_db()
    assert (task.status, task.next_execute_time) == (0, None)  # fired once, then disabled as one-shot tasks are
    assert node.stats["released"] == 1
