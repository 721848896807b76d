"""Child triggering: a parent's success queues its children's CHILD runs (docs/child-tasks.md)."""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.conf import settings

from apps.records.models import RecordStatus, TriggerType, record_model
from apps.tasks.models import TaskChild, TaskStatus, TriggerRequest
from apps.tasks.scheduler.fires import Fire
from apps.tasks.scheduler.repository import WRITE_CHUNK

log = logging.getLogger("djs.scheduler")


def trigger_children(batch: list[tuple[Fire, dict[str, Any]]], node: str) -> int:
    """Queue a CHILD trigger for each enabled child of every task that succeeded in ``batch``, in the transaction
    of the results UPDATE (so a trigger exists exactly when the success is committed); returns how many.

    Only records the UPDATE really finished count (it is conditional: a record a survivor marked lost stays
    lost). A flush retried after a commit whose acknowledgement was lost queues the triggers again; each is
    keyed by (child, parent's end time, CHILD), so the month table's unique key runs the child once. Children
    below ``job.childDepth`` levels are not run (the API refuses such chains; this guards a lowered setting)."""
    # A broadcast fire triggers its children once: when its shard 0 succeeds (docs/executors.md "Broadcast").
    # Only tasks that had children when claimed (``has_children`` of the claim's snapshot) cost a query here.
    succeeded = [(fire, result) for fire, result in batch
                 if result.get("status") == RecordStatus.SUCCESS and fire.shard == 0
                 and fire.task.get("has_children", True)]
    if not succeeded:
        return 0
    links: dict[int, list[int]] = defaultdict(list)
    for parent_id, child_id in (TaskChild.objects
                                .filter(parent_id__in={fire.task["id"] for fire, _ in succeeded},
                                        child__status__in=[TaskStatus.ENABLED, TaskStatus.ONE_SHOT])
                                .order_by("parent_id", "position", "id").values_list("parent_id", "child_id")):
        links[parent_id].append(child_id)
    if not links:
        return 0
    by_table: dict[tuple[int, int], list[Fire]] = defaultdict(list)
    for fire, _ in succeeded:
        if fire.task["id"] in links:
            by_table[fire.table].append(fire)
    limit = int(settings.DJS_SCHEDULER.child_depth)
    requests: list[TriggerRequest] = []
    for (year, month), fires in by_table.items():
        model, ids, done = record_model(year, month), [f.record_id for f in fires], {}
        for i in range(0, len(ids), WRITE_CHUNK):
            done.update(model.objects.filter(pk__in=ids[i:i + WRITE_CHUNK], status=RecordStatus.SUCCESS,
                                             executor=node).values_list("id", "end_time"))
        for fire in fires:
            if fire.record_id not in done:
                continue
            if fire.depth + 1 > limit:
                log.warning("task %s succeeded (record %s) at child level %s: its children are not run "
                            "(job.childDepth %s)", fire.task["id"], fire.record_id, fire.depth, limit)
                continue
            for child_id in links[fire.task["id"]]:
                requests.append(TriggerRequest(
                    task_id=child_id, requested_at=done[fire.record_id], trigger_type=TriggerType.CHILD,
                    parent_record_id=fire.record_id, parent_month=year * 100 + month, depth=fire.depth + 1))
    if requests:
        TriggerRequest.objects.bulk_create(requests)
    return len(requests)
