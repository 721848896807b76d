"""``djsctl`` end to end: the installed console script (``.venv/bin/djsctl``) against a real gunicorn, a real
scheduler node and a real HTTP target, with its credentials in a temporary config directory. The platform
is started with a ``scheduler.jobs`` entry (DJS_SCHEDULER_JOBS), so bootstrap's config-declared tasks are
checked here too."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.platform import ADMIN_PASSWORD, Nodes, WebProcess, fresh_database, prepare_database, scheduler_env
from tests.targets import HttpTarget

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

DJSCTL = Path(sys.executable).parent / "djsctl"


class Djsctl:
    """Runs the console script as a user would: own HOME and XDG_CONFIG_HOME, no DJS_* variables."""

    def __init__(self, home: Path, xdg: Path | None):
        assert DJSCTL.is_file(), f"{DJSCTL} is missing: `make venv` installs it (pip install --no-deps -e .)"
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
        if xdg is not None:
            self.env["XDG_CONFIG_HOME"] = str(xdg)
        self.cwd = home

    def __call__(self, *args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(DJSCTL), *args], env=self.env, cwd=self.cwd, input=stdin, text=True,
                                capture_output=True, timeout=60)
        if ok:
            assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").stdout)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_until(probe, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


APPLY_FILE = """\
tasks:
  - name: cli-http
    department: Headquarters
    cron: "0 3 * * *"
    status: 1
    url: {url}
    httpMethod: POST
    body: '{{"from": "djsctl"}}'
  - name: cli-grpc
    type: GRPC
    department: Headquarters
    cron: "@every 1h"
    status: 0
    grpcService: 127.0.0.1:50051/djs.test.Target
    grpcMethod: Echo
