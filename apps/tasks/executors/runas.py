"""Who a SHELL command runs as (``job.shell.runAs``, ``job.shell.runAsDepartments``; docs/security.md, finding 2).

A SHELL command must not run as the scheduler's own OS user: that user can read the node's environment
(``/proc/<node>/environ``: the JWT secret, the database URL), its files (``var/``: the SQLite database, the
secrets) and its Redis. The node therefore starts every command as another user — a name or a numeric
``uid:gid`` (which needs no passwd entry), with no supplementary groups — and marks itself non-dumpable, so
even a process of its own user cannot read its memory or environment through ``/proc``.

Switching users needs root or the capabilities in :data:`NEEDED_CAPABILITIES`. A node without them refuses to start with SHELL
enabled, unless every configured identity is its own user and ``job.shell.allowSameUser`` is on in the dev
profile (``server.debug``): documented as unsafe, for a developer's laptop only.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from djs_platform.conf import ShellSettings

#: Linux capability numbers (include/uapi/linux/capability.h) a non-root node needs to run commands as
#: another user: switch to it (SETUID, SETGID), signal its process group (KILL), give it its working directory
#: (CHOWN) and remove that directory afterwards (DAC_OVERRIDE, FOWNER).
NEEDED_CAPABILITIES = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
                       "CAP_SETUID": 7}
PR_SET_DUMPABLE = 4


class ShellIdentityError(ImproperlyConfigured):
    """The SHELL identity configuration cannot be honoured on this node (start-up refuses, one line)."""


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int
    label: str  # as configured: a user name or "uid:gid"

    def is_current_user(self) -> bool:
        return self.uid == os.geteuid() and self.gid == os.getegid()


def parse_run_as(value: str, key: str = "job.shell.runAs") -> RunAs:
    """``"name"`` (looked up in the passwd database: its uid and primary gid) or ``"uid:gid"``."""
    text = str(value).strip()
    if match := re.fullmatch(r"(\d{1,10}):(\d{1,10})", text):
        uid, gid = int(match[1]), int(match[2])
        if uid > 0xFFFFFFFE or gid > 0xFFFFFFFE:
            raise ShellIdentityError(f"{key}: {text!r} is out of range")
        return RunAs(uid, gid, text)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?", text):
        raise ShellIdentityError(f"{key}: {text!r} is neither a user name nor a numeric uid:gid")
    try:
        entry = pwd.getpwnam(text)
    except KeyError:
        raise ShellIdentityError(f"{key}: there is no user named {text!r} on this host "
                                 "(give an existing name or a numeric uid:gid)") from None
    return RunAs(entry.pw_uid, entry.pw_gid, text)


@dataclass(frozen=True)
class ShellIdentities:
    """The configured identities: one default (None = the node's own user) and per-department overrides,
    resolved for a task through its department's ancestry, nearest first."""
    default: RunAs | None = None
    by_department: Mapping[int, RunAs] = field(default_factory=dict)
    allow_same_user: bool = False

    @classmethod
    def of(cls, shell: ShellSettings) -> ShellIdentities:
        """``job.shell.runAs``, ``runAsDepartments`` and ``allowSameUser`` resolved on this host
        (ShellIdentityError names the key of a user that does not exist)."""
        default = parse_run_as(shell.run_as) if shell.run_as else None
        mapped: dict[int, RunAs] = {}
        for key, value in shell.run_as_departments.items():
            if not re.fullmatch(r"\d{1,18}", str(key).strip()):
                raise ShellIdentityError(f"job.shell.runAsDepartments: key {key!r} is not a department id")
            mapped[int(key)] = parse_run_as(value, f"job.shell.runAsDepartments.{key}")
        return cls(default, mapped, shell.allow_same_user)

    def for_departments(self, nearest_first: Sequence[int]) -> RunAs | None:
        """The identity of a task whose department and ancestors are ``nearest_first``."""
        for department_id in nearest_first:
            if department_id in self.by_department:
                return self.by_department[department_id]
        return self.default

    def all(self) -> list[RunAs | None]:
        return [self.default, *self.by_department.values()]


def effective_capabilities() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def missing_capabilities() -> list[str]:
    """What this process lacks to run commands as another user (nothing for root)."""
    if os.geteuid() == 0:
        return []
    caps = effective_capabilities()
    return [name for name, bit in NEEDED_CAPABILITIES.items() if not caps & (1 << bit)]


def check_node_may_run_shell(identities: ShellIdentities, *, debug: bool) -> list[str]:
    """Raise :class:`ShellIdentityError` when this node must not run SHELL commands with ``identities``;
    return warnings to log otherwise."""
    warnings: list[str] = []
    same = [ident for ident in identities.all() if ident is None or ident.is_current_user()]
    if same:
        if not (identities.allow_same_user and debug):
            raise ShellIdentityError(
                "job.shell.enabled needs job.shell.runAs (and runAsDepartments) set to a user other than the "
                f"node's own (uid {os.geteuid()}): a command running as the node's user can read its secrets. "
                "job.shell.allowSameUser: true is accepted only in the dev profile (server.debug)")
        warnings.append("SHELL commands run as the scheduler's own OS user (job.shell.allowSameUser, dev profile): "
                        "a command can read the node's environment, its database and secrets — never do this "
                        "in production")
    others = [ident for ident in identities.all() if ident is not None and not ident.is_current_user()]
    if others and (missing := missing_capabilities()):
        raise ShellIdentityError(
            f"job.shell.runAs {others[0].label}: this node cannot run commands as another user (run it as root "
            f"or give it {', '.join(NEEDED_CAPABILITIES)}; missing {', '.join(missing)}), so it refuses to start "
            "with SHELL enabled")
    if any(ident is not None and ident.uid == 0 for ident in identities.all()) and os.geteuid() != 0:
        raise ShellIdentityError("job.shell.runAs must not be root")
    return warnings


def make_non_dumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)``: ``/proc/<node>/environ``, ``mem`` and ptrace are closed to every other
    process of the node's user. Returns whether it took effect."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def spawn_options(run_as: RunAs | None) -> dict:
    """Keyword arguments for ``asyncio.create_subprocess_exec`` that start the child as ``run_as`` with no
    supplementary groups and umask 077. A ``preexec_fn``, because the node's uvloop refuses ``user``/``group``/
    ``extra_groups``/``umask``; it runs in the forked child and makes only system calls (no locks)."""
    switch = run_as is not None and not run_as.is_current_user()
    uid, gid = (run_as.uid, run_as.gid) if switch and run_as else (-1, -1)

    def become() -> None:
        os.umask(0o077)
        if switch:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

    return {"preexec_fn": become}


