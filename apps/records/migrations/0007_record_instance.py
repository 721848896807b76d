"""Column ``instance`` (VARCHAR(255) NULL) on month tables that already exist.

The registered executor instance that answered a call to a registry name (docs/executors.md); ``executor``
stays the scheduler node. Month tables created from now on get it from ``RecordBase``. The column is nullable:
an instant metadata change on MariaDB/MySQL and SQLite.

The definition is frozen here on purpose: later changes to the model need their own migration.
"""
import re

from django.db import migrations

TABLE = re.compile(r"^record_\d{6}$")


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _columns(connection, table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def add_column(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        if "instance" not in _columns(connection, table):
            schema_editor.execute(f"ALTER TABLE {qn(table)} ADD COLUMN {qn('instance')} varchar(255) NULL")


def drop_column(apps, schema_editor):
    connection, qn = schema_editor.connection, schema_editor.quote_name
    for table in _month_tables(connection):
        if "instance" in _columns(connection, table):
            schema_editor.execute(f"ALTER TABLE {qn(table)} DROP COLUMN {qn('instance')}")


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies = [("records", "0006_month_table_db_defaults")]

    operations = [migrations.RunPython(add_column, drop_column, elidable=False)]
