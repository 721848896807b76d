"""Database defaults of ``status``, ``create_time`` and ``update_time`` as the seed's schema has them (issue 18).

A plain SQL ``INSERT`` that leaves them out (the seed's default-data INSERTs) gets ``status`` 1 and both times
``CURRENT_TIMESTAMP``; on MySQL/MariaDB ``update_time`` is also ``ON UPDATE CURRENT_TIMESTAMP`` and
``user.username_key`` defaults to ``lower(username)`` (the seed's INSERT of ``admin`` does not know that column;
the stored key of an ASCII name is its lower case; DJS's own writes always store casefold(NFKC)). SQLite cannot
default a column from another one: there, raw INSERTs into ``user`` name ``username_key`` themselves.

Changing a column default is an instant metadata change on MariaDB (10.3+) and MySQL 8; SQLite rebuilds the
tables (Django's ``AlterField``). The SQL below is frozen on purpose: later changes need their own migration.
"""
from django.db import migrations, models
from django.db.models.functions import Now

import djs_platform.timestamps

UPDATE_TIME_TABLES = ("permission", "role", "role_permission", "user")


def on_update_current_timestamp(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    qn = schema_editor.quote_name
    for table in UPDATE_TIME_TABLES:
        schema_editor.execute(f"ALTER TABLE {qn(table)} MODIFY {qn('update_time')} datetime(6) NOT NULL "
                              "DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")
    schema_editor.execute(f"ALTER TABLE {qn('user')} MODIFY {qn('username_key')} varchar(150) CHARACTER SET utf8mb4 "
                          f"COLLATE utf8mb4_bin NOT NULL DEFAULT (lower({qn('username')}))")


def no_on_update(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    qn = schema_editor.quote_name
    schema_editor.execute(f"ALTER TABLE {qn('user')} MODIFY {qn('username_key')} varchar(150) CHARACTER SET utf8mb4 "
                          "COLLATE utf8mb4_bin NOT NULL")
    for table in UPDATE_TIME_TABLES:
        schema_editor.execute(f"ALTER TABLE {qn(table)} MODIFY {qn('update_time')} datetime(6) NOT NULL "
                              "DEFAULT CURRENT_TIMESTAMP(6)")


def _create_time(**kwargs):
    return models.DateTimeField(auto_now_add=True, db_default=Now(), **kwargs)


def _update_time():
    return djs_platform.timestamps.UpdateTimeField(auto_now=True, db_default=Now())


def _status():
    return models.SmallIntegerField(db_default=1, default=1)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_username_binary_collation"),
    ]

    operations = [
        migrations.AlterField(model_name="auditlog", name="create_time", field=_create_time(db_index=True)),
        migrations.AlterField(model_name="permission", name="status", field=_status()),
        migrations.AlterField(model_name="permission", name="create_time", field=_create_time()),
        migrations.AlterField(model_name="permission", name="update_time", field=_update_time()),
        migrations.AlterField(model_name="role", name="status", field=_status()),
        migrations.AlterField(model_name="role", name="create_time", field=_create_time()),
        migrations.AlterField(model_name="role", name="update_time", field=_update_time()),
        migrations.AlterField(model_name="rolepermission", name="create_time", field=_create_time()),
        migrations.AlterField(model_name="rolepermission", name="update_time", field=_update_time()),
        migrations.AlterField(model_name="user", name="status", field=_status()),
        migrations.AlterField(model_name="user", name="create_time", field=_create_time()),
        migrations.AlterField(model_name="user", name="update_time", field=_update_time()),
        migrations.RunPython(on_update_current_timestamp, no_on_update, atomic=False, elidable=False),
    ]
