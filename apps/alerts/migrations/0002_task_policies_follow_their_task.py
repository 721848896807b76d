"""A task's own alert policy belongs to the task's current department (issue 16, finding 6a): policies left in
a department the task was moved out of are moved to the task's department."""
from __future__ import annotations

from django.db import migrations


def forwards(apps, schema_editor):
    AlertPolicy = apps.get_model("alerts", "AlertPolicy")
    for policy_id, department_id in (AlertPolicy.objects.filter(task__isnull=False)
                                     .values_list("id", "task__department_id")):
        AlertPolicy.objects.filter(pk=policy_id).exclude(department_id=department_id).update(
            department_id=department_id)


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0001_initial"),
        ("tasks", "0004_task_revision_and_unique_names"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
