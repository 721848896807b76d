"""Real platform processes for tests: a fresh database, migrate + bootstrap, gunicorn on a free port.

Used where the behaviour under test only exists across processes (token revocation seen by another
process, graceful shutdown, later: several scheduler nodes).
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
import textwrap
from collections import Counter
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx

from djs_platform.config import BASE_DIR

ADMIN_PASSWORD = os.environ.get("DJS_ADMIN_PASSWORD", "Test-Admin-Passw0rd!")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the suite through `make test` (scripts/run_tests.py), "
                           "which starts the throwaway MariaDB and Redis these tests need")
    return value


@contextmanager
def fresh_database(tmp_path: Path, server_url: str | None = None) -> Iterator[str]:
    """An empty database of the backend under test (or of ``server_url``: "" = SQLite, mysql://... =
    a new schema on that server)."""
    current = os.environ.get("DJS_DATABASE_URL", "") if server_url is None else server_url
    if not current.startswith("mysql"):
        yield f"sqlite:///{tmp_path / 'platform.sqlite3'}"
        return
    import MySQLdb

    parsed = urlparse(current)
    name = "djs_proc_" + secrets.token_hex(4)
    conn = MySQLdb.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username,
                           passwd=parsed.password or "")
    try:
        conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield parsed._replace(path="/" + name).geturl()
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


def platform_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DJS_") or k.startswith("DJS_TEST_") or k == "DJS_WEB_UI_DIST"}
    env.update({
        "DJS_DATABASE_URL": database_url,
        "DJS_DEBUG": "false",
        "DJS_JWT_SECRET": os.environ.get("DJS_JWT_SECRET") or secrets.token_hex(24),
        "DJS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DJS_SERVER_WORKERS": "1",
        "DJS_SERVER_THREADS": "4",
        # Tests read each process's log from its captured stderr; no role files in the project's var/log (a test
        # of log.path sets its own directory).
        "DJS_LOG_PATH": "",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, cwd=BASE_DIR,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def prepare_database(env: dict[str, str]) -> None:
    """Migrate and bootstrap the database of ``env``. On MariaDB the migrated schema is copied from a template this
    process migrated once (a `migrate` costs 5-15 s of a process test, the copy under one); the tables and rows are
    what `migrate` leaves, and ``bootstrap`` still runs against each database with the test's own settings.
    ``DJS_TEST_MIGRATE_EACH=1`` migrates every database itself instead."""
    if os.environ.get("DJS_TEST_MIGRATE_EACH") or not copy_migrated_schema(env["DJS_DATABASE_URL"], env):
        manage(env, "migrate", "--noinput", "-v0")
    manage(env, "bootstrap")


#: Suite server URL -> the migrated template schema this process made there (None: the schema cannot be copied).
_template: dict[str, str | None] = {}
_MYSQL_SESSION = "SET sql_mode='STRICT_TRANS_TABLES', time_zone='+00:00', foreign_key_checks=0"


def _mysql(url: str, database: str | None = None):
    import MySQLdb

    parsed = urlparse(url)
    return MySQLdb.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username,
                           passwd=parsed.password or "", charset="utf8mb4", init_command=_MYSQL_SESSION,
                           **({"db": database} if database else {}))


def _template_schema(env: dict[str, str]) -> str | None:
    """The migrated template schema of this process on the suite's server (``DJS_TEST_MARIADB_URL``), made on
    first use with a real `migrate` and dropped when the process exits; None when there is no such server or the
    schema holds anything besides tables and rows (views, triggers, routines: then every database migrates)."""
    server = os.environ.get("DJS_TEST_MARIADB_URL", "")
    if not server.startswith("mysql"):
        return None
    if server not in _template:
        name = "djs_tpl_" + secrets.token_hex(4)
        conn = _mysql(server)
        try:
            conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()
        atexit.register(_drop_schema, server, name)
        manage({**env, "DJS_DATABASE_URL": urlparse(server)._replace(path="/" + name).geturl()},
               "migrate", "--noinput", "-v0")
        conn = _mysql(server, name)
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND "
                           "table_type <> 'BASE TABLE') + (SELECT COUNT(*) FROM information_schema.triggers WHERE "
                           "trigger_schema = %s) + (SELECT COUNT(*) FROM information_schema.routines WHERE "
                           "routine_schema = %s) + (SELECT COUNT(*) FROM information_schema.events WHERE "
                           "event_schema = %s)", (name,) * 4)
            plain = cursor.fetchone()[0] == 0
        finally:
            conn.close()
        _template[server] = name if plain else None
    return _template[server]


def _drop_schema(server: str, name: str) -> None:
    try:
        conn = _mysql(server)
    except Exception:  # noqa: BLE001 - the suite's server is already gone: so is the schema
        return
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        conn.close()


def copy_migrated_schema(database_url: str, env: dict[str, str]) -> bool:
    """Give the empty MariaDB database at ``database_url`` the tables and rows a `migrate` leaves, copied from this
    process's template (see :func:`_template_schema`): each table's own ``SHOW CREATE TABLE`` (columns, indexes,
    foreign keys, defaults, AUTO_INCREMENT) and its rows. False (nothing done) when it cannot: not MariaDB, no
    template, or a database that is not empty."""
    if not database_url.startswith("mysql"):
        return False
    template = _template_schema(env)
    if template is None:
        return False
    server = os.environ["DJS_TEST_MARIADB_URL"]
    target = urlparse(database_url)
    same_server = (target.hostname, target.port) == (urlparse(server).hostname, urlparse(server).port)
    source = _mysql(server, template)
    destination = _mysql(database_url, target.path.lstrip("/"))
    try:
        read, write = source.cursor(), destination.cursor()
        write.execute("SHOW TABLES")
        if write.fetchall():
            return False
        read.execute("SHOW TABLES")
        tables = [table for (table,) in read.fetchall()]
        for table in tables:
            read.execute(f"SHOW CREATE TABLE `{table}`")
            write.execute(read.fetchone()[1])
            if same_server:
                write.execute(f"INSERT INTO `{table}` SELECT * FROM `{template}`.`{table}`")
                continue
            read.execute(f"SELECT * FROM `{table}`")
            rows = read.fetchall()
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                write.executemany(f"INSERT INTO `{table}` VALUES ({marks})", rows)
        destination.commit()
    finally:
        source.close()
        destination.close()
    return True


class WebProcess:
    """gunicorn serving the platform on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.env = {**env, "DJS_SERVER_PORT": str(self.port), "DJS_SERVER_HOST": "127.0.0.1"}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 60) -> "WebProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "configs" / "gunicorn.conf.py")],
            env=self.env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> "WebProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def scheduler_env(db_url: str, **extra: str) -> dict[str, str]:
    """Platform environment whose egress policy lets tasks call loopback targets."""
    return platform_env(db_url, DJS_SECURITY_EGRESS_ALLOW_CIDRS="[127.0.0.0/8]", **extra)


