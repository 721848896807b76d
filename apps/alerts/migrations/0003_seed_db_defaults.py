"""Database defaults as the seed's schema gives its tables (issue 18): ``alert.status`` ('sending'),
``create_time`` and ``update_time`` ``CURRENT_TIMESTAMP`` (on MySQL/MariaDB ``update_time`` also
``ON UPDATE CURRENT_TIMESTAMP``) on ``alert`` and ``alert_policy``. Frozen on purpose.
"""
from django.db import migrations, models
from django.db.models.functions import Now

import djs_platform.timestamps

UPDATE_TIME_TABLES = ("alert", "alert_policy")


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
        ("alerts", "0002_task_policies_follow_their_task"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="status",
            field=models.CharField(choices=[("sending", "Sending"), ("sent", "Sent"), ("partial", "Partial"),
                                            ("failed", "Failed")], db_default="sending", default="sending",
                                   max_length=10),
        ),
        migrations.AlterField(
            model_name="alert",
            name="create_time",
            field=models.DateTimeField(auto_now_add=True, db_default=Now()),
        ),
        migrations.AlterField(
            model_name="alert",
            name="update_time",
            field=djs_platform.timestamps.UpdateTimeField(auto_now=True, db_default=Now()),
        ),
        migrations.AlterField(
            model_name="alertpolicy",
            name="create_time",
            field=models.DateTimeField(auto_now_add=True, db_default=Now()),
        ),
        migrations.AlterField(
            model_name="alertpolicy",
            name="update_time",
            field=djs_platform.timestamps.UpdateTimeField(auto_now=True, db_default=Now()),
        ),
        migrations.RunPython(on_update_current_timestamp, no_on_update, atomic=False, elidable=False),
    ]
