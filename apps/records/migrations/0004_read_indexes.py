"""Indexes for the reads of the records pages at volume (docs/performance.md "Records at volume").

- ``record_rollup`` / ``record_rollup_cost``: the period indexes become covering (``ix_rollup_scan``,
  ``ix_rollup_cost_scan``), so top failing tasks, list totals and a scope's histogram read index entries only.
- Month tables that already exist get ``ix_<table>_taskid`` on ``(task_id, id)``: ``GET /records?taskId=``
  and a task's recent runs walk the task's newest entries instead of sorting all its runs of the month.
  New month tables get it from ``apps.records.models.record_model``. On MariaDB/MySQL ``CREATE INDEX`` runs
  online (the table stays writable); on a month of 10M records it takes about a minute and a half.

The month-table definition is frozen here on purpose: later changes to the model need their own migration.
"""
import re

from django.db import migrations, models

TABLE = re.compile(r"^record_\d{6}$")


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _has_index(connection, table: str, name: str) -> bool:
    with connection.cursor() as cursor:
        return name in connection.introspection.get_constraints(cursor, table)


def add_task_index(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        name = f"ix_{table}_taskid"
        if not _has_index(connection, table, name):
            schema_editor.execute(f"CREATE INDEX {qn(name)} ON {qn(table)} ({qn('task_id')}, {qn('id')})")


def drop_task_index(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        name = f"ix_{table}_taskid"
        if _has_index(connection, table, name):
            schema_editor.execute(schema_editor.sql_delete_index % {"table": qn(table), "name": qn(name)})


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies = [("records", "0003_rollups")]

    operations = [
        migrations.AddIndex(
            model_name="rollupcount",
            index=models.Index(fields=["grain", "period", "status", "department_id", "key_id", "count"],
                               name="ix_rollup_scan"),
        ),
        migrations.RemoveIndex(model_name="rollupcount", name="ix_rollup_period"),
        migrations.AddIndex(
            model_name="rollupcost",
            index=models.Index(fields=["grain", "period", "department_id", "bucket", "count"],
                               name="ix_rollup_cost_scan"),
        ),
        migrations.RemoveIndex(model_name="rollupcost", name="ix_rollup_cost_period"),
        migrations.RunPython(add_task_index, drop_task_index, elidable=False),
    ]
