"""``authz_generation``: the one row per-process authorization caches are keyed by (issue 21,
:mod:`apps.accounts.authz`)."""
from django.db import migrations, models


def create_row(apps, schema_editor):
    apps.get_model("accounts", "AuthzGeneration").objects.using(schema_editor.connection.alias) \
        .get_or_create(pk=1, defaults={"value": 0})


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0007_api_token"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuthzGeneration",
            fields=[
                ("id", models.SmallIntegerField(primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
            options={"db_table": "authz_generation"},
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
