"""Database defaults of ``department.status`` (1), ``create_time`` and ``update_time`` (``CURRENT_TIMESTAMP``,
on MySQL/MariaDB also ``ON UPDATE CURRENT_TIMESTAMP``), as the seed's schema has them (issue 18): the seed's
``INSERT INTO department (name, description, parent_id)`` runs as written. Frozen on purpose.
"""
from django.db import migrations, models
from django.db.models.functions import Now

import djs_platform.timestamps


def on_update_current_timestamp(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        qn = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {qn('department')} MODIFY {qn('update_time')} datetime(6) NOT NULL "
                              "DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")


def no_on_update(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        qn = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {qn('department')} MODIFY {qn('update_time')} datetime(6) NOT NULL "
                              "DEFAULT CURRENT_TIMESTAMP(6)")


class Migration(migrations.Migration):

    dependencies = [
        ("departments", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="department",
            name="status",
            field=models.SmallIntegerField(db_default=1, default=1),
        ),
        migrations.AlterField(
            model_name="department",
            name="create_time",
            field=models.DateTimeField(auto_now_add=True, db_default=Now()),
        ),
        migrations.AlterField(
            model_name="department",
            name="update_time",
            field=djs_platform.timestamps.UpdateTimeField(auto_now=True, db_default=Now()),
        ),
        migrations.RunPython(on_update_current_timestamp, no_on_update, atomic=False, elidable=False),
    ]