def run_django(env: dict[str, str], code: str) -> str:
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c", textwrap.dedent(code)],
                            env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_tasks(env: dict[str, str], count: int, url: str, start_in: float, **fields) -> float:
    """Create ``count`` every-second tasks whose first fire is a whole second ``start_in`` s from now."""
    first = int(time.time() + start_in) + 1
    run_django(env, f"""
        from datetime import datetime, timezone
        from apps.tasks.models import Task
        from apps.departments.models import Department
        dept = Department.objects.filter(parent__isnull=True).first()
        first = datetime.fromtimestamp({first}, timezone.utc)
        fields = {fields!r}
        Task.objects.bulk_create([Task(name=fields.get("prefix", "t") + str(i), department=dept, task_type="HTTP",
            cron_expression=fields.get("cron", "* * * * * *"), timezone="UTC", url="{url}/" + str(i),
            http_method="GET", status=fields.get("status", 1), timeout=30, max_retry=fields.get("max_retry", 0),
            next_execute_time=first) for i in range({count})])
    """)
    return float(first)


class Nodes:
    """``runscheduler`` processes of one test. ``stop_all`` fails the test when a node the test did not kill
    exited with a non-zero code, or a node it did not disturb logged an ERROR line or a traceback: a crashed
    node must never pass as a quiet one."""

    #: Log lines that mean a node hit something it did not handle.
    PROBLEM_MARKERS = ("Traceback (most recent call last)", " ERROR ", "ERROR:", "CRITICAL")

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.procs = env, log_dir, {}
        self.faulted: set[str] = set()
        self.killed: set[str] = set()

    def start(self, name: str, **extra_env: str) -> subprocess.Popen:
        """Start a node; ``extra_env`` overrides this node's environment only (e.g. its own lookahead)."""
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "runscheduler", "--name", name],
                                env={**self.env, **extra_env}, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def fault(self, name: str) -> None:
        """The test itself disturbs this node (SIGSTOP, its database taken away): the errors it logs are not
        held against it; its exit code still is."""
        self.faulted.add(name)

    def stop_all(self, timeout: float = 40) -> dict[str, int]:
        """SIGTERM every running node, wait, and check each clean node's exit code and log."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"{name} did not drain within {timeout}s:\n{self.log(name)}")
        for name, code in codes.items():
            if name in self.killed:
                continue
            assert code == 0, f"node {name} exited with code {code}:\n{self.log(name)}"
            if name not in self.faulted:
                self.assert_clean_log(name)
        return codes

    def assert_clean_log(self, name: str) -> None:
        text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        problems = [line for line in text.splitlines() if any(m in line for m in self.PROBLEM_MARKERS)]
        assert not problems, f"node {name} logged problems:\n" + "\n".join(problems[:20]) + f"\n{text[-4000:]}"

    def kill9(self, name: str) -> None:
        self.killed.add(name)
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]


def record_rows(env: dict[str, str], *fields: str) -> list[dict]:
    """Every record of every month table of the platform database in ``env`` (a separate process)."""
    out = run_django(env, f"""
        import json
        from apps.records.models import existing_record_tables, record_model
        rows = []
        for name in existing_record_tables(refresh=True):
            rows += list(record_model(int(name[7:11]), int(name[11:13])).objects.values(*{list(fields)!r}))
        print(json.dumps(rows, default=str))
    """)
    return json.loads(out.strip().splitlines()[-1])


def fire_report(hits: list, tasks: int, first: float, stopped_at: float) -> dict:
    """Duplicates, misses and lag of every-second tasks ``0..tasks-1`` (paths ``.../<index>``) from what a
    target received. Every second from ``first`` to 1 s before ``stopped_at`` must arrive exactly once."""
    keys = Counter(h.header("Idempotency-Key") for h in hits)
    seconds = range(int(first), int(stopped_at) - 1)
    expected = {(str(i), s * 1000) for s in seconds for i in range(tasks)}
    seen = {(h.path.rsplit("/", 1)[1], int(h.header("Idempotency-Key").rsplit("-", 1)[1])) for h in hits}
    lags = sorted(h.arrived_wall - int(h.header("Idempotency-Key").rsplit("-", 1)[1]) / 1000 for h in hits)
    in_window = [h for h in hits if int(first) * 1000 <= int(h.header("Idempotency-Key").rsplit("-", 1)[1])
                 < (int(stopped_at) - 1) * 1000]

    def pct(p: float) -> float | None:
        return round(lags[min(len(lags) - 1, int(len(lags) * p))] * 1000, 1) if lags else None

    return {"tasks": tasks, "seconds": len(seconds), "expected": len(expected), "executed": len(hits),
            "duplicates": sum(n - 1 for n in keys.values() if n > 1), "missed": len(expected - seen),
            "executions_per_s": round(len(in_window) / max(1, len(seconds)), 1),
            "lag_p50_ms": pct(0.50), "lag_p95_ms": pct(0.95), "lag_p99_ms": pct(0.99),
            "lag_max_ms": round(lags[-1] * 1000, 1) if lags else None}
