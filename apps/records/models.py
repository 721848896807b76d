"""Execution records, one table per month (``record_YYYYMM``), created on first write.

Every month table has the same columns and the UNIQUE (task_id, scheduled_time, trigger_type, shard) key that
is the database's own guard against firing one scheduled time twice (``shard`` is 0 except for the shards of a
broadcast fire, docs/executors.md). Month = month of ``scheduled_time`` in the platform time zone.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models
from django.db.models.functions import Now

from djs_platform.tenancy import RestrictedQuerySet
from djs_platform.timestamps import UpdateTimeField


class TriggerType(models.TextChoices):
    SCHEDULE = "SCHEDULE"
    MANUAL = "MANUAL"
    RETRY = "RETRY"
    RECOVERY = "RECOVERY"
    CHILD = "CHILD"  # run after the parent task's run (parent_record_id / parent_month) succeeded


class RecordStatus(models.IntegerChoices):
    RUNNING = 0
    SUCCESS = 1
    FAILED = 2
    KILLED = 3
    SKIPPED = 4
    LOST = 5


FINAL_STATUSES = (RecordStatus.SUCCESS, RecordStatus.FAILED, RecordStatus.KILLED, RecordStatus.SKIPPED,
                  RecordStatus.LOST)
RESPONSE_LIMIT = 65536
ERROR_LIMIT = 8192
INSTANCE_LIMIT = 255  # characters of ``instance`` (a registered address)
ATTEMPTS_LIMIT = 20  # calls kept in ``attempts``
ATTEMPT_ERROR_LIMIT = 200  # characters of each call's error there


class RecordBase(models.Model):
    """Columns shared by every month table."""

    SCOPE_FIELD = "department_id"

    id = models.BigAutoField(primary_key=True)
    task_id = models.BigIntegerField()
    task_name = models.CharField(max_length=255)
    department_id = models.BigIntegerField()
    task_type = models.CharField(max_length=10)
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices)
    scheduled_time = models.DateTimeField()
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    status = models.SmallIntegerField(choices=RecordStatus.choices, default=RecordStatus.RUNNING,
                                      db_default=0)
    success = models.BooleanField(null=True, blank=True)
    status_code = models.IntegerField(null=True, blank=True)
    response = models.TextField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    cost_time = models.IntegerField(null=True, blank=True)
    retry_times = models.IntegerField(default=0)
    used_fallback = models.BooleanField(default=False)
    executor = models.CharField(max_length=100, null=True, blank=True)
    # CHILD runs: the parent task's record that triggered this one (its id in record_<parent_month>, YYYYMM).
    # Added later: migration records.0002 puts them on month tables created before.
    parent_record_id = models.BigIntegerField(null=True, blank=True)
    parent_month = models.IntegerField(null=True, blank=True)
    # A survivor took this never-started record over from a dead node (the node's name) and ran it as a first
    # attempt (docs/scheduling.md "Crash and recovery"). Added later: migration records.0005.
    taken_over_from = models.CharField(max_length=100, null=True, blank=True)
    # The registered executor instance that answered when the task's target is a registry name ("host:port" or
    # a base URL; apps/tasks/routing.py); ``executor`` stays the scheduler node. Added later: records.0006.
    instance = models.CharField(max_length=INSTANCE_LIMIT, null=True, blank=True)
    # Every call of an execution that made more than one (retries, fallback): [{attempt, target, instance,
    # statusCode, costMs, error}], at most ATTEMPTS_LIMIT entries (the first ones and the last), errors cut to
    # ATTEMPT_ERROR_LIMIT characters. NULL for a single call (the record's own columns say it). records.0008.
    attempts = models.JSONField(null=True, blank=True)
    # Broadcast fires (route strategy ``broadcast``): one record per live instance, ``shard`` 0..shard_total-1 (the
    # claimed record is shard 0; the node inserts the others when it starts the fire). Every other record: shard 0,
    # shard_total NULL. Added later: records.0009 (which also widens the unique key by ``shard``).
    shard = models.SmallIntegerField(default=0, db_default=0)
    shard_total = models.SmallIntegerField(null=True, blank=True)
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-id"]


#: A month table's name (``record_rollup`` and the other rollup tables are not month tables).
MONTH_TABLE = re.compile(r"^record_\d{6}$")
_models: dict[str, type[RecordBase]] = {}
_existing: set[str] = set()
_listed_at = 0.0  # time.monotonic() of the last listing
_lock = threading.Lock()
#: How long a read trusts the process's list of month tables (record_table_exists).
TABLE_LIST_MAX_AGE = 5.0


def table_name(year: int, month: int) -> str:
    return f"record_{year:04d}{month:02d}"


def month_of(moment: datetime) -> tuple[int, int]:
    """(year, month) of an aware instant in the platform time zone."""
    local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.year, local.month


def months_between(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """Every (year, month) from the month of ``start`` to the month of ``end``, both included."""
    year, month = month_of(start)
    last = month_of(end)
    months = [(year, month)]
    while (year, month) < last and len(months) < 1200:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        months.append((year, month))
    return months


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def record_model(year: int, month: int) -> type[RecordBase]:
    """The (unmanaged) model class for one month table; created once per process."""
    if not (1970 <= year <= 9999 and 1 <= month <= 12):
        raise ValueError(f"no record table for {year}-{month}")
    name = table_name(year, month)
    with _lock:
        model = _models.get(name)
        if model is None:
            meta = type("Meta", (), {
                "db_table": name,
                "managed": False,
                "ordering": ["-id"],
                "constraints": [models.UniqueConstraint(fields=["task_id", "scheduled_time", "trigger_type", "shard"],
                                                        name=f"uq_{name}_fire")],
                "indexes": [
                    models.Index(fields=["department_id", "scheduled_time"], name=f"ix_{name}_dept"),
                    models.Index(fields=["task_id", "status"], name=f"ix_{name}_task"),
                    models.Index(fields=["status", "executor"], name=f"ix_{name}_running"),
                    # The list endpoint counts the rows of the user's department scope for the page total;
                    # this covers that COUNT for the console's filters (status, task type, trigger type), so
                    # it reads index entries instead of whole rows. Added later: migration records.0001 puts
                    # it on month tables created before.
                    models.Index(fields=["department_id", "status", "task_type", "trigger_type"],
                                 name=f"ix_{name}_list"),
                    # GET /records?parentRecordId=: the child runs of one record (migration records.0002).
                    models.Index(fields=["parent_record_id"], name=f"ix_{name}_parent"),
                    # GET /records?taskId= and a task's recent runs, newest first: walks the task's last
                    # entries backwards instead of reading and sorting all its runs of the month
                    # (migration records.0004).
                    models.Index(fields=["task_id", "id"], name=f"ix_{name}_taskid"),
                ],
            })
            model = type(f"Record{year:04d}{month:02d}", (RecordBase,), {"__module__": __name__, "Meta": meta})
            _models[name] = model
    return model


def existing_record_tables(refresh: bool = False) -> set[str]:
    """The month tables of the database: the process's list, read again when ``refresh``."""
    global _listed_at
    if refresh or not _existing:
        names = {t for t in connection.introspection.table_names() if MONTH_TABLE.match(t)}
        with _lock:
            _existing.clear()
            _existing.update(names)
            _listed_at = time.monotonic()
    return set(_existing)


