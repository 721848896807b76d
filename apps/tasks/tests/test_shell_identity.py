"""Who SHELL commands run as (apps/tasks/executors/runas.py, docs/security.md finding 2): configuration,
start-up refusal, per-department users, working directories. The attack itself (a command reading the node's
secrets) is tests/test_shell_isolation.py, with a real node as root."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from apps.tasks.executors import ExecutionPlan, Executors, execute
from apps.tasks.executors.runas import (
    RunAs,
    ShellIdentities,
    ShellIdentityError,
    check_node_may_run_shell,
    parse_run_as,
    workdir_problem,
)
from conftest import shell_settings
from djs_platform.conf import ShellSettings
from djs_platform.egress import EgressPolicy

ME = RunAs(os.geteuid(), os.getegid(), "me")
NOBODY = RunAs(65534, 65534, "65534:65534")


def test_run_as_takes_a_numeric_uid_gid_or_an_existing_user_name():
    assert parse_run_as("65534:65534") == NOBODY
    assert parse_run_as(" 1234:99 ") == RunAs(1234, 99, "1234:99")  # no passwd entry needed
    root = parse_run_as("root")
    assert (root.uid, root.gid) == (0, 0)
    for bad, text in (("no-such-user-here", "there is no user named"), ("12:", "neither a user name"),
                      ("a b", "neither a user name"), ("99999999999:1", "neither a user name"),
                      ("4294967295:1", "out of range")):
        with pytest.raises(ShellIdentityError, match=text):
            parse_run_as(bad)


def _identities(run_as: str, by_department: dict, allow_same_user: bool = False) -> ShellIdentities:
    return ShellIdentities.of(shell_settings(run_as=run_as, run_as_departments=by_department,
                                             allow_same_user=allow_same_user))


def test_a_task_runs_as_its_nearest_departments_user_else_the_default():
    identities = _identities("65534:65534", {"10": "2000:2000", 11: "2001:2001"})
    assert identities.for_departments((12, 11, 10, 1)).uid == 2001  # nearest first
    assert identities.for_departments((13, 10, 1)).uid == 2000
    assert identities.for_departments((14, 1)) == NOBODY
    assert identities.for_departments(()) == NOBODY
    with pytest.raises(ShellIdentityError, match="is not a department id"):
        _identities("65534:65534", {"ops": "2000:2000"})


def test_the_nodes_own_user_is_refused_outside_the_dev_profile():
    for identities in (_identities("", {}),
                       _identities(f"{os.geteuid()}:{os.getegid()}", {}),
                       _identities("", {}, allow_same_user=True)):  # allowSameUser without the dev profile
        with pytest.raises(ShellIdentityError, match="other than the node's own"):
            check_node_may_run_shell(identities, debug=False)
    # Another department mapped to the node's own user is refused the same way.
    with pytest.raises(ShellIdentityError, match="other than the node's own"):
        check_node_may_run_shell(ShellIdentities(NOBODY, {5: ME}), debug=False)
    warnings = check_node_may_run_shell(_identities("", {}, allow_same_user=True), debug=True)
    assert warnings and "never do this in production" in warnings[0]


@pytest.mark.root_only
def test_root_may_run_commands_as_another_user_without_warnings():
    assert check_node_may_run_shell(ShellIdentities(NOBODY), debug=False) == []


def test_a_shared_workdir_must_be_usable_by_the_run_as_user():
    base = Path(tempfile.mkdtemp(prefix="djs-workdir-test-", dir="/tmp"))  # /tmp: every user may pass
    try:
        base.chmod(0o755)
        open_dir, private = base / "open", base / "private"
        open_dir.mkdir()
        open_dir.chmod(0o777)
        private.mkdir(mode=0o700)
        assert workdir_problem(str(base / "missing"), NOBODY).endswith("(No such file or directory)")
        assert "is not a directory" in workdir_problem(__file__, NOBODY)
        assert workdir_problem(str(open_dir), NOBODY) is None
        assert "not readable, writable and searchable by 65534:65534" in workdir_problem(str(private), NOBODY)
        assert workdir_problem(str(private), ME) is None  # the node's own user in the dev profile
        base.chmod(0o700)  # a closed parent
        assert "cannot reach" in workdir_problem(str(open_dir), NOBODY)
    finally:
        shutil.rmtree(base)


def _spec(command: str, *args: str, **kw) -> ExecutionPlan:
    values = dict(task_id=42, task_type="SHELL", url=None, http_method="GET", headers={}, body=None,
                  fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                  fallback_grpc_service=None, fallback_grpc_method=None, timeout=10, max_retry=0,
                  retry_interval=0, idempotency_key="djs-42-1700000000000", record_id=7, shell_command=command,
                  shell_args=tuple(args))
    values.update(kw)
    return ExecutionPlan.of(**values)


def _run(spec: ExecutionPlan, settings: ShellSettings, identities: ShellIdentities | None = None):
    async def main():
        async with Executors(http_workers=1, grpc_workers=1, egress=EgressPolicy(),
                             shell=settings, shell_identities=identities) as executors:
            return await execute(spec, executors)
    return asyncio.run(main())


def test_each_run_gets_a_fresh_private_working_directory_that_is_removed_after(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    settings = shell_settings(enabled=True, log_dir=tmp_path / "logs", work_root=str(root))
    outcome = _run(_spec("/bin/sh", "-c", 'pwd; echo "$HOME"; stat -c %a .; umask; touch left-behind'), settings)
    assert outcome.success, outcome.error
    workdir, home, mode, umask = outcome.response.split()
    assert Path(workdir).parent == root and home == workdir
    assert (mode, umask) == ("700", "0077")
    assert not Path(workdir).exists() and list(root.iterdir()) == []
    second = _run(_spec("/bin/pwd"), settings)
    assert second.response.strip() != workdir


@pytest.mark.root_only
def test_commands_run_as_the_configured_user_without_supplementary_groups(tmp_path):
    settings = shell_settings(enabled=True, log_dir=tmp_path / "logs")
    identities = ShellIdentities(NOBODY, {7: RunAs(2345, 2346, "2345:2346")})
    outcome = _run(_spec("/bin/sh", "-c", "id -u; id -g; id -G; stat -c '%u:%g' ."), settings, identities)
    assert outcome.response.split() == ["65534", "65534", "65534", "65534:65534"], outcome
    mapped = _run(_spec("/bin/sh", "-c", "id -u; id -G", department_path=(9, 7, 1)), settings, identities)
    assert mapped.response.split() == ["2345", "2346"], mapped
    log = next((tmp_path / "logs").rglob("*.log"))
    assert oct(log.stat().st_mode & 0o777) == "0o600" and log.stat().st_uid == 0
    assert oct((tmp_path / "logs").stat().st_mode & 0o777) == "0o700"


@pytest.mark.django_db
def test_a_shell_workdir_the_run_as_user_cannot_use_is_refused_at_save(org, admin_api, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True, run_as="65534:65534",
                                 run_as_departments={str(org.b.pk): f"{os.geteuid()}:{os.getegid()}"})
    private = Path(tempfile.mkdtemp(prefix="djs-private-", dir="/tmp"))  # 0700, the test user's own
    try:
        body = {"name": "backup", "departmentId": org.a.pk, "cron": "0 3 * * *", "status": 0,
                "shellCommand": "/bin/true", "shellWorkdir": str(private)}
        reply = admin_api.post("tasks/shell", body).expect(4001)
        assert "not readable, writable and searchable by 65534:65534" in str(reply.data["fields"]["shellWorkdir"])
        from apps.tasks.models import Task

        assert not Task.objects.filter(name="backup").exists()
        admin_api.post("tasks/shell", {**body, "shellWorkdir": "/tmp"}).expect(0)
        # Department B's commands run as the directory's owner: usable there.
        admin_api.post("tasks/shell", {**body, "name": "b-backup", "departmentId": org.b.pk}).expect(0)
    finally:
        shutil.rmtree(private)
