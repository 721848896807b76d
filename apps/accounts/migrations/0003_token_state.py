"""``token_state``: revocation marks, refresh-use marks and throttle counters without Redis (issue 16, finding 4)."""
from django.db import migrations, models

import apps.accounts.models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_seed_reference_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenState",
            fields=[
                ("key", apps.accounts.models.BinaryCharField(max_length=191, primary_key=True, serialize=False)),
                ("value", models.FloatField()),
                ("expires_at", models.FloatField(db_index=True)),
            ],
            options={"db_table": "token_state"},
        ),
    ]
