"""Database defaults as the seed's schema has them (issue 18): ``task.status`` 0 (disabled), ``create_time`` and
``update_time`` ``CURRENT_TIMESTAMP`` (on MySQL/MariaDB ``update_time`` also ``ON UPDATE CURRENT_TIMESTAMP``);
likewise ``scheduler_node.status`` ('up') and ``scheduler_state.update_time``. Instant on MariaDB/MySQL 8.
Frozen on purpose: later changes need their own migration.
"""
from django.db import migrations, models
from django.db.models.functions import Now

import djs_platform.timestamps

UPDATE_TIME_TABLES = ("task", "scheduler_state")


def on_update_current_timestamp(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        qn = schema_editor.quote_name
        for table in UPDATE_TIME_TABLES:
            schema_editor.execute(f"ALTER TABLE {qn(table)} MODIFY {qn('update_time')} datetime(6) NOT NULL "
                                  "DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")


def no_on_update(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        qn = schema_editor.quote_name
        for table in UPDATE_TIME_TABLES:
            schema_editor.execute(f"ALTER TABLE {qn(table)} MODIFY {qn('update_time')} datetime(6) NOT NULL "
                                  "DEFAULT CURRENT_TIMESTAMP(6)")


class Migration(migrations.Migration):

    dependencies = [
        ("tasks", "0006_node_minute"),
    ]

    operations = [
        migrations.AlterField(
            model_name="task",
            name="status",
            field=models.SmallIntegerField(choices=[(0, "Disabled"), (1, "Enabled"), (2, "One Shot")], db_default=0,
                                           default=0),
        ),
        migrations.AlterField(
            model_name="task",
            name="create_time",
            field=models.DateTimeField(auto_now_add=True, db_default=Now()),
        ),
        migrations.AlterField(
            model_name="task",
            name="update_time",
            field=djs_platform.timestamps.UpdateTimeField(auto_now=True, db_default=Now()),
        ),
        migrations.AlterField(
            model_name="schedulernode",
            name="status",
            field=models.CharField(db_default="up", default="up", max_length=10),
        ),
        migrations.AlterField(
            model_name="schedulerstate",
            name="update_time",
            field=djs_platform.timestamps.UpdateTimeField(auto_now=True, db_default=Now()),
        ),
        migrations.RunPython(on_update_current_timestamp, no_on_update, atomic=False, elidable=False),
    ]
