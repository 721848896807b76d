"""The result writer: finished fires' results stored in batches, the rollups and child triggers of the rows it
finished in the same transaction (DESIGN §14.1: count only the rows a statement actually changed)."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from apps.records import rollups
from apps.records.models import RecordStatus, record_model
from apps.tasks.scheduler import clock
from apps.tasks.scheduler.children import trigger_children
from apps.tasks.scheduler.fires import Fire
from apps.tasks.scheduler.repository import WRITE_CHUNK, batch_update_sql

log = logging.getLogger("djs.scheduler")


def write_results(batch: list[tuple[Fire, dict[str, Any]]], node: str) -> int:
    """Store finished fires: one UPDATE statement per month table and :data:`WRITE_CHUNK` records. Returns the
    number of CHILD triggers queued."""
    now = clock.utcnow()
    by_table: dict[tuple[int, int], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for fire, result in batch:
        by_table[fire.table].append((fire.record_id, result))
    results = {fire.key: (fire, result) for fire, result in batch}
    finished: list[rollups.Finished] = []
    with transaction.atomic():
        rollups.lock_months_shared(by_table)
        for (year, month), rows in by_table.items():
            table = record_model(year, month)._meta.db_table
            for i in range(0, len(rows), WRITE_CHUNK):
                chunk = rows[i:i + WRITE_CHUNK]
                sql, params = batch_update_sql(table, chunk, now, node)
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    changed = [rid for rid, _ in chunk] if cursor.rowcount == len(chunk) else \
                        changed_by_flush(table, [rid for rid, _ in chunk], now, node)
                if len(changed) < len(chunk):
                    log.warning("%d of %d result(s) not stored in %s: those records were already final "
                                "(declared lost by a survivor, or stored by an earlier attempt of this flush)",
                                len(chunk) - len(changed), len(chunk), table)
                finished += [finished_row(*results[(year, month, rid)]) for rid in changed]
        # The rollups count exactly the rows this statement finished (a record a survivor already declared
        # lost, or one a retried flush finished before, is not counted again).
        rollups.add(finished)
        return trigger_children(batch, node)


def changed_by_flush(table: str, ids: list[int], now: datetime, node: str) -> list[int]:
    """Which of ``ids`` the flush UPDATE just finished (only asked when it changed fewer rows than sent): they
    carry this node as executor and this flush's ``update_time``."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {qn('id')} FROM {qn(table)} WHERE {qn('id')} IN ({', '.join(['%s'] * len(ids))}) "
                       f"AND {qn('executor')} = %s AND {qn('update_time')} = %s AND {qn('status')} <> %s",
                       [*ids, node, connection.ops.adapt_datetimefield_value(now), int(RecordStatus.RUNNING)])
        return [row[0] for row in cursor.fetchall()]


def finished_row(fire: Fire, result: dict[str, Any]) -> rollups.Finished:
    """What the rollups count of a record the result writer finished (its columns as inserted at claim)."""
    return rollups.Finished(fire.task["department_id"], fire.task["id"], fire.task["name"], fire.scheduled,
                            int(result["status"]), fire.trigger, result.get("cost_time"), fire.task["task_type"])
