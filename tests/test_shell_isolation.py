"""A SHELL command cannot take over the platform (docs/security.md, finding 2). Root only: the node must be
able to start commands as another user.

The reported attack: a holder of ``task:shell`` ran ``tr '\\0' '\\n' < /proc/$PPID/environ`` and got
``DJS_JWT_SECRET`` and the database URL (then minted an admin token), and could read the SQLite file. Here a
real ``runscheduler`` node (root, ``job.shell.runAs`` 65534:65534) runs a SHELL task that tries every way in:
the environment of every process not its own, every file under ``var/`` and ``configs/``, the node's logs,
and Redis. Everything must be refused, while a control read of a world-readable file succeeds (so the probe
itself works).
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from djs_platform.config import BASE_DIR
from tests.platform import Nodes, fresh_database, prepare_database, record_rows, run_django, scheduler_env

sys.path.insert(0, str(BASE_DIR / "scripts"))
import services  # noqa: E402  (scripts/services.py)

pytestmark = [pytest.mark.processes, pytest.mark.single_backend, pytest.mark.root_only]
NOBODY = 65534

PROBE = r"""
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
head -c 1 /etc/passwd > /dev/null 2>&1 && echo "CONTROL ok"
for dir in /proc/[0-9]*; do
  owner=$(stat -c %u "$dir" 2>/dev/null) || continue
  [ "$owner" = "$(id -u)" ] && continue
  if head -c 1 "$dir/environ" > /dev/null 2>&1; then echo "READ $dir/environ"; fi
done
for f in "$@"; do
  if head -c 1 "$f" > /dev/null 2>&1; then echo "READ $f"; fi
done
ls "$DJS_PROBE_VAR" > /dev/null 2>&1 && echo "LISTED var"
redis-cli -u "$DJS_PROBE_REDIS" get djs-probe 2>&1 | head -1 | sed 's/^/REDIS /'
"""


def files_under(*directories) -> list[str]:
    found = []
    for directory in directories:
        for root, _, names in os.walk(directory):
            found += [os.path.join(root, name) for name in names]
    return sorted(found)[:300]


def test_a_shell_command_reads_no_secret_of_the_node(tmp_path):
    assert shutil.which("redis-cli"), "redis-cli (Debian redis-tools) is part of the test dependencies"
    password = secrets.token_hex(12)
    with fresh_database(tmp_path) as db_url, services.redis(password=password) as cache:
        logs = tmp_path / "shell-logs"
        env = scheduler_env(db_url, DJS_REDIS_URL=cache.url, DJS_JOB_SHELL_ENABLED="true",
                            DJS_JOB_SHELL_RUN_AS=f"{NOBODY}:{NOBODY}", DJS_JOB_SHELL_LOG_DIR=str(logs),
                            DJS_JOB_HEARTBEAT_INTERVAL="1")
        prepare_database(env)
        subprocess.run(["redis-cli", "-u", cache.url, "set", "djs-probe", "secret-value"], check=True,
                       capture_output=True)
        # A log of an earlier run is in the log directory: the command must not read it either.
        logs.mkdir(mode=0o700)
        (logs / "earlier-run.log").write_text("token=abc")
        targets = files_under(BASE_DIR / "var", BASE_DIR / "configs", logs)
        assert any(p.endswith("jwt-secret") or p.endswith("shutdown-secret") for p in targets), targets
        assert any(p.endswith("config.yaml") for p in targets), targets
        redis_without_password = cache.url.replace(f":{password}@", "")
        run_django(env, f"""
            from datetime import datetime, timedelta, timezone
            from apps.departments.models import Department
            from apps.tasks.models import Task
            Task.objects.create(name="probe", department=Department.objects.filter(parent__isnull=True).first(),
                                task_type="SHELL", cron_expression="0 0 1 1 *", timezone="UTC", status=2,
                                shell_command="/bin/sh", shell_args=["-c", {PROBE!r}, "probe", *{targets!r}],
                                shell_env={{"DJS_PROBE_VAR": "{BASE_DIR / 'var'}",
                                            "DJS_PROBE_REDIS": "{redis_without_password}"}},
                                timeout=60, next_execute_time=datetime.now(timezone.utc) + timedelta(seconds=2))
        """)
        nodes = Nodes(env, tmp_path)
        nodes.start("node")
        deadline = time.monotonic() + 30
        rows = []
        while time.monotonic() < deadline:
            rows = record_rows(env, "status", "response", "error")
            if rows and rows[0]["status"] not in (0,):
                break
            time.sleep(0.5)
        nodes.stop_all()
        node_log = nodes.log("node")

    assert rows and rows[0]["status"] == 1, (rows, node_log)
    output = rows[0]["response"]
    assert f"uid={NOBODY} gid={NOBODY} groups={NOBODY}" in output, output  # no supplementary groups
    assert "CONTROL ok" in output, output  # the probe can read what is meant to be readable
    assert "READ " not in output, output
    assert "LISTED var" not in output, output
    assert "REDIS NOAUTH" in output or "REDIS (error) NOAUTH" in output, output
    assert "secret-value" not in output
    assert "SHELL commands run as the scheduler's own OS user" not in node_log


def test_a_node_that_cannot_switch_users_refuses_to_start_with_shell_enabled(tmp_path):
    """A SHELL-enabled node running as an ordinary user (no root, no capabilities) stops at start-up with one
    line, before it registers or claims anything."""
    with fresh_database(tmp_path) as db_url:
        env = scheduler_env(db_url, DJS_JOB_SHELL_ENABLED="true", DJS_JOB_SHELL_RUN_AS="1234:1234")
        prepare_database(env)
        # The unprivileged node's own home under /tmp (pytest's tmp_path sits in a root-only directory); its
        # configuration is a copy (configs/ is private to its owner, root here).
        home = Path(tempfile.mkdtemp(prefix="djs-unprivileged-", dir="/tmp"))
        config = home / "config.yaml"
        shutil.copy(BASE_DIR / "configs" / "config.yaml", config)
        for path in (home, config):
            os.chown(path, NOBODY, NOBODY)
        result = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
             sys.executable, str(BASE_DIR / "manage.py"), "runscheduler", "--name", "unprivileged"],
            env={**env, "HOME": str(home), "DJS_CONFIG": str(config)}, cwd=BASE_DIR, capture_output=True,
            text=True, timeout=60)
        shutil.rmtree(home)
        nodes = run_django(env, "from apps.tasks.models import SchedulerNode\n"
                                "print(list(SchedulerNode.objects.values_list('name', flat=True)))")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: job.shell.runAs 1234:1234: this node cannot run commands as another user"), result.stderr
    assert "unprivileged" not in nodes
