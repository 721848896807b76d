"""Log files per process role (``log.path``, ``log.maxSize``, ``log.maxBackups``, ``log.maxAge``; issue 18).

Each role writes ``<log.path>/<role>.log`` besides stderr: ``web`` (gunicorn's master and workers,
``configs/gunicorn.conf.py``), ``grpc`` (``manage.py rungrpc``) and ``scheduler``
(``manage.py runscheduler``); ``runplatform`` starts all three. A file past ``maxSize`` MB is renamed to
``<role>-<UTC time>.log`` (the original DistributedJob's lumberjack naming) and a new one begun; rotated files
beyond the newest ``maxBackups``, or older than ``maxAge`` days, are deleted (0 = no such limit).

Several processes of one role share its file (gunicorn workers; scheduler nodes on one host): every write holds
an exclusive ``flock`` on ``<role>.log.lock``, so one process rotates while the others wait, and a process whose
file was rotated by another reopens it before writing. No Django settings: gunicorn's master loads this
before Django.
"""
from __future__ import annotations

import fcntl
import logging
import logging.handlers
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from djs_platform.config import BASE_DIR, Config

ROLES = ("web", "grpc", "scheduler")
FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"
_STAMP = "%Y-%m-%dT%H-%M-%S"


@dataclass(frozen=True)
class LogFiles:
    """``log.*`` as numbers; ``directory`` None = stderr only."""

    directory: Path | None
    max_bytes: int
    backups: int
    max_age_days: float

    @classmethod
    def from_config(cls, cfg: Config) -> LogFiles:
        """The log-file part of ``log.*`` (``djs_platform.conf.LogSettings`` holds it with the level). Raises
        ValueError naming the key of a value that is not a number >= 0."""
        raw = str(cfg["log.path"] or "").strip()
        directory = None
        if raw:
            directory = Path(raw).expanduser()
            directory = directory if directory.is_absolute() else BASE_DIR / directory
        max_size = _limit("log.maxSize", cfg["log.maxSize"])
        backups = _limit("log.maxBackups", cfg["log.maxBackups"])
        max_age = _limit("log.maxAge", cfg["log.maxAge"])
        return cls(directory, int(max_size * 1024 * 1024), int(backups), max_age)

    def path(self, role: str) -> Path | None:
        return self.directory / f"{role}.log" if self.directory else None