def fresh_workdir(run_as: RunAs | None, root: str | os.PathLike | None) -> str:
    """A new working directory for one run: mode 0700, owned by ``run_as`` (removed after the run)."""
    import tempfile

    path = tempfile.mkdtemp(prefix="djs-run-", dir=root or None)
    if run_as is not None and not run_as.is_current_user():
        os.chown(path, run_as.uid, run_as.gid)
    os.chmod(path, 0o700)
    return path


def remove_workdir(path: str) -> None:
    """Remove a run's working directory and whatever the command left in it (never following symlinks
    out of it: ``shutil.rmtree`` removes links, not their targets)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def workdir_problem(path: str, run_as: RunAs | None) -> str | None:
    """Why ``run_as`` could not use ``path`` as its working directory (None: it can): the directory must
    exist and grant that user read, write and search through its owner, group or other bits. Checked when a
    task that sets ``shellWorkdir`` is saved, and again before each run."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"{path} does not exist or cannot be read ({exc.strerror})"
    import stat as stat_

    if not stat_.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if run_as is None or run_as.is_current_user():
        return None if os.access(path, os.R_OK | os.W_OK | os.X_OK) else f"{path} is not writable by the node"
    if _bits(info, run_as) != 7:
        return f"{path} is not readable, writable and searchable by {run_as.label} (uid {run_as.uid})"
    for parent in Path(path).resolve().parents:  # every directory above it must let the user pass
        try:
            if not _bits(os.stat(parent), run_as) & 1:
                return f"{run_as.label} (uid {run_as.uid}) cannot reach {path}: {parent} is closed to it"
        except OSError as exc:
            return f"{parent} cannot be read ({exc.strerror})"
    return None


def _bits(info: os.stat_result, run_as: RunAs) -> int:
    """The rwx bits of ``info`` that apply to ``run_as`` (no supplementary groups: it runs without them)."""
    if run_as.uid == 0:
        return 7
    if run_as.uid == info.st_uid:
        return (info.st_mode >> 6) & 7
    if run_as.gid == info.st_gid:
        return (info.st_mode >> 3) & 7
    return info.st_mode & 7


def prepare_node(identities: ShellIdentities, *, debug: bool, redis_url: str) -> list[str]:
    """Start-up of a node with SHELL enabled: refuse (:class:`ShellIdentityError`) or return warnings to log.
    Marks the node non-dumpable."""
    from urllib.parse import urlsplit

    warnings = check_node_may_run_shell(identities, debug=debug)
    if not make_non_dumpable():
        warnings.append("could not mark the node non-dumpable (prctl PR_SET_DUMPABLE): processes of its user "
                        "may read its environment")
    if redis_url and not urlsplit(redis_url).password:
        warnings.append("SHELL is enabled and redis.url has no password: a SHELL command can connect to Redis "
                        "and read or change token state; give Redis a password (requirepass or an ACL user)")
    return warnings
