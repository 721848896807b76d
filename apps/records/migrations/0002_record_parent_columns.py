"""Columns ``parent_record_id`` (BIGINT NULL) and ``parent_month`` (INT NULL, YYYYMM) on month tables that
already exist, plus index ``ix_<table>_parent`` on ``parent_record_id``.

A CHILD run (docs/child-tasks.md) records the parent task's record that triggered it: its id and the month of
its table. Month tables are unmanaged and created on first write by
``apps.records.models.ensure_record_table``, which gives every new table these columns (``RecordBase``); this
migration adds them to the tables created before. Both columns are nullable, so adding them is an instant
metadata change on MariaDB/MySQL (no table rebuild) and on SQLite.

The definition is frozen here on purpose: later changes to the model need their own migration.
"""
import re

from django.db import migrations

TABLE = re.compile(r"^record_\d{6}$")
COLUMNS = (("parent_record_id", "bigint"), ("parent_month", "integer"))


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _columns(connection, table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def _has_index(connection, table: str, name: str) -> bool:
    with connection.cursor() as cursor:
        return name in connection.introspection.get_constraints(cursor, table)


def add_columns(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        present = _columns(connection, table)
        for column, kind in COLUMNS:
            if column not in present:
                schema_editor.execute(f"ALTER TABLE {qn(table)} ADD COLUMN {qn(column)} {kind} NULL")
        name = f"ix_{table}_parent"
        if not _has_index(connection, table, name):
            schema_editor.execute(f"CREATE INDEX {qn(name)} ON {qn(table)} ({qn('parent_record_id')})")


def drop_columns(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        name = f"ix_{table}_parent"
        if _has_index(connection, table, name):
            schema_editor.execute(schema_editor.sql_delete_index % {"table": qn(table), "name": qn(name)})
        present = _columns(connection, table)
        for column, _ in COLUMNS:
            if column in present:
                schema_editor.execute(f"ALTER TABLE {qn(table)} DROP COLUMN {qn(column)}")


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies = [("records", "0001_record_list_index")]

    operations = [migrations.RunPython(add_columns, drop_columns, elidable=False)]
