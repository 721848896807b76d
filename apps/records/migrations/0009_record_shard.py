"""Broadcast shards on month tables that already exist (issue 19): columns ``shard`` (NOT NULL, default 0) and
``shard_total`` (NULL), and the fire's unique key widened from (task_id, scheduled_time, trigger_type) to
(task_id, scheduled_time, trigger_type, shard) under the same name. Month tables created from now on get both
from ``RecordBase``.

MariaDB/MySQL: one ALTER TABLE per table (the new columns have constant defaults; the unique index is rebuilt in
place). SQLite cannot change a table constraint: the columns are added, then the table is rebuilt under the same
name with its rows and indexes (records.0006's procedure). Every existing row is shard 0, so the wider key holds.
Going back deletes the shards above 0 first (the narrower key would refuse them).

The definition is frozen here on purpose: later changes to the model need their own migration.
"""
import importlib
import re

from django.db import migrations

TABLE = re.compile(r"^record_\d{6}$")
rebuild = importlib.import_module("apps.records.migrations.0006_month_table_db_defaults")._sqlite_rebuild

NARROW = '("task_id", "scheduled_time", "trigger_type")'
WIDE = '("task_id", "scheduled_time", "trigger_type", "shard")'


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _columns(connection, table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def add_shards(apps, schema_editor):
    connection = schema_editor.connection
    qn = schema_editor.quote_name
    for table in _month_tables(connection):
        if "shard" in _columns(connection, table):
            continue  # created by the new model, or a rerun
        key = qn(f"uq_{table}_fire")
        if connection.vendor == "mysql":
            schema_editor.execute(
                f"ALTER TABLE {qn(table)} ADD COLUMN {qn('shard')} smallint DEFAULT 0 NOT NULL, "
                f"ADD COLUMN {qn('shard_total')} smallint NULL, DROP INDEX {key}, "
                f"ADD CONSTRAINT {key} UNIQUE ({qn('task_id')}, {qn('scheduled_time')}, {qn('trigger_type')}, "
                f"{qn('shard')})")
        elif connection.vendor == "sqlite":
            # The rebuild's copy (INSERT ... SELECT *) keeps the column order the added columns give the table.
            schema_editor.execute(f'ALTER TABLE {qn(table)} ADD COLUMN "shard" smallint DEFAULT 0 NOT NULL')
            schema_editor.execute(f'ALTER TABLE {qn(table)} ADD COLUMN "shard_total" smallint NULL')
            rebuild(schema_editor, table, ((f"CONSTRAINT {key} UNIQUE {NARROW}", f"CONSTRAINT {key} UNIQUE {WIDE}"),))


def drop_shards(apps, schema_editor):
    connection = schema_editor.connection
    qn = schema_editor.quote_name
    for table in _month_tables(connection):
        if "shard" not in _columns(connection, table):
            continue
        schema_editor.execute(f"DELETE FROM {qn(table)} WHERE {qn('shard')} > 0")
        key = qn(f"uq_{table}_fire")
        if connection.vendor == "mysql":
            schema_editor.execute(
                f"ALTER TABLE {qn(table)} DROP INDEX {key}, ADD CONSTRAINT {key} UNIQUE ({qn('task_id')}, "
                f"{qn('scheduled_time')}, {qn('trigger_type')}), DROP COLUMN {qn('shard')}, "
                f"DROP COLUMN {qn('shard_total')}")
        elif connection.vendor == "sqlite":
            rebuild(schema_editor, table, ((f"CONSTRAINT {key} UNIQUE {WIDE}", f"CONSTRAINT {key} UNIQUE {NARROW}"),))
            schema_editor.execute(f'ALTER TABLE {qn(table)} DROP COLUMN "shard_total"')
            schema_editor.execute(f'ALTER TABLE {qn(table)} DROP COLUMN "shard"')


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies = [("records", "0008_record_attempts")]

    operations = [migrations.RunPython(add_shards, drop_shards, elidable=False)]
