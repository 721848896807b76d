"""Database defaults on month tables that already exist (issue 18), as the seed's ``record`` table has them:
``status`` 0 (running), ``create_time`` and ``update_time`` ``CURRENT_TIMESTAMP``, on MySQL/MariaDB ``update_time``
also ``ON UPDATE CURRENT_TIMESTAMP``.

Month tables are unmanaged and created on first write by ``apps.records.models.ensure_record_table``, which
gives every new table these defaults (``RecordBase``); this migration gives them to the tables created before.
MariaDB (10.3+) and MySQL 8 change a default in place (metadata only, no table copy). SQLite cannot alter a
column's default: each table is rebuilt under the same name with its rows and indexes, in one transaction.

The definition is frozen here on purpose: later changes to the model need their own migration.
"""
import re

from django.db import migrations, transaction

TABLE = re.compile(r"^record_\d{6}$")
MYSQL_DEFAULTS = (
    "ALTER COLUMN `status` SET DEFAULT 0, "
    "MODIFY `create_time` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
    "MODIFY `update_time` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
)
MYSQL_NO_DEFAULTS = (
    "ALTER COLUMN `status` DROP DEFAULT, "
    "MODIFY `create_time` datetime(6) NOT NULL, "
    "MODIFY `update_time` datetime(6) NOT NULL"
)
# SQLite column definitions as Django writes them without and with the defaults (``ensure_record_table``).
SQLITE_NOW = "(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))"
SQLITE_COLUMNS = (
    ('"status" smallint NOT NULL', '"status" smallint DEFAULT 0 NOT NULL'),
    ('"create_time" datetime NOT NULL', f'"create_time" datetime DEFAULT {SQLITE_NOW} NOT NULL'),
    ('"update_time" datetime NOT NULL', f'"update_time" datetime DEFAULT {SQLITE_NOW} NOT NULL'),
)


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _sqlite_rebuild(schema_editor, table: str, replacements: tuple[tuple[str, str], ...]) -> None:
    """The table again with ``replacements`` made in its column definitions: the procedure of SQLite's
    "Making Other Kinds Of Table Schema Changes" (new table, copy, drop, rename, indexes)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
        create = cursor.fetchone()[0]
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                       [table])
        indexes = [row[0] for row in cursor.fetchall()]
    changed = create
    for old, new in replacements:
        changed = changed.replace(old, new)
    if changed == create:  # already has them (created by the new model, or a rerun)
        return
    quoted, temporary = f'"{table}"', f'"new__{table}"'
    head, sep, rest = changed.partition(quoted)
    if not sep:
        raise RuntimeError(f"cannot rebuild {table}: unexpected CREATE TABLE statement {create!r}")
    with transaction.atomic(using=connection.alias):
        schema_editor.execute(head + temporary + rest, params=None)
        schema_editor.execute(f"INSERT INTO {temporary} SELECT * FROM {quoted}", params=None)
        schema_editor.execute(f"DROP TABLE {quoted}", params=None)
        schema_editor.execute(f"ALTER TABLE {temporary} RENAME TO {quoted}", params=None)
        for index in indexes:
            schema_editor.execute(index, params=None)


def add_defaults(apps, schema_editor):
    connection = schema_editor.connection
    for table in _month_tables(connection):
        if connection.vendor == "mysql":
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {MYSQL_DEFAULTS}")
        elif connection.vendor == "sqlite":
            _sqlite_rebuild(schema_editor, table, SQLITE_COLUMNS)


def drop_defaults(apps, schema_editor):
    connection = schema_editor.connection
    for table in _month_tables(connection):
        if connection.vendor == "mysql":
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {MYSQL_NO_DEFAULTS}")
        elif connection.vendor == "sqlite":
            _sqlite_rebuild(schema_editor, table, tuple((new, old) for old, new in SQLITE_COLUMNS))


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies = [("records", "0005_record_taken_over_from")]

    operations = [migrations.RunPython(add_defaults, drop_defaults, elidable=False)]
