"""Writes for records: retention by dropping whole month tables."""
from __future__ import annotations

import logging
from calendar import monthrange
from collections.abc import Callable
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone

from apps.records import runlogs
from apps.records.models import (
    RollupCost,
    RollupCount,
    RollupGrain,
    RollupMonth,
    drop_record_table,
    existing_record_tables,
    record_model,
)

log = logging.getLogger("djs.records")

#: What other apps delete when retention drops months, registered from their ``AppConfig.ready`` (the alerts app:
#: alerts follow their records). Each step gets the first instant of the oldest kept month (platform zone) and
#: returns how many rows it deleted. The records app names none of them.
_prune_steps: dict[str, Callable[[datetime], int]] = {}


def register_prune_step(name: str, step: Callable[[datetime], int]) -> None:
    _prune_steps[name] = step


def _remove_shell_logs(year: int, month: int) -> int:
    """Delete the SHELL log files (on this host) of a month whose records are being dropped (a legacy-named file
    only when it is the log of that month's record: :mod:`apps.records.runlogs`)."""
    log_dir = runlogs.log_dir()
    removed = 0
    rows = record_model(year, month).objects.filter(task_type="SHELL").values_list(
        "task_id", "id", "start_time", "end_time")
    for task_id, record_id, start_time, end_time in rows.iterator():
        removed += runlogs.remove_logs(log_dir, year=year, month=month, task_id=task_id, record_id=record_id,
                                       start_time=start_time, end_time=end_time)
    return removed


def records_prune(*, keep_months: int, now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Drop record tables older than the last ``keep_months`` months (the current month counts as one)."""
    if keep_months < 1:
        raise ValueError("keep_months must be at least 1")
    local = (now or timezone.now()).astimezone(timezone.get_default_timezone())
    index = local.year * 12 + (local.month - 1)
    oldest_kept = index - (keep_months - 1)
    dropped = []
    for name in sorted(existing_record_tables(refresh=True)):
        try:
            year, month = int(name[7:11]), int(name[11:13])
        except ValueError:
            continue
        if year * 12 + (month - 1) < oldest_kept:
            if not dry_run:
                _remove_shell_logs(year, month)
                drop_record_table(year, month)
                # The month's rollups stay (records.rollupKeepMonths): the dashboard keeps its history.
                RollupMonth.objects.update_or_create(month=year * 100 + month, defaults={"raw_pruned": True})
                log.warning("retention: dropped %s (keeping %d months, zone %s)", name, keep_months,
                            settings.TIME_ZONE)
            dropped.append(name)
    if not dry_run:
        year, month = divmod(oldest_kept, 12)
        cutoff = datetime(year, month + 1, 1, tzinfo=timezone.get_default_timezone())
        for name, step in _prune_steps.items():
            deleted = step(cutoff)
            if deleted:
                log.warning("retention: %s deleted %d row(s) created before %s", name, deleted,
                            cutoff.date().isoformat())
    return dropped


def rollups_prune(*, keep_months: int, now: datetime | None = None) -> list[int]:
    """Delete the rollups of months older than the last ``keep_months`` (the current month counts as one),
    except a month whose raw table still exists (its rollups are what its stats read). Returns the months
    (YYYYMM) whose rollups went."""
    if keep_months < 1:
        raise ValueError("keep_months must be at least 1")
    local = (now or timezone.now()).astimezone(timezone.get_default_timezone())
    oldest_kept = local.year * 12 + (local.month - 1) - (keep_months - 1)
    year, month = divmod(oldest_kept, 12)
    cutoff = date(year, month + 1, 1)
    raw = {int(name[7:13]) for name in existing_record_tables(refresh=True)}
    grains = list(RollupGrain)  # leading column of the (grain, period, ...) indexes: range reads, not scans
    old_months = {p.year * 100 + p.month for p in RollupCount.objects.filter(grain__in=grains, period__lt=cutoff)
                  .order_by().values_list("period", flat=True).distinct()}
    gone = sorted(m for m in old_months if m not in raw)
    for key in gone:
        first = date(key // 100, key % 100, 1)
        last = date(key // 100, key % 100, monthrange(key // 100, key % 100)[1])
        for model in (RollupCount, RollupCost):
            model.objects.filter(grain__in=grains, period__gte=first, period__lte=last).delete()
        RollupMonth.objects.filter(month=key).delete()
        log.warning("retention: dropped the rollups of %04d-%02d (keeping %d months)", key // 100, key % 100,
                    keep_months)
    return gone
