"""Per-node, per-minute execution figures (``scheduler_node_minute``, ``GET /v1/nodes/stats``): written by each
node's heartbeat, kept 24 hours."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tasks", "0005_trigger_record_link"),
    ]

    operations = [
        migrations.CreateModel(
            name="NodeMinute",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("node_name", models.CharField(max_length=100)),
                ("minute", models.DateTimeField()),
                ("executions", models.IntegerField(default=0)),
                ("failures", models.IntegerField(default=0)),
                ("cost_sum", models.BigIntegerField(default=0)),
                ("cost_count", models.IntegerField(default=0)),
                ("lag_histogram", models.JSONField(default=list)),
            ],
            options={
                "db_table": "scheduler_node_minute",
                "indexes": [models.Index(fields=["minute"], name="ix_node_minute_time")],
                "constraints": [models.UniqueConstraint(fields=("node_name", "minute"), name="uq_node_minute")],
            },
        ),
    ]
