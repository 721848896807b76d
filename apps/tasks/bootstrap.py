"""The tasks app's bootstrap step (djs_platform/bootstrap.py): ``scheduler.jobs`` from the configuration, created
or updated as the admin, never pruned; idempotent (docs/djsctl.md)."""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from djs_platform import errors
from djs_platform.actor import Actor
from djs_platform.bootstrap import BootstrapContext
from djs_platform.cli.output import error_lines


def apply_declared_jobs(context: BootstrapContext) -> None:
    if not settings.DJS_SCHEDULER.jobs:
        return
    from apps.tasks.declarative import tasks_apply

    try:
        report = tasks_apply(actor=Actor(user=context.admin, via="config"),
                             document={"tasks": list(settings.DJS_SCHEDULER.jobs)})
    except errors.ApplicationError as exc:
        raise CommandError("scheduler.jobs in the configuration: "
                           + error_lines(exc.code, exc.message, {"fields": exc.fields})) from None
    context.write(f"scheduler.jobs: {len(report.created)} created, {len(report.updated)} updated, "
                  f"{len(report.unchanged)} unchanged")
