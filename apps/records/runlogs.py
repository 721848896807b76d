"""Where the log file of a SHELL run lives: one name for the executor that writes it, the records API that serves
it and the retention that deletes it (docs/executors.md, "Log file").

``<job.shell.logDir>/task_<task id>_record_<YYYYMM>_<record id>.log``: record ids repeat across month tables (each
numbers from 1), so the month is part of the name (issue 16, finding 9: ``task_<id>_record_<id>.log`` made a
record of last month serve this month's output, and pruning last month deleted this month's log).

Logs written before that change keep their old name and are never renamed. A legacy file is read (and deleted by
retention) only for the record that wrote it: its first line, ``=== attempt N at <UTC time>: ...``, must fall
within that record's run (start − 5 min … end + 5 min). Another month's record with the same id sees no log.

Plain functions, no import of ``apps.tasks`` (the tasks app imports this module, not the other way round).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings

#: How far the first attempt's header may lie outside the record's [start, end] and still be its log.
LEGACY_SLACK = timedelta(minutes=5)
_HEADER = re.compile(rb"^=== attempt \d+ at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def log_dir() -> Path:
    return Path(settings.DJS_SHELL.log_dir)


def log_name(*, year: int, month: int, task_id: int, record_id: int) -> str:
    return f"task_{int(task_id)}_record_{int(year):04d}{int(month):02d}_{int(record_id)}.log"


def log_path(directory: Path, *, year: int, month: int, task_id: int, record_id: int) -> Path:
    """The log of record ``record_id`` of month table ``year``/``month``."""
    return directory / log_name(year=year, month=month, task_id=task_id, record_id=record_id)


def legacy_log_path(directory: Path, task_id: int, record_id: int) -> Path:
    """The name used before issue 16 (no month): shared by the records of every month with that id."""
    return directory / f"task_{int(task_id)}_record_{int(record_id)}.log"


def record_month(scheduled_ms: int, time_zone: str | None = None) -> tuple[int, int]:
    """(year, month) of the month table of a fire scheduled at ``scheduled_ms`` (epoch ms): the month of the
    scheduled time in the platform time zone, as :func:`apps.records.models.month_of` decides it."""
    if time_zone is None:
        time_zone = settings.TIME_ZONE
    local = datetime.fromtimestamp(scheduled_ms / 1000, dt_timezone.utc).astimezone(ZoneInfo(time_zone))
    return local.year, local.month


def _first_attempt_time(path: Path) -> datetime | None:
    try:
        with open(path, "rb") as handle:
            match = _HEADER.match(handle.readline(200))
    except OSError:
        return None
    if match is None:
        return None
    return datetime.strptime(match.group(1).decode(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt_timezone.utc)


def legacy_log_of(directory: Path, *, task_id: int, record_id: int, start_time: datetime | None,
                  end_time: datetime | None, now: datetime | None = None) -> Path | None:
    """The legacy-named log if it is this record's (its first attempt started during the record's run)."""
    path = legacy_log_path(directory, task_id, record_id)
    if start_time is None or not path.exists():
        return None
    first = _first_attempt_time(path)
    if first is None:
        return None
    end = end_time or now or datetime.now(dt_timezone.utc)
    return path if start_time - LEGACY_SLACK <= first <= end + LEGACY_SLACK else None


def find_log(directory: Path, *, year: int, month: int, task_id: int, record_id: int,
             start_time: datetime | None = None, end_time: datetime | None = None) -> Path:
    """The file to read for a record: its own name, else a legacy file that is provably its own, else the
    (missing) new name."""
    path = log_path(directory, year=year, month=month, task_id=task_id, record_id=record_id)
    if path.exists():
        return path
    legacy = legacy_log_of(directory, task_id=task_id, record_id=record_id, start_time=start_time,
                           end_time=end_time)
    return legacy or path


def remove_logs(directory: Path, *, year: int, month: int, task_id: int, record_id: int,
                start_time: datetime | None = None, end_time: datetime | None = None) -> int:
    """Delete a record's log (and a legacy file only when it is this record's). Returns the files removed."""
    removed = 0
    for path in (log_path(directory, year=year, month=month, task_id=task_id, record_id=record_id),
                 legacy_log_of(directory, task_id=task_id, record_id=record_id, start_time=start_time,
                               end_time=end_time)):
        if path is None:
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed
