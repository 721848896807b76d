"""Database defaults of ``status``, ``create_time`` and ``update_time``, as the seed's schema has them (issue 18).

Django fills these columns on every ORM write (``default``, ``auto_now_add``, ``auto_now``); the database fills
them too, so a plain SQL ``INSERT`` that leaves them out (the seed's own default-data INSERTs, an operator's
script) gets a status and both times, and on MySQL/MariaDB an ``UPDATE`` that does not set ``update_time`` moves
it (``ON UPDATE CURRENT_TIMESTAMP``). Both clocks agree on UTC in DJS's own sessions (``time_zone='+00:00'``);
another client writes its session's time zone, so scripts should ``SET time_zone = '+00:00'`` first.
"""
from __future__ import annotations

from django.db import models


class UpdateTimeField(models.DateTimeField):
    """``update_time``: ``auto_now`` for the ORM, ``DEFAULT CURRENT_TIMESTAMP(6)`` via ``db_default``, and on
    MySQL/MariaDB ``ON UPDATE CURRENT_TIMESTAMP(6)`` (SQLite has no such clause).

    Django writes the clause when it creates a table (``CREATE TABLE``: managed models and new record month
    tables); tables that existed before got it from the migrations of issue 18. A later ``AlterField`` that
    rewrites this column with ``MODIFY`` would drop it: such a migration must restate the clause."""

    ON_UPDATE = "ON UPDATE CURRENT_TIMESTAMP(6)"

    def db_type_suffix(self, connection):
        if connection.vendor == "mysql":
            return self.ON_UPDATE
        return super().db_type_suffix(connection)