def _limit(key: str, value: object) -> float:
    try:
        number = float(value or 0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{key} must be 0 (no limit) or positive, not {value!r}")
    return number


class RoleFileHandler(logging.handlers.BaseRotatingHandler):
    """A log file shared by the processes of one role, rotated by size, its rotated files pruned by count and
    age. Safe across processes (``flock`` around each write) and threads (``logging.Handler``'s lock)."""

    def __init__(self, filename: str | os.PathLike[str], *, max_bytes: int, backups: int, max_age_days: float):
        super().__init__(os.fspath(filename), mode="a", encoding="utf-8", delay=False)
        self.max_bytes, self.backups, self.max_age_days = max_bytes, backups, max_age_days
        self._lock_fd = self._open_lock()
        # A forked child (gunicorn's workers) shares the parent's open lock file, and flock does not exclude a
        # process from one that shares it: the child opens its own.
        os.register_at_fork(after_in_child=self._reopen_lock)
        root, ext = os.path.splitext(os.path.basename(self.baseFilename))
        self._rotated = re.compile(re.escape(root) + r"-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}(-\d+)?" + re.escape(ext)
                                   + "$")
        self._locked(self._prune)

    def _open(self):
        """The log file, private (0600) whatever the process's umask (gunicorn's master has not set DJS's)."""
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115 - the handler keeps it

    def _open_lock(self) -> int:
        return os.open(self.baseFilename + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _reopen_lock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = self._open_lock()

    def _locked(self, action, *args):
        if self._lock_fd < 0:  # closed (gunicorn's USR1 reopen closes and reopens file handlers)
            self._lock_fd = self._open_lock()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            return action(*args)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._locked(self._emit, record)
        except Exception:  # noqa: BLE001 - logging must never take the process down
            self.handleError(record)

    def _emit(self, record: logging.LogRecord) -> None:
        self._reopen_if_rotated()
        if self.shouldRollover(record):
            self.doRollover()
        logging.FileHandler.emit(self, record)

    def _reopen_if_rotated(self) -> None:
        """Another process renamed the file: write to the new one, not to the rotated one."""
        try:
            on_disk = os.stat(self.baseFilename)
        except FileNotFoundError:
            on_disk = None
        if self.stream is not None and on_disk is not None:
            mine = os.fstat(self.stream.fileno())
            if (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino):
                return
        if self.stream is not None:
            self.stream.close()
        self.stream = self._open()

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        if self.max_bytes <= 0 or self.stream is None:
            return False
        self.stream.flush()
        size = os.fstat(self.stream.fileno()).st_size
        return size > 0 and size + len(self.format(record).encode("utf-8")) + 1 > self.max_bytes

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        now = time.time()
        root, ext = os.path.splitext(self.baseFilename)
        stamp = time.strftime(_STAMP, time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
        target, n = f"{root}-{stamp}{ext}", 0
        while os.path.exists(target):  # two rotations in one millisecond
            n += 1
            target = f"{root}-{stamp}-{n}{ext}"
        if os.path.exists(self.baseFilename):
            os.rename(self.baseFilename, target)
        self.stream = self._open()
        self._prune()

    def rotated_files(self) -> list[Path]:
        """This role's rotated files, newest first (their names sort by time)."""
        directory = Path(self.baseFilename).parent
        return sorted((p for p in directory.iterdir() if self._rotated.match(p.name)), reverse=True)

    def _prune(self) -> None:
        files = self.rotated_files()
        doomed = set(files[self.backups:]) if self.backups > 0 else set()
        if self.max_age_days > 0:
            cutoff = time.time() - self.max_age_days * 86400
            for path in files:
                try:
                    if path.stat().st_mtime < cutoff:
                        doomed.add(path)
                except FileNotFoundError:
                    pass
        for path in doomed:
            try:
                path.unlink()
            except FileNotFoundError:  # another process pruned it first
                pass

    def close(self) -> None:
        super().close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def role_handler(role: str, cfg: Config) -> RoleFileHandler | None:
    """The file handler of ``role`` per ``cfg`` (None: ``log.path`` is empty). Raises OSError when the directory
    cannot be made or the file opened, ValueError on a bad ``log.*`` value."""
    if role not in ROLES:
        raise ValueError(f"unknown process role {role!r}")
    files = LogFiles.from_config(cfg)
    path = files.path(role)
    if path is None:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = RoleFileHandler(path, max_bytes=files.max_bytes, backups=files.backups,
                              max_age_days=files.max_age_days)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    return handler


def log_to_file(role: str, cfg: Config | None = None) -> Path | None:
    """In a Django process (after ``django.setup()``, which installs ``LOGGING``): send the root logger, and the
    loggers of ``LOGGING`` that do not propagate to it (``django``, ``django.request``), to ``role``'s file as
    well as stderr. Returns the file (None: ``log.path`` is empty).

    An unwritable ``log.path`` is a warning on stderr, not a failed start: the process still logs there."""
    from django.conf import settings

    from djs_platform.config import config

    try:
        handler = role_handler(role, cfg or config)
    except OSError as exc:
        logging.getLogger("djs.logs").warning("log.path: cannot write the %s log to %s (%s): logging to stderr only",
                                              role, exc.filename, exc.strerror)
        return None
    if handler is None:
        return None
    own = tuple(name for name, spec in settings.LOGGING.get("loggers", {}).items()
                if spec.get("handlers") and spec.get("propagate") is False)
    # The configuration warnings were logged when Django started, before this file existed: the file gets them
    # too (stderr already has them).
    for warning in (cfg or config).warnings:
        handler.handle(logging.makeLogRecord({"name": "djs.config", "levelno": logging.WARNING,
                                              "levelname": "WARNING", "msg": "configuration: %s",
                                              "args": (warning,)}))
    for name in ("", *own):
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("djs.logs").info("%s log: %s (and stderr)", role, handler.baseFilename)
    return Path(handler.baseFilename)
