"""Real platform processes for tests: a fresh database, migrate + bootstrap, gunicorn on a free port.

Used where the behaviour under test only exists across processes (token revocation seen by another
process, graceful shutdown, later: several scheduler nodes).
"""
from __future__ import annotations

import os
import secrets
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
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test: a SQLite file, or a new MariaDB schema."""
    current = os.environ.get("DJS_DATABASE_URL", "")
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_") or k.startswith("DJS_TEST_")}
    env.update({
        "DJS_DATABASE_URL": database_url,
        "DJS_DEBUG": "false",
        "DJS_JWT_SECRET": os.environ.get("DJS_JWT_SECRET") or secrets.token_hex(24),
        "DJS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DJS_SERVER_WORKERS": "1",
        "DJS_SERVER_THREADS": "4",
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
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "bootstrap")


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
