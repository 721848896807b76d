"""SHELL tasks in the console, end to end: the form (argument rows that no shell parses, client-side
checks of working directory and environment), the detail page, a run started with "Run now", and the
record drawer reading the run's log in slices, down to the message for a log that is not on this host.

The live platform has ``job.shell.enabled`` on and one log directory shared by web and node
(tests/e2e/conftest.py); the admin holds ``task:shell``, a second user does not.
"""
from __future__ import annotations

import pytest

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import Live
from tests.e2e.console import Console, tid
from tests.platform import ADMIN_PASSWORD

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

#: One argv element: a whole script for ``sh -c``. ``seq`` makes the log longer than one slice (256 KiB);
#: the last line (END) differs from the script's text, which the log's attempt header repeats.
SCRIPT = 'echo "$GREETING from $(pwd)"; echo to-stderr >&2; echo "<b>bold</b>"; seq 1 50000; echo "$GREETING-done"'
END = "hello-done"
NO_SHELL_USER, NO_SHELL_PASSWORD = "ops.noshell", "No-Shell-Passw0rd!"
BOLD = "() => [...document.querySelectorAll('b')].filter((e) => e.textContent === 'bold').length"


def _user_without_task_shell(live: Live) -> None:
    with live.api() as api:
        codes = {p["code"]: p["id"] for p in api.get("/permissions").json()["data"]}
        role = api.post("/roles", json={"name": "no-shell", "status": 1, "permissions": [
            codes[c] for c in ("task:view", "task:create", "task:update", "task:execute", "record:view")]}).json()
        assert role["code"] == 0, role
        top = next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)
        user = api.post("/users", json={"username": NO_SHELL_USER, "password": NO_SHELL_PASSWORD, "realName": "No Shell",
                                        "departmentId": top["id"], "roleId": role["data"]["id"], "status": 1}).json()
        assert user["code"] == 0, user


def test_shell_task_created_in_the_form_runs_and_its_log_is_read_in_the_record_drawer(console: Console, live: Live):
    page = console.page
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    console.nav("tasks", "task-list")
    console.by("task-create").click()  # "New task ▾"
    console.by("task-create-shell").click()
    expect(console.by("task-form")).to_be_visible()
    expect(page.locator(f"{tid('task-type')} .el-radio-button.is-active")).to_have_text("SHELL")
    expect(console.by("shell-args-hint")).to_contain_text("No shell parses them")

    console.by("task-name").fill("e2e-shell")
    page.locator(f"{tid('task-status')} .el-radio", has_text="Disabled").click()  # runs only when asked
    console.by("task-shell-command").fill("sh")
    console.by("shell-arg-add").click()
    console.by("shell-arg-add").click()
    console.by("shell-arg-0").fill("-c")
    console.by("shell-arg-1").fill(SCRIPT)
    expect(console.by("shell-argv-preview")).to_have_text(f"sh -c '{SCRIPT}'")

    # Client-side checks mirror the server's: nothing is sent while they fail.
    console.by("task-shell-workdir").fill("tmp")
    console.by("task-submit").click()
    expect(console.field_error("task-shell-workdir")).to_contain_text("absolute")
    console.by("task-shell-workdir").fill("/tmp")
    console.by("shell-env-add").click()
    console.by("shell-env-name-0").fill("DJS_SECRET")
    console.by("shell-env-value-0").fill("x")
    console.by("task-submit").click()
    expect(console.field_error("shell-env-name-0")).to_contain_text("DJS_")
    assert "/tasks/new" in page.url
    console.by("shell-env-name-0").fill("GREETING")
    console.by("shell-env-value-0").fill("hello")
    console.shot("shell-task-form")
    console.by("task-submit").click()

    # --- the detail page: command, each argument as one item, directory, environment ------------------
    expect(console.by("task-detail")).to_be_visible()
    task_id = int(re.search(r"/tasks/(\d+)$", page.url).group(1))
    expect(console.by("task-shell-command")).to_have_text("sh")
    args = page.locator(f"{tid('task-shell-args')} li")
    expect(args).to_have_count(2)
    expect(args.nth(0)).to_have_text("-c")
    expect(args.nth(1)).to_have_text(SCRIPT)
    expect(console.by("task-shell-workdir")).to_have_text("/tmp")
    expect(console.by("task-shell-env")).to_have_text("GREETING=hello")
    with live.api() as api:
        stored = api.get(f"/tasks/{task_id}").json()["data"]
    assert (stored["shellCommand"], stored["shellArgs"], stored["shellWorkdir"], stored["shellEnv"]) == (
        "sh", ["-c", SCRIPT], "/tmp", {"GREETING": "hello"})

    console.by("task-trigger").click()
    expect(page.locator(f"{tid('task-records')} [data-status='1']")).to_have_count(1, timeout=20_000)

    # --- the record drawer: command line, then the log in slices, as text ----------------------------
    page.locator(f"{tid('task-records')} .el-table__row").first.click()
    expect(console.by("record-target")).to_have_text(f"sh -c '{SCRIPT}'")
    log = console.by("record-log")
    expect(log).to_contain_text("hello from /tmp")
    expect(log).to_contain_text("to-stderr")
    expect(log).to_contain_text("<b>bold</b>")
    assert page.evaluate(BOLD) == 0  # the command's output never becomes markup
    expect(log).not_to_contain_text(END)  # beyond the first 256 KiB
    expect(console.by("record-log-size")).to_be_visible()
    console.by("record-log-more").click()
    expect(log).to_contain_text(END)
    expect(console.by("record-log-more")).to_have_count(0)
    assert log.inner_text().count("\n49999\n") == 1  # slices join without a gap or an overlap
    console.shot("shell-record-log")
    page.keyboard.press("Escape")

    # A log that is not on this host (written on a node whose log directory is not shared) is explained.
    files = list(Path(live.env["DJS_JOB_SHELL_LOG_DIR"]).glob(f"task_{task_id}_record_*.log"))
    assert len(files) == 1, files
    files[0].unlink()
    page.locator(f"{tid('task-records')} .el-table__row").first.click()
    expect(console.by("record-log-missing")).to_contain_text("e2e-node")
    expect(console.by("record-log")).to_have_count(0)
    page.keyboard.press("Escape")
    console.assert_healthy()
    console.logout()

    # --- a user without task:shell is offered no SHELL type and no SHELL actions ----------------------
    _user_without_task_shell(live)
    console.login(NO_SHELL_USER, NO_SHELL_PASSWORD)
    console.nav("tasks", "task-list")
    console.by("task-create").click()
    expect(console.by("task-create-http")).to_be_visible()
    expect(console.by("task-create-shell")).to_have_count(0)
    console.page.keyboard.press("Escape")
    actions = console.by("task-actions-e2e-shell")
    expect(actions).to_be_visible()
    expect(actions.locator(tid("task-trigger"))).to_have_count(0)
    expect(actions.locator(tid("task-edit"))).to_have_count(0)
    console.open("tasks/new?type=SHELL")
    expect(console.by("task-form")).to_be_visible()
    expect(console.by("task-type-shell")).to_have_count(0)
    expect(page.locator(f"{tid('task-type')} .el-radio-button.is-active")).to_have_text("HTTP")
    console.assert_healthy()
