"""SHELL tasks: the executor with real processes, the API rules, a real node running and killing them."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from apps.records import runlogs
from apps.tasks.executors import RESPONSE_LIMIT, ExecutionPlan, Executors, execute
from apps.tasks.executors.shell import log_path
from conftest import shell_settings
from djs_platform.egress import EgressPolicy

KEY = "djs-42-1700000000000"
SCHEDULED_MS = int(KEY.rsplit("-", 1)[1])  # names the record's month in its log file (apps/records/runlogs.py)
PY = sys.executable


def spec(command: str, *args: str, record_id: int = 7, **kw) -> ExecutionPlan:
    values = dict(task_id=42, task_type="SHELL", url=None, http_method="GET", headers={}, body=None,
                  fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                  fallback_grpc_service=None, fallback_grpc_method=None, timeout=10, max_retry=0,
                  retry_interval=0, idempotency_key=KEY, record_id=record_id, shell_command=command,
                  shell_args=tuple(args))
    values.update(kw)
    return ExecutionPlan.of(**values)


def run(s: ExecutionPlan, log_dir: Path, *, enabled: bool = True, kill_grace: float = 2.0, cancel_after=None):
    async def main():
        ex = Executors(http_workers=1, grpc_workers=1, egress=EgressPolicy(),
                       shell=shell_settings(enabled=enabled, log_dir=log_dir, kill_grace=kill_grace))
        async with ex:
            task = asyncio.ensure_future(execute(s, ex))
            if cancel_after is not None:
                await asyncio.sleep(cancel_after)
                task.cancel()
            return await task
    return asyncio.run(main())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not reaped yet) is not running
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


# --- the executor ----------------------------------------------------------------------------------

def test_command_runs_without_a_shell_and_its_output_lands_in_record_and_log(tmp_path):
    outcome = run(spec("/bin/echo", "hello", "$HOME;", "`id`", "*"), tmp_path)
    assert (outcome.success, outcome.status_code, outcome.error) == (True, 0, None)
    assert outcome.response == "hello $HOME; `id` *\n"  # nothing interpolated, globbed or substituted
    log = log_path(tmp_path, 42, 7, SCHEDULED_MS).read_text()
    assert log.startswith("=== attempt 0 at ") and "hello $HOME; `id` *\n" in log
    assert log.rstrip().endswith("=== exit status 0")


def test_explicit_shell_is_the_way_to_shell_syntax(tmp_path):
    outcome = run(spec("/bin/sh", "-c", "echo $((6 * 7)) | tr 4 X"), tmp_path)
    assert (outcome.success, outcome.response) == (True, "X2\n")


def test_environment_is_minimal_plus_the_task_and_djs_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("DJS_DATABASE_URL", "mysql://secret@db/djs")
    monkeypatch.setenv("SECRET_PROBE", "node-secret")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    outcome = run(spec(PY, "-c", code, shell_env={"GREETING": "hi there"}), tmp_path)
    import json

    env = json.loads(outcome.response)
    assert env["GREETING"] == "hi there"
    assert (env["DJS_TASK_ID"], env["DJS_RECORD_ID"], env["DJS_IDEMPOTENCY_KEY"], env["DJS_SCHEDULED_MS"]) == (
        "42", "7", KEY, "1700000000000")
    assert "SECRET_PROBE" not in env and "DJS_DATABASE_URL" not in env
    assert set(env) <= {"PATH", "HOME", "TZ", "LANG", "GREETING", "DJS_TASK_ID", "DJS_RECORD_ID",
                        "DJS_IDEMPOTENCY_KEY", "DJS_SCHEDULED_MS", "TRACEPARENT", "LC_CTYPE"}


def test_working_directory(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    assert run(spec("/bin/pwd", shell_workdir=str(work)), tmp_path).response == f"{work}\n"
    missing = run(spec("/bin/pwd", shell_workdir=str(tmp_path / "nope")), tmp_path)
    assert not missing.success and "working directory" in missing.error and "does not exist" in missing.error


def test_non_zero_exit_is_a_failure_with_the_status_and_the_stderr_tail(tmp_path):
    code = "import sys; print('partial'); sys.stderr.write('x' * 5000 + ' disk full\\n'); sys.exit(3)"
    outcome = run(spec(PY, "-c", code), tmp_path)
    assert (outcome.success, outcome.status_code, outcome.response) == (False, 3, "partial\n")
    assert outcome.error.startswith("exit status 3; stderr: …") and outcome.error.endswith("disk full")
    assert len(outcome.error) < 2200  # the tail only
    assert "x" * 5000 + " disk full" in log_path(tmp_path, 42, 7, SCHEDULED_MS).read_text()  # the log has it whole


def test_missing_command_fails_at_once_without_retries(tmp_path):
    started = time.monotonic()
    outcome = run(spec("/no/such/command", max_retry=3, retry_interval=5), tmp_path)
    assert not outcome.success and outcome.retry_times == 0
    assert "cannot start /no/such/command" in outcome.error
    assert time.monotonic() - started < 3


def test_disabled_on_the_node_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    outcome = run(spec("/bin/sh", "-c", f"touch {marker}"), tmp_path, enabled=False)
    assert not outcome.success and "job.shell.enabled" in outcome.error
    assert not marker.exists() and not log_path(tmp_path, 42, 7, SCHEDULED_MS).exists()


def test_retries_append_to_one_log(tmp_path):
    outcome = run(spec("/bin/sh", "-c", "echo try; exit 1", max_retry=2, retry_interval=0), tmp_path)
    assert not outcome.success and outcome.retry_times == 2
    log = log_path(tmp_path, 42, 7, SCHEDULED_MS).read_text()
    assert [line.split(" at ")[0] for line in log.splitlines() if line.startswith("=== attempt")] == [
        "=== attempt 0", "=== attempt 1", "=== attempt 2"]
    assert log.count("try\n") == 3


def test_output_is_bounded_in_the_record_and_whole_in_the_log(tmp_path):
    code = "import sys; sys.stdout.write('y' * (3 * 1024 * 1024))"
    outcome = run(spec(PY, "-c", code), tmp_path)
    assert outcome.success and outcome.response_truncated
    assert len(outcome.response.encode()) == RESPONSE_LIMIT
    log = log_path(tmp_path, 42, 7, SCHEDULED_MS).read_text()
    assert "\n" + "y" * (3 * 1024 * 1024) + "\n=== exit status 0" in log


def _grandchild_script(pidfile: Path, trap: str = "") -> str:
    # the command starts a grandchild that would outlive it, writes its pid, then waits
    return f"{trap} sleep 60 & echo $! > {pidfile}; wait"


def test_timeout_terminates_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    outcome = run(spec("/bin/sh", "-c", _grandchild_script(pidfile), timeout=1), tmp_path)
    took = time.monotonic() - started
    assert not outcome.success and outcome.error.startswith("timed out after 1s: process group terminated")
    assert took < 4, took
    assert wait_dead(int(pidfile.read_text())), "the grandchild survived the timeout"


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(tmp_path):
    pidfile = tmp_path / "stubborn.pid"
    script = (f"import os, signal, subprocess, sys, time\n"
              f"signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
              f"time.sleep(60)\n")
    started = time.monotonic()
    outcome = run(spec(PY, "-c", script, timeout=1), tmp_path, kill_grace=1.0)
    assert not outcome.success and outcome.status_code == -signal.SIGKILL
    assert 1.9 <= time.monotonic() - started < 5
    assert wait_dead(int(pidfile.read_text()))


def test_kill_reaches_children_and_the_log_says_so(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    with pytest.raises(asyncio.CancelledError):
        run(spec("/bin/sh", "-c", _grandchild_script(pidfile), timeout=30), tmp_path, cancel_after=1.0)
    assert wait_dead(int(pidfile.read_text())), "kill did not reach the grandchild"
    assert log_path(tmp_path, 42, 7, SCHEDULED_MS).read_text().rstrip().endswith("=== killed")


def test_processes_left_behind_by_a_finished_command_are_killed(tmp_path):
    pidfile = tmp_path / "orphan.pid"
    outcome = run(spec("/bin/sh", "-c", f"sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}; echo done"), tmp_path)
    assert outcome.success and outcome.response == "done\n"
    assert wait_dead(int(pidfile.read_text())), "a background process outlived its run"


# --- the API -----------------------------------------------------------------------------------------

SHELL_BODY = {"name": "backup", "cron": "0 3 * * *", "status": 0, "shellCommand": "/usr/bin/env",
              "shellArgs": ["-0"], "shellWorkdir": "/tmp", "shellEnv": {"MODE": "full"}}


@pytest.fixture
def shell_on(settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)


def body(department, **over):
    return {**SHELL_BODY, "departmentId": department.pk, **over}


def test_shell_tasks_are_refused_while_the_platform_disables_them(org, admin_api):
    from apps.tasks.models import Task

    reply = admin_api.post("tasks/shell", body(org.a)).expect(4003)
    assert "job.shell.enabled" in reply.message
    assert not Task.objects.exists()


def test_create_update_and_read_a_shell_task(org, admin_api, shell_on):
    created = admin_api.post("tasks/shell", body(org.a)).expect(0).data
    assert (created["taskType"], created["shellCommand"], created["shellArgs"], created["shellWorkdir"],
            created["shellEnv"], created["url"]) == ("SHELL", "/usr/bin/env", ["-0"], "/tmp", {"MODE": "full"}, None)
    updated = admin_api.put(f"tasks/shell/{created['id']}", body(org.a, shellArgs=[], shellEnv=None)).expect(0).data
    assert (updated["shellArgs"], updated["shellEnv"], updated["version"]) == ([], None, created["version"] + 1)
    admin_api.put(f"tasks/http/{created['id']}", {"name": "x", "departmentId": org.a.pk, "cron": "0 3 * * *",
                                                   "status": 0, "url": "http://127.0.0.1:9/", "httpMethod": "GET"}
                  ).expect(4001)


def test_shell_needs_task_shell_besides_task_create(org, api, shell_on):
    from apps.tasks.models import Task

    creator = org.member(org.a, {"task:create", "task:view"})
    reply = api(creator).post("tasks/shell", body(org.a)).expect(4003)
    assert "task:shell" in reply.message
    api(org.member(org.a, {"task:create", "task:shell"})).post("tasks/shell", body(org.a)).expect(0)
    assert Task.objects.count() == 1


def test_triggering_a_shell_task_needs_task_shell(org, api, shell_on):
    from django.utils import timezone as dj_timezone

    from apps.tasks.models import SchedulerNode, Task, TriggerRequest

    now = dj_timezone.now()
    SchedulerNode.objects.create(name="n", host="h", pid=1, started_at=now, heartbeat_at=now)
    task = Task.objects.create(name="s", department=org.a, task_type="SHELL", cron_expression="0 3 * * *",
                               timezone="UTC", shell_command="/bin/true", status=0)
    api(org.member(org.a, {"task:execute"})).post(f"tasks/{task.pk}/trigger", {}).expect(4003)
    api(org.member(org.a, {"task:execute", "task:shell"})).post(f"tasks/{task.pk}/trigger", {}).expect(0)
    assert TriggerRequest.objects.count() == 1


@pytest.mark.parametrize("field, value, key, reason", [
    ("shellCommand", "", "shellCommand", "blank"),
    ("shellCommand", "a\x00b", "shellCommand", "NUL"),
    ("shellArgs", "rm -rf /", "shellArgs", "list"),
    ("shellArgs", ["ok", 5], "shellArgs.1", "string"),  # the item at fault
    ("shellArgs", ["x"] * 201, "shellArgs", "200"),
    ("shellWorkdir", "relative/dir", "shellWorkdir", "absolute"),
    ("shellEnv", {"1BAD": "x"}, "shellEnv", "invalid variable name"),
    ("shellEnv", {"DJS_TASK_ID": "9"}, "shellEnv", "set by DJS"),
    ("shellEnv", {"A": 1}, "shellEnv", "string"),
    ("shellEnv", "[1]", "shellEnv", "JSON object"),
])
def test_invalid_shell_fields_answer_4001_and_create_nothing(org, admin_api, shell_on, field, value, key, reason):
    from apps.tasks.models import Task

    reply = admin_api.post("tasks/shell", body(org.a, **{field: value})).expect(4001)
    assert key in reply.data["fields"], reply.data
    assert reason.lower() in " ".join(map(str, reply.data["fields"][key])).lower(), reply.data
    assert not Task.objects.exists()


# --- a real node ---------------------------------------------------------------------------------------

@pytest.fixture
def shell_node(node_factory, settings, tmp_path):
    from tests.scheduling import shell_identity_settings

    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True, log_dir=tmp_path / "logs", kill_grace=1.0)
    shell_identity_settings(settings)
    return node_factory


@pytest.mark.django_db(transaction=True)
def test_node_runs_a_shell_task_and_the_log_is_served(shell_node, org, admin_api, tmp_path):
    from apps.records.models import RecordStatus
    from apps.tasks.models import Task
    from tests.scheduling import finished, wait_until

    task = Task.objects.create(name="s", department=org.a, task_type="SHELL", cron_expression="0 3 1 1 *",
                               timezone="UTC", shell_command="/bin/sh",
                               shell_args=["-c", "echo out-$DJS_TASK_ID; echo err >&2; seq 1 20000"],
                               status=2, next_execute_time=datetime.now(timezone.utc) + timedelta(seconds=1))
    shell_node()
    (row,) = wait_until(finished(task, 1))
    assert (row.status, row.success, row.status_code) == (RecordStatus.SUCCESS, True, 0)
    assert row.response.startswith(f"out-{task.pk}\n")
    month = f"year={row.scheduled_time.year}&month={row.scheduled_time.month}"
    first = admin_api.get(f"records/{row.pk}/log?{month}&limit=100").expect(0).data
    assert first["exists"] and first["offset"] == 0 and len(first["content"].encode()) == 100
    assert first["nextOffset"] == 100 and first["size"] > 100000
    whole = admin_api.get(f"records/{row.pk}/log?{month}&limit=1048576").expect(0).data
    assert "err\n" in whole["content"] and "\n20000\n" in whole["content"] and whole["nextOffset"] is None
    rest = admin_api.get(f"records/{row.pk}/log?{month}&offset=100&limit=1048576").expect(0).data
    assert first["content"] + rest["content"] == whole["content"]
    admin_api.get(f"records/{row.pk}/log?{month}&limit=0").expect(4001)


@pytest.mark.django_db(transaction=True)
def test_killing_a_running_shell_task_stops_its_process_group(shell_node, org, tmp_path):
    from apps.records.models import RecordStatus
    from apps.tasks import services
    from apps.tasks.models import Task
    from djs_platform.actor import Actor
    from tests.scheduling import finished, wait_until

    # The command runs as another user, so it reports its grandchild's pid on stdout (the node's log file).
    task = Task.objects.create(name="long", department=org.a, task_type="SHELL", cron_expression="0 3 1 1 *",
                               timezone="UTC", shell_command="/bin/sh",
                               shell_args=["-c", "sleep 60 & echo grandchild=$!; wait"],
                               timeout=60, status=2,
                               next_execute_time=datetime.now(timezone.utc) + timedelta(seconds=1))
    shell_node()

    def grandchild() -> int | None:
        for log in (tmp_path / "logs").rglob(f"*task_{task.pk}_*"):
            if match := re.search(r"grandchild=(\d+)", log.read_text()):
                return int(match[1])
        return None

    pid = wait_until(grandchild, timeout=10)
    services.task_kill(actor=Actor(user=org.admin, ip="127.0.0.1"), task_id=task.pk)
    (row,) = wait_until(finished(task, 1), timeout=10)
    assert (row.status, row.error) == (RecordStatus.KILLED, "killed")
    assert wait_dead(pid), "the kill did not reach the grandchild"


@pytest.mark.django_db
def test_log_of_a_non_shell_record_is_not_found(org, admin_api):
    from apps.records.models import RecordStatus, record_model

    scheduled = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
    row = record_model(2026, 1).objects.create(
        task_id=1, task_name="h", department_id=org.a.pk, task_type="HTTP", trigger_type="SCHEDULE",
        scheduled_time=scheduled, start_time=scheduled, end_time=scheduled, status=RecordStatus.SUCCESS,
        success=True, status_code=200, cost_time=1, retry_times=0, executor="n")
    reply = admin_api.get(f"records/{row.pk}/log?year=2026&month=1").expect(4004)
    assert "only SHELL executions" in reply.message


@pytest.mark.django_db
def test_log_slices_never_split_a_character(org, admin_api, settings, tmp_path):
    from apps.records.models import RecordStatus, record_model

    settings.DJS_SHELL = replace(settings.DJS_SHELL, log_dir=tmp_path)
    scheduled = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
    row = record_model(2026, 1).objects.create(
        task_id=3, task_name="s", department_id=org.a.pk, task_type="SHELL", trigger_type="SCHEDULE",
        scheduled_time=scheduled, status=RecordStatus.SUCCESS, success=True, executor="n")
    text = "调度" * 50 + "é" * 50 + "🙂" * 20  # 3-, 2- and 4-byte characters
    runlogs.log_path(tmp_path, year=2026, month=1, task_id=3, record_id=row.pk).write_text(text, encoding="utf-8")
    for limit in (1, 2, 5, 7, 64):
        pieces, offset = [], 0
        while offset is not None:
            page = admin_api.get(f"records/{row.pk}/log?year=2026&month=1&offset={offset}&limit={limit}").expect(0).data
            assert "\ufffd" not in page["content"], (limit, offset, page["content"])
            pieces.append(page["content"])
            offset = page["nextOffset"]
        assert "".join(pieces) == text, limit
