#!/usr/bin/env python3
"""Throwaway MariaDB and Redis servers for tests and local debugging.

Why this exists: the test suite must run against a *real* MariaDB and Redis
(locking, isolation and cross-process cache semantics differ from SQLite and
in-memory fakes), but CI has no Docker and no system services running. So each
test run starts its own private servers from the Debian binaries, in a fresh
temporary directory, listening on a free port on 127.0.0.1 only, and removes
everything again afterwards. Nothing here touches the system-wide service
configuration or data, and nothing listens on a non-loopback address.

Stdlib only, so it works before the project venv exists.

Library use::

    from services import mariadb, redis

    with mariadb() as db, redis() as cache:
        print(db.url, cache.url)   # mysql://djs:djs@127.0.0.1:PORT/djs, redis://...
        db.restart()               # fault injection: same port, same datadir

CLI (manual debugging)::

    python scripts/services.py up      # prints DJS_DATABASE_URL=... / DJS_REDIS_URL=...

Works both as root (CI: the servers are told ``--user=root``) and as a normal
user.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn, Self

__all__ = [
    "MariaDBServer",
    "RedisServer",
    "ServiceError",
    "free_port",
    "mariadb",
    "redis",
    "redis_command",
]

LOOPBACK = "127.0.0.1"

#: Database name, user and password the platform uses against the throwaway server.
DB_NAME = "djs"
DB_USER = "djs"
DB_PASSWORD = "djs"

#: How often a server start is retried with a new port when the port we picked
#: was grabbed by someone else between probing and binding (a benign race).
PORT_ATTEMPTS = 5

#: Lines of server log shown when a server fails to come up.
LOG_TAIL_LINES = 80

_PORT_IN_USE_MARKERS = (
    "address already in use",  # both servers, errno text
    "do you already have another",  # mariadbd: "... mysqld server running on port"
    "bind on tcp/ip port",  # mariadbd
)


class ServiceError(RuntimeError):
    """A throwaway server could not be prepared, started or stopped."""


class _PortInUse(ServiceError):
    """The server exited because its port was taken; the caller may retry."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0), then we release it so the server can
    bind it. Another process may grab it in between; callers retry on that.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """Environment for server/client subprocesses.

    MYSQL_* variables (MYSQL_PWD, MYSQL_HOST, MYSQL_UNIX_PORT, ...) are honoured
    by the MariaDB client even with ``--no-defaults`` and would silently
    redirect or break our admin connection, so they are dropped.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("MYSQL_")}


def _pdeathsig_prefix() -> list[str]:
    """Command prefix that makes Linux SIGTERM the server when its parent dies.

    Why: if the orchestrator is SIGKILLed (CI timeout, OOM killer) its
    ``finally`` blocks never run, and a leaked mariadbd would keep its port and
    datadir forever. ``setpriv`` (util-linux, Essential on Debian) sets
    PR_SET_PDEATHSIG and execs the server; unlike a ``preexec_fn`` this is safe
    when the caller has threads (pytest, Django). The signal is tied to the
    *thread* that started the server, so start servers from a long-lived
    thread (the main thread in practice). Best effort: no prefix without setpriv.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


def _which(*names: str) -> str:
    """First of ``names`` found on PATH (also /usr/sbin, where mariadbd lives)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    raise ServiceError(
        f"none of {', '.join(names)} found; run scripts/ensure_system_deps.sh "
        "(needs the Debian packages mariadb-server and redis-server)"
    )


def _tail(path: Path, lines: int = LOG_TAIL_LINES, *, offset: int = 0) -> str:
    """Last ``lines`` lines of ``path``, reading from byte ``offset`` on."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _stop_process(proc: subprocess.Popen[bytes] | None, *, timeout: float, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL when ``kill``), wait up to ``timeout``, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=10)


def _is_root() -> bool:
    return os.geteuid() == 0


