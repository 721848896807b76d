"""Column ``attempts`` (JSON, NULL) on month tables that already exist: every call of an execution that made more
than one (retries, fallback), for the record drawer (issue 20 defect 7). Month tables created from now on get it
from ``RecordBase``; the column here is defined by the same field, so both kinds of table carry the same DDL
(``longtext ... CHECK (json_valid(...))`` on MariaDB, ``text`` on SQLite). Nullable: no table rewrite on MariaDB.

The field is frozen here on purpose: later changes to the model need their own migration.
"""
import re

from django.apps.registry import Apps
from django.db import migrations, models

TABLE = re.compile(r"^record_\d{6}$")


def _month_tables(connection) -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if TABLE.match(t))


def _columns(connection, table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def _field() -> models.JSONField:
    field = models.JSONField(null=True, blank=True)
    field.set_attributes_from_name("attempts")
    return field


def _model(table: str) -> type[models.Model]:
    """A throwaway unmanaged model naming one month table (the schema editor needs a model to add a field to)."""
    meta = type("Meta", (), {"db_table": table, "managed": False, "app_label": "records", "apps": Apps()})
    return type(f"Month_{table}", (models.Model,), {"__module__": __name__, "Meta": meta})


def add_column(apps, schema_editor):
    connection = schema_editor.connection
    for table in _month_tables(connection):
        if "attempts" not in _columns(connection, table):
            schema_editor.add_field(_model(table), _field())


def drop_column(apps, schema_editor):
    connection = schema_editor.connection
    for table in _month_tables(connection):
        if "attempts" in _columns(connection, table):
            schema_editor.remove_field(_model(table), _field())


class Migration(migrations.Migration):
    atomic = False  # DDL commits implicitly on MySQL/MariaDB; each step is idempotent, so a rerun completes it
    dependencies = [("records", "0007_record_instance")]

    operations = [migrations.RunPython(add_column, drop_column, elidable=False)]
