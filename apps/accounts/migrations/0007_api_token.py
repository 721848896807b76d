"""``api_token``: long-lived, revocable personal API tokens (issue 19, DESIGN §14.3); only a SHA-256 of each
secret and a display prefix are stored."""
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

import apps.accounts.models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0006_seed_db_defaults"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("prefix", apps.accounts.models.BinaryCharField(max_length=14)),
                ("token_hash", apps.accounts.models.BinaryCharField(max_length=64, unique=True)),
                ("create_time", models.DateTimeField(auto_now_add=True,
                                                     db_default=django.db.models.functions.datetime.Now())),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("created_by", models.ForeignKey(blank=True, null=True,
                                                 on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                                 to=settings.AUTH_USER_MODEL)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "db_table": "api_token",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["user", "revoked_at"], name="idx_api_token_user")],
            },
        ),
    ]
