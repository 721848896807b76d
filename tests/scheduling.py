"""Waiting on a real scheduler node: poll until a condition holds, or until a task has finished runs."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
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


def shell_identity() -> dict[str, str]:
    """How a test's scheduler node runs SHELL commands (docs/security.md finding 2): as nobody (65534:65534)
    when the tests run as root, as CI does; otherwise as the test user, which only the dev profile allows
    (``DJS_DEBUG`` / ``settings.DEBUG`` must then be on). Keys are ``DJS_*`` variables."""
    if os.geteuid() == 0:
        return {"DJS_JOB_SHELL_RUN_AS": "65534:65534"}
    return {"DJS_JOB_SHELL_ALLOW_SAME_USER": "true", "DJS_DEBUG": "true"}


def shell_identity_settings(settings) -> None:
    """:func:`shell_identity` applied to an in-process test's ``settings`` fixture."""
    identity = shell_identity()
    settings.DJS_SHELL = replace(settings.DJS_SHELL, run_as=identity.get("DJS_JOB_SHELL_RUN_AS", ""),
                                 allow_same_user="DJS_JOB_SHELL_ALLOW_SAME_USER" in identity)
    if "DJS_DEBUG" in identity:
        settings.DEBUG = True
