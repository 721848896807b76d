"""Create django-celery-beat's schema and every job of a workload, fast (run by ``CeleryBeatSystem.load``).

    PEER_DB_...=... python -m celery_app.loader jobs.json

``jobs.json``: ``{"first": epoch, "target_url": ..., "jobs": [[key, every, offset, daily_hour], ...]}``.

Schema: django-celery-beat's own migrations. Rows: the column values Django's INSERT compiler computes
(``field.pre_save`` then ``field.get_db_prep_save``, as ``bulk_create``/``save`` do) for a ``PeriodicTask``
normalised and checked as ``PeriodicTask.save()`` does — computed once per schedule, then only ``name`` and
``args`` differ per job — written with a raw ``executemany`` (100k ORM saves, or even ``bulk_create``, take
minutes / half a minute on 2 busy cores). The per-row ``post_save`` → ``PeriodicTasks.changed`` bookkeeping
is done once at the end (``PeriodicTasks.update_changed()``), which is what those saves would leave behind.
Differences from ``save()``: ``date_changed`` is the same instant for all rows of a schedule, and the
uniqueness check runs against the database once per schedule, not per row (the keys are unique).

Schedules: every second → ``IntervalSchedule(every=1, period=seconds)`` with ``start_time=first``;
every minute at second ``offset`` → ``IntervalSchedule(every=60, period=seconds)`` with ``start_time`` = the
first instant >= ``first`` at that second (a crontab has no seconds); daily at hour h →
``CrontabSchedule(minute=0, hour=h, timezone=UTC)``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "celery_app.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django_celery_beat.models import (CrontabSchedule, IntervalSchedule, PeriodicTask,  # noqa: E402
                                       PeriodicTasks)
from kombu.utils.json import dumps  # noqa: E402

TASK = "peer.fire"
BATCH = 5000


def main(path: str) -> None:
    began = time.monotonic()
    spec = json.loads(open(path).read())
    first = int(spec["first"])
    target = spec["target_url"].rstrip("/")
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.monotonic()

    intervals: dict[int, IntervalSchedule] = {}
    crontabs: dict[int, CrontabSchedule] = {}
    fields = [f for f in PeriodicTask._meta.concrete_fields if not f.primary_key]
    name_at = fields.index(PeriodicTask._meta.get_field("name"))
    args_at = fields.index(PeriodicTask._meta.get_field("args"))
    templates: dict[tuple, list] = {}   # (schedule, start) -> column values as bulk_create computes them
    rows = []
    for key, every, offset, daily_hour in spec["jobs"]:
        interval = crontab = start_time = None
        if daily_hour is not None:
            if daily_hour not in crontabs:
                crontabs[daily_hour], _ = CrontabSchedule.objects.get_or_create(
                    minute="0", hour=str(daily_hour), day_of_week="*", day_of_month="*", month_of_year="*",
                    timezone="UTC")
            crontab = crontabs[daily_hour]
        else:
            if every not in intervals:
                intervals[every], _ = IntervalSchedule.objects.get_or_create(every=every,
                                                                             period=IntervalSchedule.SECONDS)
            interval = intervals[every]
            start = first if every == 1 else first + (offset - first % 60) % 60
            start_time = datetime.fromtimestamp(start, timezone.utc)
        args = dumps([f"{target}/t/{key}"])
        template_key = (every, daily_hour, start_time)
        if template_key not in templates:
            task = PeriodicTask(name=key, task=TASK, interval=interval, crontab=crontab, start_time=start_time,
                                args=args, kwargs=dumps({}))
            # what PeriodicTask.save() normalises and checks before writing
            task.exchange = task.exchange or None
            task.routing_key = task.routing_key or None
            task.queue = task.queue or None
            task.headers = task.headers or None
            task._clean_expires()
            task.validate_unique()
            # what the INSERT compiler does per field (pre_save_val, then prepare_value)
            templates[template_key] = [f.get_db_prep_save(f.pre_save(task, True), connection) for f in fields]
        row = list(templates[template_key])
        row[name_at] = fields[name_at].get_db_prep_save(key, connection)
        row[args_at] = fields[args_at].get_db_prep_save(args, connection)
        rows.append(row)
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(PeriodicTask._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    with transaction.atomic(), connection.cursor() as cursor:
        for i in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[i:i + BATCH])
        PeriodicTasks.update_changed()
    tasks = rows
    print(f"loaded {len(tasks)} periodic tasks (migrate {migrated - began:.1f}s, "
          f"insert {time.monotonic() - migrated:.1f}s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
