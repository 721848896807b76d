"""Rollups recounted from raw rows, for tests that assert rollups == raw (apps/records/tests/test_rollups.py in
process, tests/test_rollups_cluster.py through ``manage.py shell`` against real nodes' database).

The raw side is counted here independently (Python over every raw row), never through the rollup code's
queries; only the day and bucket functions are shared, as they define the cells."""
from __future__ import annotations

from collections import defaultdict

from apps.records import rollups
from apps.records.models import (
    FINAL_STATUSES,
    RollupCost,
    RollupCount,
    existing_record_tables,
    record_model,
)


def months_with_raw_rows() -> set[tuple[int, int]]:
    return {(int(name[7:11]), int(name[11:13])) for name in existing_record_tables(refresh=True)}


def raw_cells() -> tuple[dict, dict]:
    """Every cell of every grain, recounted from the raw rows of every month table."""
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    costs: dict[tuple, int] = defaultdict(int)
    for year, month in months_with_raw_rows():
        for r in record_model(year, month).objects.filter(status__in=FINAL_STATUSES):
            day = rollups.local_day(r.scheduled_time)
            for grain, key_id, period in ((1, r.department_id, day), (2, r.task_id, day.replace(day=1)),
                                          (3, r.task_id, day), (4, r.department_id, day.replace(day=1))):
                cell = counts[(grain, key_id, r.department_id, period, r.status, r.trigger_type, r.task_type)]
                cell[0] += 1
                if r.cost_time is not None:
                    cell[1] += r.cost_time
                    cell[2] += 1
                    costs[(grain, key_id, r.department_id, period, rollups.bucket_of(r.cost_time))] += 1
    return {k: tuple(v) for k, v in counts.items()}, dict(costs)


def rolled_cells(months: set[tuple[int, int]] | None = None) -> tuple[dict, dict]:
    """Every rollup cell (of ``months`` only, when given: (year, month) of the cell's local day)."""
    def wanted(period) -> bool:
        return months is None or (period.year, period.month) in months

    counts = {(r.grain, r.key_id, r.department_id, r.period, r.status, r.trigger_type, r.task_type):
              (r.count, r.cost_sum, r.cost_count)
              for r in RollupCount.objects.all() if wanted(r.period)}
    costs = {(r.grain, r.key_id, r.department_id, r.period, r.bucket): r.count
             for r in RollupCost.objects.all() if wanted(r.period)}
    return counts, costs


def mismatch(months: set[tuple[int, int]] | None = None) -> dict:
    """What differs between the rollups and the raw rows (of ``months``; default every month that has a raw
    table); empty when they agree."""
    months = months_with_raw_rows() if months is None else months
    raw_counts, raw_costs = raw_cells()
    raw_counts = {k: v for k, v in raw_counts.items() if (k[3].year, k[3].month) in months}
    raw_costs = {k: v for k, v in raw_costs.items() if (k[3].year, k[3].month) in months}
    counts, costs = rolled_cells(months)
    out: dict = {}
    if counts != raw_counts:
        out["counts"] = {"only rolled": sorted(set(counts) - set(raw_counts), key=str)[:20],
                         "only raw": sorted(set(raw_counts) - set(counts), key=str)[:20],
                         "differ": {str(k): (counts[k], raw_counts[k]) for k in set(counts) & set(raw_counts)
                                    if counts[k] != raw_counts[k]}}
    if costs != raw_costs:
        out["costs"] = {str(k): (costs.get(k), raw_costs.get(k)) for k in set(costs) | set(raw_costs)
                        if costs.get(k) != raw_costs.get(k)}
    return out
