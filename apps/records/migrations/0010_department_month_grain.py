"""A fourth rollup grain, department x month (``RollupGrain.DEPARTMENT_MONTH``): the dashboard's month totals and
p95 read about one cell per department (and bucket) instead of one per department and day (27,241 cost rows for
one month at 10M records, docs/performance.md).

Existing months get their department x month cells from their department x day cells, which hold the same
executions (a day belongs to exactly one month): counts, cost sums and histograms are summed per (department,
month, status, trigger, task type) and per (department, month, bucket). Nothing is read from the raw tables.
Run it with the scheduler nodes stopped (as every migration): a node of the previous release adds to the day cells
only; ``manage.py rebuild_rollups`` recomputes a month from its raw rows if one did.

Going back deletes the department x month cells.
"""
from django.db import migrations, models
from django.db.models import Sum
from django.db.models.functions import TruncMonth

DEPARTMENT_DAY, DEPARTMENT_MONTH = 1, 4
GRAINS = [(1, "Department Day"), (2, "Task Month"), (3, "Task Day"), (4, "Department Month")]


def add_department_months(apps, schema_editor):
    RollupCount = apps.get_model("records", "RollupCount")
    RollupCost = apps.get_model("records", "RollupCost")
    alias = schema_editor.connection.alias
    RollupCount.objects.using(alias).filter(grain=DEPARTMENT_MONTH).delete()
    RollupCost.objects.using(alias).filter(grain=DEPARTMENT_MONTH).delete()
    days = RollupCount.objects.using(alias).filter(grain=DEPARTMENT_DAY).order_by()
    counts = (days.annotate(month=TruncMonth("period"))
              .values("key_id", "department_id", "month", "status", "trigger_type", "task_type")
              .annotate(n=Sum("count"), s=Sum("cost_sum"), c=Sum("cost_count")))
    RollupCount.objects.using(alias).bulk_create(
        [RollupCount(grain=DEPARTMENT_MONTH, key_id=g["key_id"], department_id=g["department_id"], period=g["month"],
                     status=g["status"], trigger_type=g["trigger_type"], task_type=g["task_type"], count=g["n"],
                     cost_sum=g["s"] or 0, cost_count=g["c"] or 0, label="")
         for g in counts.iterator(chunk_size=2000)], batch_size=1000)
    costs = (RollupCost.objects.using(alias).filter(grain=DEPARTMENT_DAY).order_by()
             .annotate(month=TruncMonth("period")).values("key_id", "department_id", "month", "bucket")
             .annotate(n=Sum("count")))
    RollupCost.objects.using(alias).bulk_create(
        [RollupCost(grain=DEPARTMENT_MONTH, key_id=g["key_id"], department_id=g["department_id"], period=g["month"],
                    bucket=g["bucket"], count=g["n"])
         for g in costs.iterator(chunk_size=2000)], batch_size=1000)


def remove_department_months(apps, schema_editor):
    alias = schema_editor.connection.alias
    for name in ("RollupCount", "RollupCost"):
        apps.get_model("records", name).objects.using(alias).filter(grain=DEPARTMENT_MONTH).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("records", "0009_record_shard"),
    ]

    operations = [
        migrations.AlterField(model_name="rollupcost", name="grain", field=models.SmallIntegerField(choices=GRAINS)),
        migrations.AlterField(model_name="rollupcount", name="grain", field=models.SmallIntegerField(choices=GRAINS)),
        migrations.RunPython(add_department_months, remove_department_months),
    ]
