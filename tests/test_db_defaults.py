"""Database defaults of ``status``, ``create_time`` and ``update_time`` as the seed's schema has them (issue 18):
a plain SQL INSERT that leaves them out gets them from the database, month tables included, old and new."""
from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection

from apps.records.models import _create_statements, drop_record_table, ensure_record_table, record_model
from djs_platform.timestamps import UpdateTimeField

month_migration = importlib.import_module("apps.records.migrations.0006_month_table_db_defaults")
RECORD_COLUMNS = ("task_id", "task_name", "department_id", "task_type", "trigger_type", "scheduled_time",
                  "retry_times", "used_fallback")
RECORD_VALUES = "(7, 'probe', 1, 'HTTP', 'MANUAL', '2020-01-01 00:00:00', 0, 0)"


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _fetch(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite without Django's converters
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _recent(value) -> bool:
    return abs(datetime.now(UTC) - _aware(value)) < timedelta(minutes=5)


def test_every_status_and_time_column_has_a_database_default():
    missing = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            wanted = field.name in {"create_time", "update_time"} or (field.name == "status" and field.has_default())
            if wanted and not field.has_db_default():
                missing.append(f"{model._meta.db_table}.{field.name}")
            if field.name == "update_time" and not isinstance(field, UpdateTimeField):
                missing.append(f"{model._meta.db_table}.update_time (ON UPDATE)")
    record = record_model(2020, 1)._meta
    assert all(record.get_field(name).has_db_default() for name in ("status", "create_time", "update_time"))
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize("table, insert", [
    ("department", "(name, description, parent_id) VALUES ('总部', '总部', NULL)"),
    ("permission", "(name, code, description) VALUES ('任务查看', 'probe:view', '查看任务的权限')"),
    ("role", "(name, description) VALUES ('管理员', '拥有所有权限的系统管理员')"),
])
def test_a_plain_insert_gets_status_and_times_from_the_database(table, insert):
    """The seed's default-data INSERTs name neither status nor times (their Chinese names as the seed writes them)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {_qn(table)} {insert}")
    name = re.search(r"VALUES \('([^']+)'", insert).group(1)
    (status, created, updated), = _fetch(
        f"SELECT status, create_time, update_time FROM {_qn(table)} WHERE name = '{name}'")
    assert status == 1
    assert _recent(created) and _recent(updated)


@pytest.mark.django_db(transaction=True)
def test_a_new_month_table_gets_the_defaults():
    model = ensure_record_table(2019, 7)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {_qn(model._meta.db_table)} ({', '.join(RECORD_COLUMNS)}) "
                           f"VALUES {RECORD_VALUES}")
        (status, created, updated), = _fetch(f"SELECT status, create_time, update_time FROM "
                                             f"{_qn(model._meta.db_table)}")
        assert status == 0 and _recent(created) and _recent(updated)
    finally:
        drop_record_table(2019, 7)


def _legacy_month_table(year: int, month: int) -> str:
    """A month table as ``ensure_record_table`` made it before issue 18: no database defaults."""
    name = f"record_{year}{month:02d}"
    with connection.cursor() as cursor:
        for statement in _create_statements(record_model(year, month)):
            statement = re.sub(r" DEFAULT \(STRFTIME\('%Y-%m-%d %H:%M:%f', 'NOW'\)\)| DEFAULT \(CURRENT_TIMESTAMP\(6\)\)"
                               r"|(?<=status. smallint) DEFAULT 0| ON UPDATE CURRENT_TIMESTAMP\(6\)", "", statement)
            if connection.vendor == "sqlite":
                connection.connection.execute(statement)  # no %-parameter formatting
            else:
                cursor.execute(statement)
        cursor.execute(f"INSERT INTO {_qn(name)} ({', '.join(RECORD_COLUMNS)}, status, create_time, update_time) "
                       "VALUES (1, 'old', 1, 'HTTP', 'MANUAL', '2019-05-01 00:00:00', 0, 0, 1, "
                       "'2019-05-01 00:00:00', '2019-05-01 00:00:00')")
    return name


@pytest.mark.django_db(transaction=True)
def test_month_tables_made_before_get_the_defaults_from_the_migration_with_rows_and_indexes_kept():
    name = _legacy_month_table(2019, 5)
    try:
        with connection.cursor() as cursor:
            before = set(connection.introspection.get_constraints(cursor, name))
        # no default yet: the backend's own IntegrityError / OperationalError
        with pytest.raises(Exception), connection.cursor() as cursor:  # noqa: B017, PT011
            cursor.execute(f"INSERT INTO {_qn(name)} ({', '.join(RECORD_COLUMNS)}) VALUES {RECORD_VALUES}")
        with connection.schema_editor(atomic=False) as editor:
            month_migration.add_defaults(apps, editor)
        with connection.schema_editor(atomic=False) as editor:
            month_migration.add_defaults(apps, editor)  # a rerun changes nothing
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {_qn(name)} ({', '.join(RECORD_COLUMNS)}) VALUES {RECORD_VALUES}")
            assert set(connection.introspection.get_constraints(cursor, name)) == before
        rows = _fetch(f"SELECT task_name, status, create_time FROM {_qn(name)} ORDER BY id")
        assert [(task_name, status) for task_name, status, _ in rows] == [("old", 1), ("probe", 0)]
        assert _aware(rows[0][2]).year == 2019 and _recent(rows[1][2])
        if connection.vendor == "mysql":
            (_, create), = _fetch(f"SHOW CREATE TABLE {_qn(name)}")
            assert "ON UPDATE current_timestamp(6)" in create
    finally:
        drop_record_table(2019, 5)


@pytest.mark.mariadb_only
@pytest.mark.django_db(transaction=True)
def test_update_time_moves_on_an_update_that_does_not_set_it_on_mariadb():
    model = ensure_record_table(2019, 8)
    table = _qn(model._meta.db_table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({', '.join(RECORD_COLUMNS)}, create_time, update_time) "
                           "VALUES (7, 'probe', 1, 'HTTP', 'MANUAL', '2020-01-01', 0, 0, '2020-01-01', '2020-01-01')")
            cursor.execute(f"UPDATE {table} SET status = 1")
            cursor.execute("INSERT INTO department (name) VALUES ('on-update-probe')")
            cursor.execute("UPDATE department SET update_time = '2020-01-01' WHERE name = 'on-update-probe'")
            cursor.execute("UPDATE department SET description = 'x' WHERE name = 'on-update-probe'")
        (updated,), = _fetch(f"SELECT update_time FROM {table}")
        assert _recent(updated)
        (updated,), = _fetch("SELECT update_time FROM department WHERE name = 'on-update-probe'")
        assert _recent(updated)
        # an UPDATE that sets update_time keeps the value it sets (the result writer's flush marker relies on it)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET status = 2, update_time = '2021-02-03 04:05:06'")
        (updated,), = _fetch(f"SELECT update_time FROM {table}")
        assert _aware(updated) == datetime(2021, 2, 3, 4, 5, 6, tzinfo=UTC)
    finally:
        drop_record_table(2019, 8)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM department WHERE name = 'on-update-probe'")
