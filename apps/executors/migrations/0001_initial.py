"""``executor``: the executor registry (issue 19, DESIGN §14.3)."""
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

import apps.accounts.models
import djs_platform.timestamps


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("departments", "0002_seed_db_defaults"),
        ("accounts", "0006_seed_db_defaults"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Executor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", apps.accounts.models.BinaryCharField(max_length=128)),
                ("kind", models.CharField(choices=[("grpc", "Grpc"), ("http", "Http")], max_length=8)),
                ("address", apps.accounts.models.BinaryCharField(max_length=255)),
                ("weight", models.SmallIntegerField(db_default=1, default=1)),
                ("status", models.CharField(choices=[("up", "Up"), ("down", "Down")], db_default="up", default="up",
                                            max_length=8)),
                ("source", models.CharField(choices=[("manual", "Manual"), ("self", "Self"), ("dns", "Dns")],
                                            max_length=8)),
                ("ttl_seconds", models.IntegerField(blank=True, null=True)),
                ("last_heartbeat", models.DateTimeField(blank=True, null=True)),
                ("create_time", models.DateTimeField(auto_now_add=True,
                                                     db_default=django.db.models.functions.datetime.Now())),
                ("update_time", djs_platform.timestamps.UpdateTimeField(
                    auto_now=True, db_default=django.db.models.functions.datetime.Now())),
                ("department", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="executors",
                                                 to="departments.department")),
                ("registered_by", models.ForeignKey(blank=True, null=True,
                                                    on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                                    to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "executor",
                "verbose_name_plural": "executors",
                "db_table": "executor",
                "ordering": ["name", "kind", "id"],
                "indexes": [models.Index(fields=["name", "kind"], name="idx_executor_name")],
                "constraints": [
                    models.UniqueConstraint(fields=("department", "kind", "name", "address"),
                                            name="executor_identity_unique"),
                    models.CheckConstraint(condition=models.Q(("weight__gte", 1), ("weight__lte", 100)),
                                           name="executor_weight_range"),
                    models.CheckConstraint(condition=models.Q(("kind__in", ["grpc", "http"])),
                                           name="executor_kind_valid"),
                    models.CheckConstraint(condition=models.Q(("status__in", ["up", "down"])),
                                           name="executor_status_valid"),
                    models.CheckConstraint(condition=models.Q(("source__in", ["manual", "self", "dns"])),
                                           name="executor_source_valid"),
                    models.CheckConstraint(condition=models.Q(("ttl_seconds__isnull", True),
                                                              models.Q(("ttl_seconds__gte", 1),
                                                                       ("ttl_seconds__lte", 300)),
                                                              _connector="OR"),
                                           name="executor_ttl_range"),
                ],
            },
        ),
    ]
