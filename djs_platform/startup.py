"""Start-up: what a DJS process does to its files before Django reads its settings.

Importing ``djs_platform.settings`` has no side effects; every entry point calls :func:`prepare` first:
``manage.py`` (and so ``runplatform``, ``rungrpc``, ``runscheduler``), ``djs_platform/wsgi.py`` (gunicorn's
workers), ``djs_platform/asgi.py`` and the test suite (``tests/worker_env.py``, loaded before pytest-django).
"""
from __future__ import annotations

import os
import secrets
import stat

from djs_platform.conf import DEV_JWT_SECRET_FILE, needs_dev_jwt_secret
from djs_platform.config import BASE_DIR, Config, config, install_secret


def prepare(cfg: Config | None = None) -> None:
    """Private state (:func:`private_state`) and, in the dev profile, its per-install JWT secret. Idempotent;
    processes starting at once agree on one secret."""
    cfg = cfg or config
    private_state(cfg)
    if needs_dev_jwt_secret(cfg):
        install_secret(DEV_JWT_SECRET_FILE, lambda: secrets.token_hex(32))
    try:  # whitenoise serves from here; a tree this process may not write (another user's var/) needs none
        (BASE_DIR / "var" / "static").mkdir(parents=True, exist_ok=True)
    except OSError:
        pass


def private_state(cfg: Config) -> None:
    """``var/`` holds the SQLite database, the JWT and shutdown secrets and run state: 0700, its files 0600,
    and every file a DJS process creates is private (umask 077). ``configs/`` (the configuration may carry
    secrets) is 0700 and the configuration file 0600. A SHELL command runs as another user (docs/security.md,
    finding 2) and must read none of it. Only what this process's user owns is changed."""
    os.umask(0o077)
    var = BASE_DIR / "var"
    try:
        var.mkdir(mode=0o700, exist_ok=True)
    except OSError:  # a read-only tree is the operator's choice; the process still starts
        pass
    for directory in (var, BASE_DIR / "configs"):
        try:
            if directory.stat().st_uid != os.geteuid():
                continue
            directory.chmod(0o700)
            for entry in directory.iterdir() if directory == var else ():
                info = entry.lstat()
                if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
                    entry.chmod(0o600)
        except OSError:
            pass
    for path in cfg.files:  # the defaults and the DJS_CONFIG overlay
        try:
            info = path.stat()
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                path.chmod(0o600)
        except OSError:
            pass
