"""Log files per process role: ``log.path``, rotated by ``log.maxSize``, pruned by ``log.maxBackups`` and
``log.maxAge`` (issue 18); shared safely by the processes of one role."""
from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

import pytest

from djs_platform.config import BASE_DIR, load_config
from djs_platform.logs import LogFiles, RoleFileHandler, log_to_file

ROTATED = re.compile(r"^web-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}(-\d+)?\.log$")


def _logger(handler: logging.Handler, name: str = "djs.test.logs") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def _lines(directory: Path, prefix: str = "web") -> list[str]:
    return [line for path in sorted(directory.glob(f"{prefix}*.log")) for line in path.read_text().splitlines()]


def test_a_full_file_is_rotated_and_only_the_newest_backups_are_kept(tmp_path):
    umask = os.umask(0o022)  # gunicorn's master runs with the operator's umask, not DJS's 077
    try:
        handler = RoleFileHandler(tmp_path / "web.log", max_bytes=300, backups=2, max_age_days=0)
        logger = _logger(handler)
        for n in range(60):
            logger.info("line %03d %s", n, "x" * 20)
    finally:
        handler.close()
        os.umask(umask)
    assert {oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()} == {oct(0o600)}  # logs and lock: private
    rotated = sorted(p.name for p in tmp_path.iterdir() if ROTATED.match(p.name))
    assert len(rotated) == 2
    assert (tmp_path / "web.log").stat().st_size <= 300
    assert all((tmp_path / name).stat().st_size <= 300 for name in rotated)
    lines = _lines(tmp_path)
    assert lines[-1].endswith("line 059 " + "x" * 20)  # the newest lines survive, the oldest went
    assert not any("line 000 " in line for line in lines)


def test_without_a_count_limit_every_line_is_kept_across_rotations(tmp_path):
    handler = RoleFileHandler(tmp_path / "web.log", max_bytes=500, backups=0, max_age_days=0)
    logger = _logger(handler)
    try:
        for n in range(100):
            logger.info("%s line %03d", "z" * 40, n)  # 5 kB in all: ten files and more, some within 1 ms
    finally:
        handler.close()
    assert len([p for p in tmp_path.iterdir() if ROTATED.match(p.name)]) >= 9
    assert sorted(int(line.rsplit(" ", 1)[1]) for line in _lines(tmp_path)) == list(range(100))


def test_rotated_files_older_than_max_age_are_deleted_at_start_and_other_files_are_left_alone(tmp_path):
    old, recent = tmp_path / "web-2020-01-01T00-00-00.000.log", tmp_path / "web-2099-01-01T00-00-00.000.log"
    other, foreign = tmp_path / "grpc-2020-01-01T00-00-00.000.log", tmp_path / "web-notes.log"
    for path in (old, recent, other, foreign):
        path.write_text("old\n")
        os.utime(path, (time.time() - 40 * 86400,) * 2)
    os.utime(recent, None)
    handler = RoleFileHandler(tmp_path / "web.log", max_bytes=0, backups=0, max_age_days=30)
    handler.close()
    assert not old.exists()
    assert recent.exists() and other.exists() and foreign.exists()


def test_processes_sharing_a_role_file_lose_no_line_while_they_rotate_it(tmp_path):
    """gunicorn's workers (and scheduler nodes on one host) write one file: every line lands exactly once."""
    handler = RoleFileHandler(tmp_path / "web.log", max_bytes=4000, backups=0, max_age_days=0)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger(handler)
    children = []
    for worker in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            try:
                for n in range(300):
                    logger.info("w%d-%03d %s", worker, n, "y" * 30)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    handler.close()
    lines = _lines(tmp_path)
    assert sorted(lines) == sorted(f"w{w}-{n:03d} {'y' * 30}" for w in range(3) for n in range(300))
    assert all(path.stat().st_size <= 4000 for path in tmp_path.glob("web*.log"))


def test_log_files_settings_come_from_the_log_section(tmp_path):
    files = LogFiles.from_config(load_config(environ={}))
    assert files.directory == BASE_DIR / "var" / "log"  # ./var/log, relative to the project
    assert (files.max_bytes, files.backups, files.max_age_days) == (100 * 1024 * 1024, 10, 30)
    custom = LogFiles.from_config(load_config(environ={"DJS_LOG_PATH": str(tmp_path), "DJS_LOG_MAX_SIZE": "0.5",
                                                      "DJS_LOG_MAX_BACKUPS": "0", "DJS_LOG_MAX_AGE": "7"}))
    assert (custom.path("scheduler"), custom.max_bytes, custom.backups, custom.max_age_days) == (
        tmp_path / "scheduler.log", 512 * 1024, 0, 7)
    assert LogFiles.from_config(load_config(environ={"DJS_LOG_PATH": ""})).path("web") is None  # stderr only
    with pytest.raises(ValueError, match="log.maxBackups must be 0"):
        LogFiles.from_config(load_config(environ={"DJS_LOG_MAX_BACKUPS": "-1"}))


def test_a_role_logs_django_and_its_own_loggers_to_its_file(tmp_path):
    cfg = load_config(environ={"DJS_LOG_PATH": str(tmp_path / "logs"), "DJS_LOG_PAHT": "/elsewhere"})
    path = log_to_file("scheduler", cfg)
    assert path == tmp_path / "logs" / "scheduler.log"
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None) == str(path)]
    try:
        logging.getLogger("apps.tasks.scheduler").warning("node probe-1 started")
        logging.getLogger("django.request").error("request probe failed")  # a logger that does not propagate
    finally:
        for name in ("", "django", "django.request"):
            for handler in handlers:
                logging.getLogger(name).removeHandler(handler)
        for handler in handlers:
            handler.close()
    text = path.read_text()
    # the start-up warnings (logged before the file existed) and where the log goes, first
    assert text.splitlines()[0].endswith("WARNING djs.config configuration: environment variable DJS_LOG_PAHT "
                                         "matches no configuration key, ignored (did you mean DJS_LOG_PATH?)"), text
    assert f"INFO djs.logs scheduler log: {path} (and stderr)" in text
    assert re.search(r" \d+ WARNING apps\.tasks\.scheduler node probe-1 started$", text, flags=re.M), text
    assert "ERROR django.request request probe failed" in text
    assert oct(path.stat().st_mode & 0o777) == oct(0o600) and oct(path.parent.stat().st_mode & 0o777) == oct(0o700)


def test_an_unwritable_log_path_is_a_warning_not_a_failed_start(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="djs.logs"):
        assert log_to_file("grpc", load_config(environ={"DJS_LOG_PATH": str(blocker / "logs")})) is None
    assert "cannot write the grpc log" in caplog.text and "logging to stderr only" in caplog.text
