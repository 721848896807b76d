"""Waiting on a real scheduler node: poll until a condition holds, or until a task has finished runs."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apps.records.models import RecordStatus
from apps.tasks.models import Task
from tests.factories import records_of


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it answers something truthy and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def finished(task: Task, n: int, trigger: str | None = None) -> Callable[[], list | None]:
    """A ``wait_until`` predicate: the task's finished (not RUNNING) records once there are at least ``n``."""
    def check():
        rows = [r for r in records_of(task, trigger) if r.status != RecordStatus.RUNNING]
        return rows if len(rows) >= n else None
    return check
