"""Task names unique per department, case-insensitively (issue 16), and ``revision``, the edit counter clients
use for optimistic concurrency (``version`` in the API; scheduler claims do not change it).

Existing duplicates are renamed before the constraint is added: in each department the oldest task keeps its
name, every later one becomes ``name (2)``, ``name (3)`` ... (the first number whose name is free), and each
rename leaves an audit row (``task.rename``, user ``system``, via ``migration``). On MySQL/MariaDB the key
column compares bytes (``utf8mb4_bin``): the key is already case-folded, and the server's default collation
would also equate accents, which the SQLite pass does not.
"""
from __future__ import annotations

import unicodedata

from django.db import migrations, models
from django.db.models import F


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()[:255]


def renames(rows: list[tuple[int, int, str]]) -> dict[int, str]:
    """``{task id: new name}`` for (id, department id, name) rows: the oldest task of each (department, key)
    keeps its name, later ones get the first free ``name (n)``, n >= 2."""
    taken = {(dept, _key(name)) for _, dept, name in rows}
    kept: set[tuple[int, str]] = set()
    out: dict[int, str] = {}
    for task_id, dept, name in sorted(rows):
        key = (dept, _key(name))
        if key not in kept:
            kept.add(key)
            continue
        n = 2
        while True:
            suffix = f" ({n})"
            candidate = name[:255 - len(suffix)] + suffix
            if (dept, _key(candidate)) not in taken:
                break
            n += 1
        taken.add((dept, _key(candidate)))
        kept.add((dept, _key(candidate)))
        out[task_id] = candidate
    return out


def forwards(apps, schema_editor):
    Task = apps.get_model("tasks", "Task")
    AuditLog = apps.get_model("accounts", "AuditLog")
    Task.objects.update(revision=F("version"))
    rows = list(Task.objects.order_by("id").values_list("id", "department_id", "name"))
    new_names = renames(rows)
    names = {task_id: name for task_id, _, name in rows}
    departments = {task_id: dept for task_id, dept, _ in rows}
    for task_id, name in new_names.items():
        Task.objects.filter(pk=task_id).update(name=name)
        AuditLog.objects.create(user_id=None, username="system", department_id=departments[task_id],
                                action="task.rename", object_type="task", object_id=str(task_id),
                                object_repr=name[:255], via="migration", client_ip="", user_agent="",
                                changes={"name": {"old": names[task_id], "new": name},
                                         "reason": "task names are unique per department, ignoring case"})
    for task_id, _, name in rows:
        Task.objects.filter(pk=task_id).update(name_key=_key(new_names.get(task_id, name)))


def binary_key_collation(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute("ALTER TABLE task MODIFY name_key varchar(255) CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_bin NULL")


class Migration(migrations.Migration):

    dependencies = [
        ("tasks", "0003_task_child_and_child_triggers"),
        ("accounts", "0002_seed_reference_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="name_key",
            field=models.CharField(editable=False, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="task",
            name="revision",
            field=models.BigIntegerField(db_default=0, default=0),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        # DDL: outside the migration's transaction (MySQL cannot roll DDL back, Django refuses it inside one)
        migrations.RunPython(binary_key_collation, migrations.RunPython.noop, atomic=False),
        migrations.AddConstraint(
            model_name="task",
            constraint=models.UniqueConstraint(fields=("department", "name_key"), name="uq_task_department_name"),
        ),
    ]