def record_table_exists(year: int, month: int) -> bool:
    """Whether the month's table exists, for a read: see :func:`recent_record_tables`."""
    return table_name(year, month) in recent_record_tables()


def recent_record_tables() -> set[str]:
    """The month tables as this process listed them at most :data:`TABLE_LIST_MAX_AGE` seconds ago (reads use
    this instead of an ``information_schema`` listing per request). A table that another process has just
    created shows up within that time — a read a moment earlier would not have seen its rows either — and one
    this process creates, at once; tables are dropped only by retention, months after their last write."""
    if _existing and time.monotonic() - _listed_at <= TABLE_LIST_MAX_AGE:
        return set(_existing)
    return existing_record_tables(refresh=True)


def ensure_record_table(year: int, month: int) -> type[RecordBase]:
    """The month's model, creating its table (with unique key and indexes) if it does not exist yet.

    Safe under concurrency: ``CREATE TABLE IF NOT EXISTS`` semantics, so two nodes starting a new month at
    the same instant both succeed. On MySQL the DDL commits implicitly, so callers do this outside their
    own transactions.
    """
    model = record_model(year, month)
    name = table_name(year, month)
    if name in _existing or name in existing_record_tables(refresh=True):
        return model
    for statement in _create_statements(model):
        with connection.cursor() as cursor:
            try:
                cursor.execute(statement)
            except Exception:  # noqa: BLE001 - a concurrent creator won the race
                if name not in existing_record_tables(refresh=True):
                    raise
                break
    with _lock:
        _existing.add(name)
    return model


