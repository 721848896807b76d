"""Index ``(department_id, status, task_type, trigger_type)`` on month tables that already exist.

Month tables are unmanaged and created on first write by ``apps.records.models.ensure_record_table``, which
gives every new table this index; this migration adds it to the tables created before. The list endpoint
restricts every query to the user's department scope and counts the rows for the page total. Without the
index, counting with a filter reads every row of the month (1M rows on MariaDB: ~0.6-1 s); with it the
COUNT reads index entries only (status filter ~25 ms, task/trigger type ~230 ms for a whole-month scope).
Building it takes about 2-3 s per million rows (online DDL on MariaDB/MySQL, writes continue).

The definition is frozen here on purpose: later changes to the model's index list need their own migration.
"""
import re

from django.db import migrations

TABLE = re.compile(r"^record_\d{6}$")
COLUMNS = ("department_id", "status", "task_type", "trigger_type")


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _has_index(connection, table: str, name: str) -> bool:
    with connection.cursor() as cursor:
        return name in connection.introspection.get_constraints(cursor, table)


def add_index(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        name = f"ix_{table}_list"
        if not _has_index(connection, table, name):
            schema_editor.execute(f"CREATE INDEX {qn(name)} ON {qn(table)} ({', '.join(qn(c) for c in COLUMNS)})")


def drop_index(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        name = f"ix_{table}_list"
        if _has_index(connection, table, name):
            schema_editor.execute(schema_editor.sql_delete_index % {"table": qn(table), "name": qn(name)})


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies: list = []

    operations = [migrations.RunPython(add_index, drop_index, elidable=False)]
