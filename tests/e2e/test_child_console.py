"""Child tasks in the console, end to end: the "Child tasks" select of the task form, the children on the
detail page, and a parent's run whose child run is listed in the record drawer, with the link back."""
from __future__ import annotations

import pytest

import time
from datetime import datetime, timezone

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import Live
from tests.e2e.console import Console, tid
from tests.platform import ADMIN_PASSWORD

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]


def _task(api: httpx.Client, department_id: int, name: str, url: str, status: int) -> dict:
    body = {"name": name, "departmentId": department_id, "cron": "0 0 1 1 *", "timezone": "UTC", "url": url,
            "httpMethod": "GET", "status": status, "timeout": 30}
    reply = api.post("/tasks/http", json=body).json()
    assert reply["code"] == 0, reply
    return reply["data"]


def _child_runs(api: httpx.Client, task_id: int) -> list[dict]:
    now = datetime.now(timezone.utc)
    return api.get("/records", params={"year": now.year, "month": now.month, "taskId": task_id,
                                       "triggerType": "CHILD"}).json()["data"]["list"]


def test_a_child_chosen_in_the_form_runs_after_the_parent_and_the_drawer_links_both_runs(console: Console,
                                                                                          live: Live):
    page = console.page
    with live.api() as api:
        top = next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)
        child = _task(api, top["id"], "e2e-child-task", live.target.url("/ping"), status=1)
        parent = _task(api, top["id"], "e2e-parent-task", live.target.url("/ping"), status=0)

    console.open()
    console.login("admin", ADMIN_PASSWORD)
    console.open(f"tasks/{parent['id']}/edit")
    expect(console.by("task-form")).to_be_visible()
    console.by("task-children").click()
    page.keyboard.type("e2e-child")
    page.wait_for_load_state("networkidle")  # the remote search has answered: the option will not re-render
    page.locator(".el-select-dropdown__item:visible", has_text="e2e-child-task").click()
    expect(page.locator(".el-select-dropdown__item:visible", has_text="e2e-parent-task")).to_have_count(0)  # itself
    expect(page.locator(f"{tid('task-children')} .el-tag")).to_have_text(["e2e-child-task"])
    console.shot("task-form-children")
    console.by("task-name").click()  # closes the dropdown
    console.by("task-submit").click()

    expect(console.by("task-detail")).to_be_visible()
    expect(console.by("task-children")).to_contain_text("e2e-child-task")
    with live.api() as api:
        assert api.get(f"/tasks/{parent['id']}").json()["data"]["childTaskIds"] == [child["id"]]

    console.by("task-trigger").click()
    expect(page.locator(f"{tid('task-records')} [data-status='1']")).to_have_count(1, timeout=20_000)
    with live.api() as api:
        deadline = time.monotonic() + 20
        while not (runs := _child_runs(api, child["id"])) and time.monotonic() < deadline:
            time.sleep(0.3)
    assert len(runs) == 1, runs

    # The parent's run lists its child run; the child run links back to the parent's.
    page.locator(f"{tid('task-records')} .el-table__row").first.click()
    children = console.by("record-children")
    expect(children).to_contain_text("e2e-child-task")
    expect(children).to_contain_text(f"#{runs[0]['id']}")
    console.shot("record-drawer-children")
    children.locator(".el-link").first.click()
    expect(console.by("record-parent")).to_contain_text(f"#{runs[0]['parentRecordId']}")
    expect(page.locator(tid("record-drawer"))).to_contain_text("CHILD")
    console.by("record-parent").click()
    expect(console.by("record-children")).to_contain_text("e2e-child-task")
    expect(console.by("record-parent")).to_have_count(0)
    page.keyboard.press("Escape")
    console.assert_healthy()
