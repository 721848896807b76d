"""DJS as a system under test: one migrated database, jobs written as ``task`` rows, ``runscheduler`` nodes.

Same shape as the peers (bench/peers): ``load(workload)``, ``start(processes) -> session ids``, ``stop()``,
``close()``.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from common import ROOT, Workload

# DJS settings a benchmark run uses (the shipped defaults unless a case overrides them).
NODE_ENV: dict[str, str] = {}


class DjsSystem:
    name = "djs"

    def __init__(self, mysql_server_url: str, redis_url: str, target_url: str, workdir: Path,
                 node_env: dict[str, str] | None = None):
        import MySQLdb

        self.server = urlparse(mysql_server_url)
        self.db_name = "djs_bench_" + secrets.token_hex(3)
        self.url = self.server._replace(path="/" + self.db_name).geturl()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.target_url = target_url
        self.procs: list[subprocess.Popen] = []
        self._conn = MySQLdb.connect(host=self.server.hostname, port=self.server.port, user=self.server.username,
                                     passwd=self.server.password or "", autocommit=True)
        self._conn.cursor().execute(f"CREATE DATABASE {self.db_name} CHARACTER SET utf8mb4 "
                                    "COLLATE utf8mb4_unicode_ci")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
        self.env.update({
            "DJS_DATABASE_URL": self.url, "DJS_REDIS_URL": redis_url, "DJS_DEBUG": "false",
            "DJS_JWT_SECRET": secrets.token_hex(24), "DJS_ADMIN_PASSWORD": "Bench-Admin-Passw0rd!",
            "DJS_SECURITY_EGRESS_ALLOW_CIDRS": "[127.0.0.0/8]", "PYTHONDONTWRITEBYTECODE": "1",
            **(node_env or {}),
        })
        self._manage("migrate", "--noinput", "-v0")
        self._manage("bootstrap")
        self.department_id = self._query("SELECT id FROM department WHERE parent_id IS NULL ORDER BY id LIMIT 1")[0][0]

    # --- plumbing --------------------------------------------------------------------------------

    def _manage(self, *args: str) -> None:
        result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=self.env, cwd=ROOT,
                                capture_output=True, text=True, timeout=600)
        if result.returncode:
            raise RuntimeError(f"manage.py {args} failed:\n{result.stdout}\n{result.stderr}")

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self._conn.cursor()
        cursor.execute(f"USE {self.db_name}")
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    # --- the system interface ----------------------------------------------------------------------

    def load(self, workload: Workload) -> None:
        """Empty the task and record tables, then INSERT the workload's jobs as tasks (enabled, first fire at
        the first instant their cron gives from ``workload.first``)."""
        self.stop()
        cursor = self._conn.cursor()
        cursor.execute(f"USE {self.db_name}")
        # Month tables only (record_YYYYMM): the rollup tables (record_rollup, record_rollup_cost,
        # record_rollup_month) are part of the schema — every result flush writes them in its transaction — and are
        # emptied instead. (Dropping them, as `LIKE 'record\_%'` did, made every flush fail: records stayed running
        # and the figures lacked the result writes.)
        cursor.execute("SHOW TABLES")
        tables = {table for (table,) in cursor.fetchall()}
        for table in sorted(tables):
            if re.fullmatch(r"record_\d{6}", table):
                cursor.execute(f"DROP TABLE {table}")
        for table in ("record_rollup", "record_rollup_cost", "record_rollup_month", "task_trigger", "task",
                      "scheduler_node", "scheduler_node_minute"):
            if table in tables:  # (an older checkout, benched for a before/after, may lack some)
                cursor.execute(f"DELETE FROM {table}")
        sys.path.insert(0, str(ROOT))
        from apps.tasks.schedule import parse_schedule  # pure Python, no Django setup needed

        start = datetime.fromtimestamp(workload.first - 1, timezone.utc)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = []
        nexts: dict[str, datetime] = {}
        for job in workload.jobs:
            if job.cron not in nexts:
                nexts[job.cron] = parse_schedule(job.cron, "UTC").next_after(start)
            rows.append((job.key, self.department_id, "HTTP", job.cron, "UTC", f"{self.target_url}/t/{job.key}",
                         "GET", 1, 30, 0, 0, 0, "allow", "skip", 0, 0,
                         nexts[job.cron].astimezone(timezone.utc).replace(tzinfo=None), now, now))
        sql = ("INSERT INTO task (name, department_id, task_type, cron_expression, timezone, url, http_method, "
               "status, timeout, max_retry, retry_interval, retry_count, concurrency_policy, misfire_policy, version, kill_seq, "
               "next_execute_time, create_time, update_time) VALUES "
               "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)")
        for i in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[i:i + 5000])

    def records_left_running(self) -> int:
        """Records still ``running`` (status 0) in every month table: after a node's clean stop, none."""
        tables = [t for (t,) in self._query("SHOW TABLES") if re.fullmatch(r"record_\d{6}", t)]
        return sum(self._query(f"SELECT COUNT(*) FROM {t} WHERE status = 0")[0][0] for t in tables)

    def ensure_month_table(self) -> None:
        """Create the current month's record table (the calibration loop copies its DDL)."""
        self._manage("shell", "-c", "from datetime import datetime, timezone; from apps.records.models import "
                     "ensure_record_table, month_of; ensure_record_table(*month_of(datetime.now(timezone.utc)))")

    def start(self, processes: int = 1) -> list[int]:
        for i in range(processes):
            log = open(self.workdir / f"djs-node-{i}.log", "ab")
            self.procs.append(subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "runscheduler", "--name", f"bench-{i}"], env=self.env,
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        time.sleep(1.0)
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"runscheduler exited early, see {self.workdir}")
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []

    def close(self) -> None:
        self.stop()
        self._conn.cursor().execute(f"DROP DATABASE IF EXISTS {self.db_name}")
        self._conn.close()
