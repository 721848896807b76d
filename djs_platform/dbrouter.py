"""Read replica routing (``database.replicaUrl``, docs/operations.md "Read replica").

Only the read side of the ``records`` app (month tables, rollups) may go to the replica: that is the volume
that outgrows one server first, and a second or two of lag is harmless there. Everything that decides who
may do what (users, roles, permissions, departments, tokens) and everything the scheduler claims (tasks)
reads the primary, so a lagging replica can never resurrect a revoked grant or a deleted task. Writes always
go to the primary; the replica gets its schema and rows by MySQL/MariaDB replication.

The router is installed only when a replica is configured (``settings.DATABASE_ROUTERS``). It keys on app
labels, never on model classes, so platform code stays free of app imports.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from djs_platform import metrics

log = logging.getLogger("djs.db")

REPLICA_ALIAS = "replica"
#: App labels whose reads may be served by the replica.
REPLICA_APP_LABELS = frozenset({"records"})
#: Seconds a health verdict is reused: the replica is asked at most once a second per process.
CHECK_INTERVAL = 1.0
#: Connect / read / write timeout of the health check, so a hung replica costs at most about a second.
CHECK_TIMEOUT = 1

_local = threading.local()


def pin_thread_to_primary() -> None:
    """Send every read of the current thread to the primary, for good.

    For worker threads that write records and then read what they wrote (the scheduler's database threads,
    ``apps.tasks.scheduler.DbThread``): a lagging replica would hide their own running records from them.
    """
    _local.primary = True


@contextmanager
def primary_reads() -> Iterator[None]:
    """Inside the block, this thread reads records from the primary (read-your-writes outside a transaction)."""
    previous = getattr(_local, "primary", False)
    _local.primary = True
    try:
        yield
    finally:
        _local.primary = previous


def replica_verdict(status: dict[str, Any] | None, max_lag: float) -> tuple[bool, str]:
    """Whether a replica reporting this ``SHOW REPLICA STATUS`` row may serve reads, and why (not).

    Both replication threads must run (a replica cut off from its primary stops knowing how far behind it
    is) and the reported lag must be known and at most ``max_lag`` seconds. MariaDB and MySQL before 8.0.22
    name the columns ``Slave_*`` / ``Seconds_Behind_Master``, MySQL 8.0.22+ ``Replica_*`` /
    ``Seconds_Behind_Source``.
    """
    if not status:
        return False, "the server is not a replica (SHOW REPLICA STATUS is empty)"

    def column(*names: str) -> Any:
        return next((status[n] for n in names if n in status), None)

    sql_thread = column("Slave_SQL_Running", "Replica_SQL_Running")
    io_thread = column("Slave_IO_Running", "Replica_IO_Running")
    lag = column("Seconds_Behind_Master", "Seconds_Behind_Source")
    if sql_thread != "Yes":
        return False, f"replication SQL thread not running ({sql_thread})"
    if io_thread != "Yes":
        return False, f"replication IO thread not running ({io_thread})"
    if lag is None:
        return False, "replication lag unknown"
    if float(lag) > max_lag:
        return False, f"replication lag {lag} s > {max_lag:g} s"
    return True, f"replication lag {lag} s"


class ReplicaHealth:
    """Cached, thread-safe answer to "may the replica serve reads now?".

    One thread at a time asks the replica, over a connection of its own with a ~1 s timeout (never Django's
    ``replica`` connection, whose queries may legitimately run long); the others keep the previous verdict
    meanwhile, which starts as "no". A verdict is reused for :data:`CHECK_INTERVAL`, so a replica that went
    down or fell behind is skipped from the next check on, and one that recovered is used again.
    """

    def __init__(self, alias: str = REPLICA_ALIAS, max_lag: float | None = None,
                 interval: float = CHECK_INTERVAL) -> None:
        self.alias = alias
        self.max_lag = float(settings.DJS_DATABASE.replica_max_lag_seconds if max_lag is None else max_lag)
        self.interval = interval
        self.checks = 0  # health checks made by this process (tests assert the rate limit on it)
        self.reason = "not checked yet"
        self._healthy = False
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._conn: Any = None
        self._statement = "SHOW REPLICA STATUS"

    def healthy(self) -> bool:
        if time.monotonic() - self._checked_at < self.interval:
            return self._healthy
        if not self._lock.acquire(blocking=False):
            return self._healthy  # another thread is asking right now
        try:
            if time.monotonic() - self._checked_at >= self.interval:
                self._update(*self._check())
        finally:
            self._lock.release()
        return self._healthy

    def _update(self, healthy: bool, reason: str) -> None:
        self.checks += 1
        if healthy != self._healthy or self.checks == 1:
            if healthy:
                log.info("read replica %r in use: %s", self.alias, reason)
            else:
                log.warning("read replica %r skipped, reading the primary: %s", self.alias, reason)
        self._healthy, self.reason = healthy, reason
        self._checked_at = time.monotonic()
        metrics.replica_healthy.set(1 if healthy else 0)

    def _check(self) -> tuple[bool, str]:
        try:
            return replica_verdict(self._status(), self.max_lag)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, access denied: all mean "not now"
            self._close()
            return False, f"health check failed: {type(exc).__name__}: {exc}"

    def _status(self) -> dict[str, Any] | None:
        import MySQLdb

        if self._conn is None:
            params = connections[self.alias].get_connection_params()
            params.update(connect_timeout=CHECK_TIMEOUT, read_timeout=CHECK_TIMEOUT, write_timeout=CHECK_TIMEOUT)
            self._conn = MySQLdb.connect(**params)
        cursor = self._conn.cursor()
        try:
            try:
                cursor.execute(self._statement)
            except MySQLdb.ProgrammingError:  # MariaDB < 10.5.1, MySQL < 8.0.22: only the old spelling
                if self._statement == "SHOW SLAVE STATUS":
                    raise
                self._statement = "SHOW SLAVE STATUS"
                cursor.execute(self._statement)
            row = cursor.fetchone()
            return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None
        finally:
            cursor.close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._conn = None


class ReadReplicaRouter:
    """Records reads to the healthy replica; every other read and every write to the primary.

    Reads stay on the primary inside a transaction on the primary (they belong to its snapshot and may
    follow its own uncommitted writes) and in threads pinned with :func:`pin_thread_to_primary` /
    :func:`primary_reads`. Always naming an alias (never None) keeps Django from falling back to the alias
    an instance was loaded from: a record read on the replica and then saved is written to the primary.
    """

    def __init__(self) -> None:
        self.health = ReplicaHealth()

    def db_for_read(self, model: type, **hints: Any) -> str:
        if model._meta.app_label not in REPLICA_APP_LABELS:
            return DEFAULT_DB_ALIAS
        if getattr(_local, "primary", False) or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return REPLICA_ALIAS if self.health.healthy() else DEFAULT_DB_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # both aliases hold the same data

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS  # the replica gets its schema by replication
