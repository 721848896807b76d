"""Recovery (DESIGN §14.2): dead-node detection, take-over of never-started work, lost runs and their RECOVERY
re-runs, and adoption of a node's own records after a database error.

What a dead node leaves behind is decided by its start marks (docs/scheduling.md "Crash and recovery"):

- a running record **without** ``start_time`` never reached its target: a survivor takes it over in one
  UPDATE (executor = survivor, ``taken_over_from`` = the dead node) and runs it as a first attempt with the same
  Idempotency-Key; past ``job.misfireThreshold`` the task's misfire policy decides (``skip`` ends it
  ``skipped``);
- a running record **with** ``start_time`` may have reached it: it becomes ``lost``, and when the task has
  retries left one RECOVERY run follows, carrying ``X-DJS-Recovery: 1`` and the same Idempotency-Key.

Every statement that makes a record final adds it to the rollups in the same transaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from apps.records import rollups
from apps.records.models import RecordStatus, TriggerType, record_model
from apps.tasks.models import MisfirePolicy, SchedulerNode, Task
from apps.tasks.scheduler import clock
from apps.tasks.scheduler.fires import Fire
from apps.tasks.scheduler.repository import insert_records, recent_months, task_rows

log = logging.getLogger("djs.scheduler")


@dataclass
class Recovered:
    fires: list[Fire] = field(default_factory=list)  # to run here: taken over (first attempts) and RECOVERY
    taken_over: int = 0
    skipped: int = 0
    lost: int = 0
    rerun: int = 0

    def add(self, other: "Recovered") -> None:
        self.fires += other.fires
        self.taken_over += other.taken_over
        self.skipped += other.skipped
        self.lost += other.lost
        self.rerun += other.rerun


def recover_dead_nodes(*, me: str, my_id: int | None, node_timeout: float, misfire_threshold: float) -> Recovered:
    """Declare silent nodes dead (one survivor wins each) and recover their records."""
    dead = list(SchedulerNode.objects.silent(clock.utcnow(), node_timeout).exclude(pk=my_id)
                .values("id", "name", "heartbeat_at"))
    recovered = Recovered()
    for node in dead:
        # Only one survivor wins the node (compare-and-set on its last heartbeat).
        if not SchedulerNode.objects.filter(pk=node["id"], heartbeat_at=node["heartbeat_at"],
                                            status__in=["up", "stopping"]).update(status="dead"):
            continue
        log.warning("node %s is dead (silent since %s); recovering its work", node["name"], node["heartbeat_at"])
        recovered.add(recover_records_of(node["name"], me=me, misfire_threshold=misfire_threshold))
    return recovered


def recover_records_of(dead: str, *, me: str, misfire_threshold: float) -> Recovered:
    recovered = Recovered()
    now = clock.utcnow()
    for year, month in recent_months(now):
        model = record_model(year, month)
        with transaction.atomic():
            rollups.lock_months_shared([(year, month)])
            rows = list(model.objects.select_for_update().filter(executor=dead, status=RecordStatus.RUNNING))
            if not rows:
                continue
            tasks = {t["id"]: t for t in task_rows(Task.objects.filter(pk__in={r.task_id for r in rows}))}
            late = now - timedelta(seconds=misfire_threshold)
            never = [r for r in rows if r.start_time is None]
            skip = [r for r in never if r.scheduled_time < late and r.trigger_type == TriggerType.SCHEDULE
                    and (r.task_id not in tasks or tasks[r.task_id]["misfire_policy"] == MisfirePolicy.SKIP)]
            take = [r for r in never if r not in skip and r.task_id in tasks]
            gone = [r for r in never if r not in skip and r.task_id not in tasks]  # task deleted meanwhile
            started = [r for r in rows if r.start_time is not None]
            # Locked above, so each UPDATE changes exactly its rows.
            if skip or gone:
                ended = skip + gone
                model.objects.filter(pk__in=[r.pk for r in ended]).update(
                    status=RecordStatus.SKIPPED, success=False, end_time=now, update_time=now, executor=me,
                    taken_over_from=dead, error=f"scheduler node {dead} died before it started")
                rollups.add(rollups.Finished(r.department_id, r.task_id, r.task_name, r.scheduled_time,
                                             RecordStatus.SKIPPED, r.trigger_type, None, r.task_type) for r in ended)
                recovered.skipped += len(ended)
            if take:
                model.objects.filter(pk__in=[r.pk for r in take]).update(executor=me, taken_over_from=dead,
                                                                          update_time=now)
                for r in take:
                    task = tasks[r.task_id]
                    recovered.fires.append(Fire(
                        task=task, scheduled=r.scheduled_time, trigger=r.trigger_type, record_id=r.pk,
                        start_now=r.scheduled_time <= now, kill_seq=task["kill_seq"], retry_times=r.retry_times,
                        parent_record_id=r.parent_record_id, parent_month=r.parent_month,
                        taken_over_from=dead, recovery=r.trigger_type == TriggerType.RECOVERY, shard=r.shard,
                        shard_total=r.shard_total, pinned=r.instance if r.shard_total else None))
                recovered.taken_over += len(take)
            if started:
                model.objects.filter(pk__in=[r.pk for r in started]).update(
                    status=RecordStatus.LOST, success=False, end_time=now, update_time=now,
                    error=f"scheduler node {dead} stopped heartbeating while this ran")
                rollups.add(rollups.Finished(r.department_id, r.task_id, r.task_name, r.scheduled_time,
                                             RecordStatus.LOST, r.trigger_type, None, r.task_type) for r in started)
                recovered.lost += len(started)
                reruns = []
                for r in started:
                    task = tasks.get(r.task_id)
                    if task is None or r.trigger_type == TriggerType.RECOVERY:
                        continue
                    if r.retry_times >= task["max_retry"]:
                        continue  # no retries left: lost stays lost
                    # A broadcast shard is re-run as the same shard, on its instance.
                    reruns.append(Fire(task=task, scheduled=r.scheduled_time, trigger=TriggerType.RECOVERY,
                                       start_now=True, kill_seq=task["kill_seq"], retry_times=r.retry_times + 1,
                                       parent_record_id=r.parent_record_id, parent_month=r.parent_month,
                                       recovery=True, shard=r.shard, shard_total=r.shard_total,
                                       pinned=r.instance if r.shard_total else None))
                insert_records(reruns, me)
                reruns = [f for f in reruns if f.record_id]
                recovered.fires += reruns
                recovered.rerun += len(reruns)
    return recovered


def adopt_orphans(*, me: str, owned: set[tuple[int, int, int]]) -> list[Fire]:
    """Running records of this node that no coroutine owns (``owned``: the keys of its fires in flight or
    waiting for their flush): the claim committed but the node saw an error (the connection died during
    COMMIT). Nobody else touches them while this node heartbeats, so running them now keeps exactly-once;
    overdue ones start at once."""
    fires: list[Fire] = []
    now = clock.utcnow()
    for year, month in recent_months(now):
        mine = [rid for y, m, rid in owned if (y, m) == (year, month)]
        rows = list(record_model(year, month).objects.filter(executor=me, status=RecordStatus.RUNNING)
                    .exclude(pk__in=mine)
                    .values("id", "task_id", "scheduled_time", "trigger_type", "retry_times", "start_time", "shard",
                            "shard_total", "instance"))
        if not rows:
            continue
        tasks = {t["id"]: t for t in task_rows(Task.objects.filter(pk__in={r["task_id"] for r in rows}))}
        for row in rows:
            task = tasks.get(row["task_id"])
            if task is None:
                continue
            log.warning("adopting record %s of task %s (claimed, then a database error hid it)", row["id"],
                        row["task_id"])
            fires.append(Fire(task=task, scheduled=row["scheduled_time"], trigger=row["trigger_type"],
                              record_id=row["id"], start_now=row["scheduled_time"] <= now,
                              kill_seq=task["kill_seq"], retry_times=row["retry_times"],
                              mark_at=row["start_time"], start_mark=row["start_time"], shard=row["shard"],
                              shard_total=row["shard_total"],
                              pinned=row["instance"] if row["shard_total"] else None))
    return fires