"""


@pytest.fixture(scope="module")
def running_platform(tmp_path_factory):
    """Database with a scheduler.jobs task, gunicorn, one scheduler node, an HTTP target; one per test module
    (each test logs in with its own HOME and config directory, and asserts only on what it did itself)."""
    tmp_path = tmp_path_factory.mktemp("platform")
    with HttpTarget() as target, fresh_database(tmp_path) as db_url:
        job = {"name": "config-job", "department": "Headquarters", "cron": "0 4 * * *", "status": 0,
               "url": target.url("/config"), "httpMethod": "GET"}
        env = scheduler_env(db_url, DJS_SCHEDULER_JOBS=json.dumps([job]))
        prepare_database(env)
        nodes = Nodes(env, tmp_path)
        nodes.start("cli-node")
        try:
            with WebProcess(env, tmp_path / "web.log") as web:
                yield web, target
        finally:
            nodes.stop_all()


def test_djsctl_session_end_to_end(running_platform, tmp_path):
    web, target = running_platform
    xdg = tmp_path / "xdg"
    cli = Djsctl(tmp_path, xdg)
    creds_path = xdg / "djs" / "credentials.json"

    # not logged in yet; a wrong password is the server's 4010 and stores nothing
    missing = cli("tasks", "list", ok=False)
    assert missing.returncode == 1 and "not logged in: run `djsctl login`" in missing.stderr
    wrong = cli("login", "--server", web.url, "--username", "admin", "--password-stdin", stdin="nope\n", ok=False)
    assert wrong.returncode == 1 and wrong.stderr.startswith("error 4010: ") and not creds_path.exists()

    login = cli("login", "--server", web.url, "--username", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert f"Logged in to {web.url} as admin" in login.stdout and str(creds_path) in login.stdout
    assert mode(creds_path) == 0o600 and mode(creds_path.parent) == 0o700
    creds = json.loads(creds_path.read_text())
    assert creds["server"] == web.url and creds["username"] == "admin" and creds["token"] and creds["refreshToken"]

    # the scheduler.jobs task bootstrap applied is there
    listed = cli.json("tasks", "list")
    assert [t["name"] for t in listed["list"]] == ["config-job"]

    # declarative apply: dry run, apply, idempotent re-apply
    apply_file = tmp_path / "tasks.yaml"
    apply_file.write_text(APPLY_FILE.format(url=target.url("/cli")))
    dry = cli("tasks", "apply", str(apply_file), "--dry-run")
    assert "2 created, 0 updated, 0 unchanged, 0 pruned (dry run: nothing was changed)" in dry.stdout
    assert cli.json("tasks", "list")["total"] == 1
    applied = cli("tasks", "apply", str(apply_file))
    assert "2 created, 0 updated, 0 unchanged, 0 pruned" in applied.stdout
    header = applied.stdout.splitlines()[0].split()
    assert header[:3] == ["ACTION", "ID", "NAME"]
    again = cli.json("tasks", "apply", str(apply_file))
    assert (len(again["unchanged"]), again["created"], again["updated"]) == (2, [], [])

    # --prune: config-job is in Headquarters too and the file does not list it
    pruned = cli("tasks", "apply", str(apply_file), "--prune", "--dry-run")
    assert "config-job" in pruned.stdout and "1 pruned" in pruned.stdout

    # an invalid file answers 4001 with the entry and field, and applies nothing
    bad = tmp_path / "bad.yaml"
    bad.write_text(APPLY_FILE.format(url=target.url("/cli")).replace("@every 1h", "@every 0s")
                   .replace("cli-http", "cli-new"))
    refused = cli("tasks", "apply", str(bad), ok=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error 4001: tasks[1].cron: ") and "  tasks[1].cron: " in refused.stderr
    as_json = cli("tasks", "apply", str(bad), "--json", ok=False)
    envelope = json.loads(as_json.stderr)
    assert envelope["code"] == 4001 and "tasks[1].cron" in envelope["data"]["fields"]

    # tables and JSON
    table = cli("tasks", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "TYPE", "DEPARTMENT"]
    assert any("cli-http" in line and "enabled" in line and "0 3 * * *" in line for line in table)
    assert table[-1] == "3 total"
    tasks = {t["name"]: t for t in cli.json("tasks", "list")["list"]}
    assert set(tasks) == {"config-job", "cli-http", "cli-grpc"}
    task_id = str(tasks["cli-http"]["id"])
    detail = cli("tasks", "get", task_id).stdout
    assert any(line.split() == ["url", target.url("/cli")] for line in detail.splitlines()), detail
    assert cli.json("tasks", "get", task_id)["httpMethod"] == "POST"
    assert "disabled" in cli("tasks", "disable", task_id).stdout
    assert cli.json("tasks", "get", task_id)["status"] == 0
    assert "enabled" in cli("tasks", "enable", task_id).stdout

    # nodes, trigger, records
    wait_until(lambda: any(n["alive"] for n in cli.json("nodes")), what="a live scheduler node")
    assert "cli-node" in cli("nodes").stdout
    triggered = cli("tasks", "trigger", task_id)
    assert f"task {task_id} triggered" in triggered.stdout
    hit = target.wait_for(1, "/cli", timeout=30)[0]
    assert hit.text == '{"from": "djsctl"}'

    def finished():
        rows = cli.json("records", "list", "--task", task_id)["list"]
        return rows if rows and rows[0]["status"] == 1 else None

    record = wait_until(finished, what="the manual run's record")[0]
    assert (record["triggerType"], record["statusCode"]) == ("MANUAL", 200)
    records = cli("records", "list", "--task", task_id).stdout.splitlines()
    assert records[0].split()[:3] == ["ID", "TASK", "NAME"]
    assert "MANUAL" in records[1] and "success" in records[1]
    one = cli("records", "get", str(record["id"])).stdout
    assert "statusCode" in one and "200" in one
    stats = cli.json("records", "stats")
    assert stats["total"] >= 1 and stats["successCount"] >= 1
    assert "success rate" in cli("records", "stats").stdout

    # create from a file, delete, then the task is gone (4004 and exit 1)
    single = tmp_path / "one.yaml"
    single.write_text(f"type: HTTP\nname: one-off\ndepartmentId: {tasks['cli-http']['departmentId']}\n"
                      f"cron: '@daily'\nstatus: 0\nurl: {target.url('/one')}\nhttpMethod: GET\n")
    created = cli.json("tasks", "create", "-f", str(single))
    assert created["name"] == "one-off"
    assert "deleted" in cli("tasks", "delete", str(created["id"])).stdout
    gone = cli("tasks", "get", str(created["id"]), ok=False)
    assert gone.returncode == 1 and gone.stderr.startswith("error 4004: task not found")
    assert "kill requested" in cli("tasks", "kill", task_id).stdout

    # an expired access token is refreshed through /auth/refresh (rotation stored, still 0600)
    creds = json.loads(creds_path.read_text())
    creds_path.write_text(json.dumps({**creds, "expiresAt": 0}))
    assert cli.json("tasks", "list")["total"] == 3
    refreshed = json.loads(creds_path.read_text())
    assert refreshed["token"] != creds["token"] and refreshed["refreshToken"] != creds["refreshToken"]
    assert refreshed["expiresAt"] > time.time() + 60 and mode(creds_path) == 0o600
    # a token the server refuses (4010) is refreshed once and the call retried
    creds_path.write_text(json.dumps({**refreshed, "token": "not-a-token"}))
    assert cli.json("tasks", "list")["total"] == 3
    assert json.loads(creds_path.read_text())["token"] not in ("not-a-token", refreshed["token"])
    # with both tokens bad: the envelope's code and a hint, exit 1
    creds_path.write_text(json.dumps({**refreshed, "token": "bad", "refreshToken": "bad"}))
    broken = cli("tasks", "list", ok=False)
    assert broken.returncode == 1 and broken.stderr.startswith("error 4010: session expired or revoked")
    assert "run `djsctl login`" in broken.stderr

    # logout revokes the tokens on the server and forgets them here
    cli("login", "--username", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")  # server remembered
    token = json.loads(creds_path.read_text())["token"]
    assert "Logged out" in cli("logout").stdout
    reply = httpx.get(web.url + "/auth/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.json()["code"] == 4010
    after = cli("tasks", "list", ok=False)
    assert after.returncode == 1 and "not logged in" in after.stderr
    assert json.loads(creds_path.read_text())["server"] == web.url

    # unreachable server: a clear message, exit 1; usage errors exit 2
    down = cli("login", "--server", "http://127.0.0.1:9/v1", "--username", "admin", "--password-stdin",
               stdin="x\n", ok=False)
    assert down.returncode == 1 and "cannot reach http://127.0.0.1:9/v1" in down.stderr
    assert cli("tasks", "get", "abc", ok=False).returncode == 2


def test_djsctl_keeps_credentials_under_home_config_without_xdg(running_platform, tmp_path):
    web, _ = running_platform
    home = tmp_path / "home"
    home.mkdir()
    cli = Djsctl(home, None)
    cli("login", "--server", web.url.removesuffix("/v1"), "--username", "admin", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n")
    path = home / ".config" / "djs" / "credentials.json"
    assert mode(path) == 0o600 and json.loads(path.read_text())["server"] == web.url
    assert "username" in cli("whoami").stdout and "task:create" in cli("whoami").stdout