def _create_statements(model: type[RecordBase]) -> list[str]:
    # Collect the SQL without entering the schema editor, so this also works inside a test transaction
    # on SQLite (the editor refuses to run while foreign-key checks cannot be switched off).
    editor = connection.schema_editor(collect_sql=True)
    editor.deferred_sql = []
    editor.create_model(model)
    # Django skips index SQL for unmanaged models; ask each index for its own statement.
    indexes = [str(index.create_sql(model, editor)) for index in model._meta.indexes]
    return [s.rstrip(";") for s in editor.collected_sql] + [str(s) for s in editor.deferred_sql] + indexes


def drop_record_table(year: int, month: int) -> None:
    name = table_name(year, month)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(name)}")
    with _lock:
        _existing.discard(name)


# --- rollups (DESIGN §14.1, docs/records.md "Rollups") ----------------------------------------------------

class RollupGrain(models.IntegerChoices):
    DEPARTMENT_DAY = 1  # key = department id, period = local day: scope totals, the daily series, the dashboard
    TASK_MONTH = 2      # key = task id, period = the month's first day: top failing tasks, task summaries
    TASK_DAY = 3        # key = task id, period = local day: a task's own series, windows of whole days
    DEPARTMENT_MONTH = 4  # key = department id, period = the month's first day: a scope's month (dashboard, list
    #                       totals of whole months): ~one cell per department, not one per department x day


class RollupCount(models.Model):
    """Finished executions of one rollup cell by (final status x trigger type x task type): count, cost sum and
    count.

    ``department_id`` is the records' own department (for a department cell the key itself): task cells keep
    one row per department the task's records carried, so a task that moved stays scoped like its records."""

    grain = models.SmallIntegerField(choices=RollupGrain.choices)
    key_id = models.BigIntegerField()
    department_id = models.BigIntegerField()
    period = models.DateField()
    status = models.SmallIntegerField(choices=RecordStatus.choices)
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices)
    task_type = models.CharField(max_length=10)
    count = models.BigIntegerField(default=0)
    cost_sum = models.BigIntegerField(default=0)
    cost_count = models.BigIntegerField(default=0)
    label = models.CharField(max_length=255, default="")  # task cells: the latest task name seen

    class Meta:
        db_table = "record_rollup"
        constraints = [models.UniqueConstraint(
            fields=["grain", "key_id", "department_id", "period", "status", "trigger_type", "task_type"],
            name="uq_rollup_cell")]
        # Covering for the reads that scan a period of one grain (top failing tasks of a month, list totals of
        # a scope): they read index entries only, never the rows (docs/performance.md "Records at volume").
        indexes = [models.Index(fields=["grain", "period", "status", "department_id", "key_id", "count"],
                                name="ix_rollup_scan")]


class RollupCost(models.Model):
    """Cost histogram of one rollup cell (finished executions with a cost): count per bucket
    (``apps.records.rollups.bucket_of``: exact milliseconds below 20 ms, 5 % wide above)."""

    grain = models.SmallIntegerField(choices=RollupGrain.choices)
    key_id = models.BigIntegerField()
    department_id = models.BigIntegerField()
    period = models.DateField()
    bucket = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "record_rollup_cost"
        constraints = [models.UniqueConstraint(
            fields=["grain", "key_id", "department_id", "period", "bucket"], name="uq_rollup_cost")]
        # Covering for a period's histogram of a scope (the dashboard's p95).
        indexes = [models.Index(fields=["grain", "period", "department_id", "bucket", "count"],
                                name="ix_rollup_cost_scan")]


class RollupMonth(models.Model):
    """One row per month table: whether its rollups are complete, and the lock row that serialises a rebuild
    (exclusive) against the result writer and recovery (shared) of that month."""

    BUILT, UNBUILT, BUILDING = "built", "unbuilt", "building"

    month = models.IntegerField(primary_key=True)  # YYYYMM
    state = models.CharField(max_length=10, default=BUILT)
    raw_pruned = models.BooleanField(default=False)  # retention dropped the month's raw table; rollups remain
    rows_done = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "record_rollup_month"
