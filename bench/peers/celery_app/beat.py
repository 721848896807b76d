"""django-celery-beat's ``DatabaseScheduler`` that tells each task the instant it was scheduled for.

The only change: ``apply_async`` adds ``scheduled_ms`` to the task's kwargs — the instant this entry became
due by beat's own rule, computed from the entry *before* it is advanced:

* interval schedule: ``last_run_at + run_every`` (exactly what ``schedule.is_due`` compares with now);
* crontab: ``start + ends_in`` of ``crontab.remaining_delta(last_run_at)``;
* never earlier than ``start_time`` (the first run of an entry with ``start_time`` is due at ``start_time``:
  django-celery-beat backdates ``last_run_at`` by 30 years for it).

``last_run_at`` is the time beat *sent* the previous run (``ModelEntry.__next__`` sets it to now), so the
scheduled instants of an every-second interval drift by beat's own lateness — that is beat's behaviour and
is reported as such.
"""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "celery_app.settings")

import django  # noqa: E402

django.setup()

from celery import schedules  # noqa: E402
from celery.utils.time import maybe_make_aware  # noqa: E402
from django_celery_beat.schedulers import DatabaseScheduler  # noqa: E402

SCHEDULED_KWARG = "scheduled_ms"


def scheduled_instant(entry, tz):
    """The instant ``entry`` (not yet advanced) was due, as an aware datetime."""
    last = maybe_make_aware(entry.last_run_at).astimezone(tz)
    schedule = entry.schedule
    if isinstance(schedule, schedules.crontab):
        start, ends_in, _ = schedule.remaining_delta(last)
        due = start + ends_in
    else:
        due = last + schedule.run_every
    model = getattr(entry, "model", None)
    if model is not None and model.start_time is not None:
        due = max(due, model.due_start_time(tz))
    return due


class ScheduledInstantScheduler(DatabaseScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        due = scheduled_instant(entry, self.app.timezone)
        if advance:
            entry = self.reserve(entry)
        original = entry.kwargs
        entry.kwargs = {**original, SCHEDULED_KWARG: round(due.timestamp() * 1000)}
        try:
            return super().apply_async(entry, producer=producer, advance=False, **kwargs)
        finally:
            entry.kwargs = original
