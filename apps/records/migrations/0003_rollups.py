"""Record rollups (DESIGN §14.1, docs/records.md "Rollups"): the tables only.

Month tables that exist when this runs get a ``record_rollup_month`` row in state ``unbuilt``: their rollups are
empty, so reads of those months fall back to the raw rows (with a warning in the response) until
``manage.py rebuild_rollups`` has built them. Months created afterwards start ``built`` (empty, maintained by
the result writer from their first record).
"""
import re

from django.db import migrations, models

TABLE = re.compile(r"^record_(\d{6})$")


def mark_existing_months_unbuilt(apps, schema_editor):
    RollupMonth = apps.get_model("records", "RollupMonth")
    months = [int(m.group(1)) for t in schema_editor.connection.introspection.table_names()
              if (m := TABLE.match(t))]
    RollupMonth.objects.bulk_create([RollupMonth(month=month, state="unbuilt") for month in months],
                                    ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('records', '0002_record_parent_columns'),
    ]

    operations = [
        migrations.CreateModel(
            name='RollupMonth',
            fields=[
                ('month', models.IntegerField(primary_key=True, serialize=False)),
                ('state', models.CharField(default='built', max_length=10)),
                ('raw_pruned', models.BooleanField(default=False)),
                ('rows_done', models.BigIntegerField(default=0)),
                ('rows_total', models.BigIntegerField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'db_table': 'record_rollup_month',
            },
        ),
        migrations.CreateModel(
            name='RollupCost',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('grain', models.SmallIntegerField(choices=[(1, 'Department Day'), (2, 'Task Month'), (3, 'Task Day')])),
                ('key_id', models.BigIntegerField()),
                ('department_id', models.BigIntegerField()),
                ('period', models.DateField()),
                ('bucket', models.SmallIntegerField()),
                ('count', models.BigIntegerField(default=0)),
            ],
            options={
                'db_table': 'record_rollup_cost',
                'indexes': [models.Index(fields=['grain', 'period', 'department_id'], name='ix_rollup_cost_period')],
                'constraints': [models.UniqueConstraint(fields=('grain', 'key_id', 'department_id', 'period', 'bucket'), name='uq_rollup_cost')],
            },
        ),
        migrations.CreateModel(
            name='RollupCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('grain', models.SmallIntegerField(choices=[(1, 'Department Day'), (2, 'Task Month'), (3, 'Task Day')])),
                ('key_id', models.BigIntegerField()),
                ('department_id', models.BigIntegerField()),
                ('period', models.DateField()),
                ('status', models.SmallIntegerField(choices=[(0, 'Running'), (1, 'Success'), (2, 'Failed'), (3, 'Killed'), (4, 'Skipped'), (5, 'Lost')])),
                ('trigger_type', models.CharField(choices=[('SCHEDULE', 'Schedule'), ('MANUAL', 'Manual'), ('RETRY', 'Retry'), ('RECOVERY', 'Recovery'), ('CHILD', 'Child')], max_length=10)),
                ('task_type', models.CharField(max_length=10)),
                ('count', models.BigIntegerField(default=0)),
                ('cost_sum', models.BigIntegerField(default=0)),
                ('cost_count', models.BigIntegerField(default=0)),
                ('label', models.CharField(default='', max_length=255)),
            ],
            options={
                'db_table': 'record_rollup',
                'indexes': [models.Index(fields=['grain', 'period', 'department_id'], name='ix_rollup_period')],
                'constraints': [models.UniqueConstraint(fields=('grain', 'key_id', 'department_id', 'period', 'status', 'trigger_type', 'task_type'), name='uq_rollup_cell')],
            },
        ),
        migrations.RunPython(mark_existing_months_unbuilt, migrations.RunPython.noop),
    ]
