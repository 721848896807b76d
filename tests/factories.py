"""factory_boy factories for the platform's models."""
from __future__ import annotations

import functools
from datetime import datetime, timezone

import factory
from django.contrib.auth.hashers import make_password

from apps.accounts.models import Permission, Role, User
from apps.departments.models import Department
from django.db import transaction

from apps.records import rollups
from apps.records.models import FINAL_STATUSES, RecordStatus, ensure_record_table, existing_record_tables, month_of, record_model
from apps.tasks.models import Task, TaskStatus
from apps.tasks.schedule import parse_schedule

DEFAULT_PASSWORD = "Corr3ct-Horse-Battery"


@functools.lru_cache(maxsize=1)
def default_password_hash() -> str:
    # Argon2 is deliberately slow; hash the shared test password once per session.
    return make_password(DEFAULT_PASSWORD)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"dept-{n}")
    description = factory.LazyAttribute(lambda o: f"{o.name} description")
    parent = None
    status = 1


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"role-{n}")
    description = "test role"
    status = 1

    @factory.post_generation
    def codes(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.permissions.set(Permission.objects.filter(code__in=list(extracted)))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.LazyFunction(default_password_hash)
    real_name = factory.LazyAttribute(lambda o: f"Real {o.username}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    phone = "+86 10 1234"
    department = factory.SubFactory(DepartmentFactory)
    role = factory.SubFactory(RoleFactory)
    status = 1


def _next_fire(task) -> datetime | None:
    """An enabled or one-shot task is due at its schedule's next fire after now; a disabled one never."""
    if task.status == TaskStatus.DISABLED:
        return None
    return parse_schedule(task.cron_expression, task.timezone).next_after(datetime.now(timezone.utc))


class TaskFactory(factory.django.DjangoModelFactory):
    """An enabled HTTP task firing every second, aimed at loopback port 9 (discard).

    Without ``next_execute_time`` it is due at its schedule's next fire after now; a disabled task
    (``status=0``) gets none. An explicit value, None included, is kept."""

    class Meta:
        model = Task

    name = factory.Sequence(lambda n: f"task-{n}")
    department = factory.SubFactory(DepartmentFactory)
    task_type = "HTTP"
    cron_expression = "* * * * * *"
    timezone = "UTC"
    url = "http://127.0.0.1:9/"
    http_method = "GET"
    status = 1
    timeout = 5
    next_execute_time = factory.LazyAttribute(_next_fire)


def records_of(task: Task, trigger: str | None = None) -> list:
    """The task's execution records from every month table, ordered by scheduled time; with ``trigger``,
    only those of that trigger type."""
    rows = []
    for name in sorted(existing_record_tables(refresh=True)):
        model = record_model(int(name[7:11]), int(name[11:13]))
        qs = model.objects.filter(task_id=task.pk)
        if trigger:
            qs = qs.filter(trigger_type=trigger)
        rows += list(qs.order_by("scheduled_time"))
    return rows


def add_record(*, task_id: int, task_name: str, department_id: int, scheduled_time: datetime,
               status: int = RecordStatus.SUCCESS, trigger_type: str = "SCHEDULE", task_type: str = "HTTP",
               cost_time: int | None = 100, **fields):
    """Insert one execution record the way a node leaves it, in the month table of its scheduled time (created
    when missing). A final record enters the rollups in the same transaction, as the result writer's does, so
    stats read after it see what the raw rows say."""
    final = status in FINAL_STATUSES
    values = dict(start_time=scheduled_time, end_time=scheduled_time if final else None,
                  success=(status == RecordStatus.SUCCESS) if final else None,
                  status_code=200 if status == RecordStatus.SUCCESS else 500, executor="node-test")
    values.update(fields)
    model = ensure_record_table(*month_of(scheduled_time))
    with transaction.atomic():
        row = model.objects.create(task_id=task_id, task_name=task_name, department_id=department_id,
                                   task_type=task_type, trigger_type=trigger_type, scheduled_time=scheduled_time,
                                   status=status, cost_time=cost_time if final else None, **values)
        rollups.add([rollups.Finished(department_id, task_id, task_name, scheduled_time, status, trigger_type,
                                      row.cost_time, task_type)])
    return row
