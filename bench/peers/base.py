"""Plumbing shared by the peer systems: their own database on the MariaDB server, and process sessions."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

BENCH = Path(__file__).resolve().parent.parent
if str(BENCH) not in sys.path:  # the harness imports ``common`` as a top-level module, so do we
    sys.path.insert(0, str(BENCH))

PEERS_DIR = Path(__file__).resolve().parent
STOP_TIMEOUT = 15.0     # seconds between SIGTERM and SIGKILL
READY_TIMEOUT = 90.0    # seconds a started process may take to report it is up


class PeerBase:
    name = "peer"
    db_prefix = "peer"

    def __init__(self, mysql_server_url: str, redis_url: str, target_url: str, workdir: Path):
        import MySQLdb

        server = urlparse(mysql_server_url)
        self.db_host = server.hostname or "127.0.0.1"
        self.db_port = server.port or 3306
        self.db_user = unquote(server.username or "")
        self.db_password = unquote(server.password or "")
        self.db_name = f"{self.db_prefix}_bench_{secrets.token_hex(3)}"
        self.redis_url = redis_url
        self.target_url = target_url.rstrip("/")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self._logs: list = []
        self._conn = MySQLdb.connect(host=self.db_host, port=self.db_port, user=self.db_user,
                                     passwd=self.db_password, autocommit=True, connect_timeout=10)

    # --- database -----------------------------------------------------------------------------------

    def _recreate_database(self) -> None:
        cursor = self._conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{self.db_name}`")
        cursor.execute(f"CREATE DATABASE `{self.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self._conn.cursor()
        cursor.execute(f"USE `{self.db_name}`")
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    # --- processes ----------------------------------------------------------------------------------

    def _spawn(self, label: str, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        log = open(self.workdir / f"{self.name}-{label}.log", "ab")
        self._logs.append(log)
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def _wait_ready(self, ready_files: list[Path], timeout: float = READY_TIMEOUT) -> None:
        """Block until every ready file exists; fail (and stop everything) if a process exits first."""
        deadline = time.monotonic() + timeout
        while not all(f.exists() for f in ready_files):
            for proc in self.procs:
                if proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{self.name}: process {proc.args!r} exited with {proc.returncode} "
                                       f"during startup, see logs in {self.workdir}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name}: not ready after {timeout:.0f}s, see logs in {self.workdir}")
            time.sleep(0.05)

    def _ready_file(self, label: str) -> Path:
        path = self.workdir / f".{self.name}-{label}.ready"
        path.unlink(missing_ok=True)
        return path

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        from common import session_processes

        for proc in self.procs:  # SIGKILL what is left of each session (prefork children included)
            if proc.poll() is None or session_processes([proc.pid]):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        for log in self._logs:
            log.close()
        self._logs = []

    def close(self) -> None:
        try:
            self.stop()
        finally:
            try:
                self._conn.cursor().execute(f"DROP DATABASE IF EXISTS `{self.db_name}`")
            finally:
                self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