def redis_command(port: int, *args: str, host: str = LOOPBACK, timeout: float = 5.0) -> bytes:
    """Send one RESP command and return the raw first reply line (e.g. ``b"+OK"``).

    Enough for PING/FLUSHALL without depending on the redis package (the
    orchestrator runs before/outside the venv).
    """
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.strip()


# --------------------------------------------------------------------------- base


class _Server:
    """Shared lifecycle: temp dir, port choice with retry, readiness, stop."""

    name = "server"
    #: Seconds to wait for readiness before giving up and printing the log.
    ready_timeout = 60.0
    #: Seconds to wait after SIGTERM before SIGKILL.
    stop_timeout = 30.0

    def __init__(self, *, port: int | None = None, base_dir: str | None = None) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"djs-{self.name}-", dir=base_dir))
        self.log_path = self.tmpdir / f"{self.name}.log"
        self.port: int = port or 0
        self.proc: subprocess.Popen[bytes] | None = None

    # subclass hooks -------------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    # lifecycle ------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn_and_wait(self) -> None:
        """Start the process on ``self.port`` and block until it is ready.

        Raises ``_PortInUse`` when the server died because the port was taken
        (only this attempt's part of the log is inspected, so an earlier
        collision is not mistaken for a new one).
        """
        log_offset = _size(self.log_path)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*_pdeathsig_prefix(), *self._command()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmpdir,
                env=_clean_env(),
                # Own session: a Ctrl-C in the terminal must not kill the
                # server before the tests using it have shut down; we stop it.
                start_new_session=True,
            )
        deadline = time.monotonic() + self.ready_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                log_text = _tail(self.log_path, offset=log_offset)
                self.proc = None
                if any(m in log_text.lower() for m in _PORT_IN_USE_MARKERS):
                    raise _PortInUse(f"{self.name}: port {self.port} already in use")
                self._fail(f"exited with code {code} during startup", log_text)
            if self._ready():
                return
            if time.monotonic() > deadline:
                _stop_process(self.proc, timeout=5, kill=True)
                self.proc = None
                self._fail(f"not ready after {self.ready_timeout:.0f}s", _tail(self.log_path, offset=log_offset))
            time.sleep(0.1)

    def _fail(self, what: str, log_text: str) -> NoReturn:
        message = (
            f"{self.name} on {LOOPBACK}:{self.port} {what}.\n"
            f"--- last lines of {self.log_path} ---\n{log_text}\n--- end of log ---"
        )
        print(message, file=sys.stderr, flush=True)
        raise ServiceError(message)

    def start(self) -> None:
        """Start the server; pick a free port on first start (retrying on races).

        Later starts (``restart()``, ``stop()`` + ``start()``) reuse the same port,
        because clients already hold the URL.
        """
        if self.running:
            return
        if self.port:  # fixed port (given, or kept from the first start)
            offset = _size(self.log_path)
            try:
                self._spawn_and_wait()
            except _PortInUse:
                self._fail("could not start: port already in use", _tail(self.log_path, offset=offset))
            return
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            offset = _size(self.log_path)
            try:
                self._spawn_and_wait()
                return
            except _PortInUse:
                if attempt == PORT_ATTEMPTS:
                    self._fail(f"no free port after {PORT_ATTEMPTS} attempts", _tail(self.log_path, offset=offset))
        raise AssertionError("unreachable")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGTERM, wait, SIGKILL fallback); keep its data.

        ``kill=True`` sends SIGKILL right away, simulating a crash (MariaDB will
        then do crash recovery on the next ``start()``).
        """
        _stop_process(self.proc, timeout=self.stop_timeout, kill=kill)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same data directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and delete its temporary directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- MariaDB


class MariaDBServer(_Server):
    """A private mariadbd with a fresh datadir, bound to 127.0.0.1 only.

    After ``start()`` a database ``djs`` exists and user ``djs``/``djs`` (from
    127.0.0.1 over TCP and from localhost over the socket) has ALL privileges
    WITH GRANT OPTION, because pytest-django creates and drops ``test_*``
    databases.
    """

    name = "mariadb"
    ready_timeout = 90.0  # first start on a busy 2-core CI box can be slow
    stop_timeout = 60.0  # clean InnoDB shutdown flushes the buffer pool

    def __init__(self, *, port: int | None = None, base_dir: str | None = None, durable: bool = False,
                 server_args: Sequence[str] = ()) -> None:
        # Resolve binaries before creating the temp dir, so a missing package
        # does not leave an empty directory behind.
        # durable: flush the redo log at every commit (innodb_flush_log_at_trx_commit=1, the production
        # default; benchmarks use it). Tests use 2 (flush once a second): faster, same semantics.
        self.durable = durable
        # server_args: extra mariadbd options, appended last (e.g. a replication pair: "--log-bin",
        # "--server-id=1" / "--server-id=2", "--read-only"). A --log-bin among them replaces --skip-log-bin.
        self.server_args = list(server_args)
        self._mariadbd = _which("mariadbd", "mysqld")
        self._client = _which("mariadb", "mysql")
        self._install_db = _which("mariadb-install-db", "mysql_install_db")
        super().__init__(port=port, base_dir=base_dir)
        self.datadir = self.tmpdir / "data"
        self.socket = self.tmpdir / "mariadbd.sock"
        self.sql_tmpdir = self.tmpdir / "tmp"
        self._initialized = False
        if len(str(self.socket)) > 100:  # sun_path is 108 bytes on Linux
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            raise ServiceError(f"socket path too long for a unix socket: {self.socket}; use a shorter TMPDIR")

    @property
    def url(self) -> str:
        return f"mysql://{DB_USER}:{DB_PASSWORD}@{LOOPBACK}:{self.port}/{DB_NAME}"

    def _user_args(self) -> list[str]:
        # mariadbd refuses to run as root unless told so explicitly; as a
        # normal user --user is pointless (and only produces a warning).
        return ["--user=root"] if _is_root() else []

    def _install(self) -> None:
        """Create the system tables in a fresh datadir (once per instance)."""
        self.datadir.mkdir()
        self.sql_tmpdir.mkdir()
        cmd = [
            self._install_db,
            "--no-defaults",  # must be first: ignore /etc/mysql and ~/.my.cnf
            "--auth-root-authentication-method=normal",  # root@localhost, no password
            f"--datadir={self.datadir}",
            f"--user={pwd.getpwuid(os.geteuid()).pw_name}",  # $USER may lie (sudo, su)
            "--skip-test-db",  # no `test` db and no anonymous users
            "--skip-name-resolve",  # no DNS lookups of the hostname (CI has no DNS)
            f"--tmpdir={self.sql_tmpdir}",
        ]
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.tmpdir,
            env=_clean_env(),
            check=False,
        )
        self.log_path.write_bytes(result.stdout)
        if result.returncode != 0:
            self._fail(f"mariadb-install-db failed with code {result.returncode}", _tail(self.log_path))

    def _command(self) -> list[str]:
        return [
            self._mariadbd,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={LOOPBACK}",
            f"--pid-file={self.tmpdir / 'mariadbd.pid'}",
            f"--tmpdir={self.sql_tmpdir}",
            f"--log-error={self.log_path}",
            *self._user_args(),
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=256M",
            f"--innodb-flush-log-at-trx-commit={1 if self.durable else 2}",
            *([] if any(a.startswith(("--log-bin", "--log_bin")) for a in self.server_args) else ["--skip-log-bin"]),
            "--max-connections=500",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            *self.server_args,
        ]

    def sql(self, statements: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run SQL as root over the unix socket (root has no password here)."""
        return subprocess.run(
            [
                self._client,
                "--no-defaults",
                "--protocol=socket",
                f"--socket={self.socket}",
                "--user=root",
                "--batch",
                "--skip-column-names",
                "--connect-timeout=2",
                "-e",
                statements,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_clean_env(),
            timeout=60,
            check=check,
        )

    def _ready(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.sql("SELECT 1", check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _provision(self) -> None:
        """Create the djs user and database (first start only)."""
        hosts = (LOOPBACK, "localhost")
        statements = [
            *(f"CREATE USER '{DB_USER}'@'{h}' IDENTIFIED BY '{DB_PASSWORD}';" for h in hosts),
            *(f"GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'{h}' WITH GRANT OPTION;" for h in hosts),
            f"CREATE DATABASE `{DB_NAME}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
        ]
        result = self.sql("\n".join(statements), check=False)
        if result.returncode != 0:
            self._fail(f"provisioning failed: {result.stderr.strip()}", _tail(self.log_path))

    def start(self) -> None:
        if self.running:
            return
        if not self._initialized:
            self._install()
        super().start()
        if not self._initialized:
            self._provision()
            self._initialized = True


# --------------------------------------------------------------------------- Redis


class RedisServer(_Server):
    """A private redis-server without persistence, bound to 127.0.0.1 only."""

    name = "redis"
    ready_timeout = 20.0
    stop_timeout = 15.0

    def __init__(self, *, port: int | None = None, base_dir: str | None = None, password: str | None = None) -> None:
        self._redis_server = _which("redis-server")
        self.password = password
        super().__init__(port=port, base_dir=base_dir)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{LOOPBACK}:{self.port}/0"

    def _command(self) -> list[str]:
        return [
            self._redis_server,
            "--port", str(self.port),
            "--bind", LOOPBACK,
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.tmpdir),
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ] + (["--requirepass", self.password] if self.password else [])  # fmt: skip

    def _ready(self) -> bool:
        try:
            return redis_command(self.port, "PING", timeout=1.0).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def flushall(self) -> None:
        """Drop every key in every database (used between test passes)."""
        reply = redis_command(self.port, "FLUSHALL")
        if reply != b"+OK":
            raise ServiceError(f"redis FLUSHALL failed: {reply!r}")


# --------------------------------------------------------------------------- context managers


@contextlib.contextmanager
def mariadb(*, port: int | None = None, base_dir: str | None = None, durable: bool = False,
            server_args: Sequence[str] = ()) -> Iterator[MariaDBServer]:
    """Start a throwaway MariaDB (``server_args``: extra mariadbd options); stop it and delete its data on exit."""
    server = MariaDBServer(port=port, base_dir=base_dir, durable=durable, server_args=server_args)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def redis(*, port: int | None = None, base_dir: str | None = None,
          password: str | None = None) -> Iterator[RedisServer]:
    """Start a throwaway Redis (with ``requirepass`` when ``password`` is given); stop it and delete its
    directory on exit."""
    server = RedisServer(port=port, base_dir=base_dir, password=password)
    try:
        server.start()
        yield server
    finally:
        server.close()


# --------------------------------------------------------------------------- CLI


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM/SIGHUP into the same clean shutdown path as Ctrl-C."""
    raise KeyboardInterrupt


def _cmd_up() -> int:
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)
    try:
        with mariadb() as db, redis() as cache:
            print(f"DJS_DATABASE_URL={db.url}")
            print(f"DJS_REDIS_URL={cache.url}")
            print(f"# mariadb socket: {db.socket}  datadir: {db.datadir}  (root, no password)", file=sys.stderr)
            print("# running; press Ctrl-C to stop and delete everything", file=sys.stderr, flush=True)
            sys.stdout.flush()
            while db.running and cache.running:
                time.sleep(0.5)
            print("a server exited unexpectedly", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nstopping services", file=sys.stderr)
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start MariaDB and Redis, print their URLs, wait for Ctrl-C")
    args = parser.parse_args(argv)
    if args.command == "up":
        return _cmd_up()
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ServiceError:
        sys.exit(1)  # details (with the server log) were already printed
