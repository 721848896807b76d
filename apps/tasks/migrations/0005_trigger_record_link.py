"""``task_trigger.record_id``/``record_month`` (issue 18 item 11): the record a trigger request became, so
``GET /v1/triggers/{id}`` and ``djsctl tasks trigger ID --wait`` can follow a manual run. Nullable: requests
claimed before this migration, still waiting, or dropped by the node have none."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tasks", "0004_task_revision_and_unique_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="triggerrequest",
            name="record_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="triggerrequest",
            name="record_month",
            field=models.IntegerField(blank=True, null=True),
        ),
    ]
