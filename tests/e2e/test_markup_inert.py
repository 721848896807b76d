"""User data that looks like markup stays text in the console.

A task whose name and description are HTML (an ``<img onerror>``, a ``<script>`` and a ``<b>``) and whose
target answers with the same markup is created, run once (it fails, so it also lands in the dashboard's
"failing tasks"), and every page that shows it is opened in Chromium: the task list (and its delete
confirmation), the task detail, the records list and its detail drawer, the dashboard. On each page the
literal text is visible, no element was created from it, ``window.__xss`` stays undefined and no dialog
opened. The element check matters on its own: the console's Content-Security-Policy would stop an inline
handler from running, which would hide an injection from the ``__xss`` check alone.
"""
from __future__ import annotations

import pytest

import time
from datetime import datetime, timezone

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import Live
from tests.e2e.console import Console, tid
from tests.platform import ADMIN_PASSWORD
from tests.targets import Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

MARKUP = "<img src=x onerror=window.__xss=1><script>window.__xss=1</script><b>bold</b>"
DESCRIPTION = "described as " + MARKUP

#: Elements the markup would create if it were ever parsed as HTML (anywhere in the document, popups included).
INJECTED = """() => ({
  img: [...document.querySelectorAll('img')].filter((e) => e.getAttribute('src') === 'x').length,
  script: [...document.querySelectorAll('script')].filter((e) => e.textContent.includes('__xss')).length,
  bold: [...document.querySelectorAll('b')].filter((e) => e.textContent === 'bold').length,
  xss: typeof window.__xss,
})"""
CLEAN = {"img": 0, "script": 0, "bold": 0, "xss": "undefined"}


def _make_task(live: Live) -> dict:
    live.target.on("/markup", Respond(status=500, body=MARKUP, headers={"Content-Type": "text/html"}))
    with live.api() as api:
        top = next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)
        reply = api.post("/tasks/http", json={
            "name": MARKUP, "description": DESCRIPTION, "departmentId": top["id"], "cron": "0 0 1 1 *",
            "timezone": "UTC", "url": live.target.url("/markup"), "httpMethod": "GET", "status": 0}).json()
        assert reply["code"] == 0, reply
        task = reply["data"]
        assert task["name"] == MARKUP and task["description"] == DESCRIPTION  # stored verbatim, not escaped
        assert api.post(f"/tasks/{task['id']}/trigger", json={}).json()["code"] == 0
        now = datetime.now(timezone.utc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = api.get("/records", params={"year": now.year, "month": now.month, "taskId": task["id"]}).json()
            if any(r["status"] == 2 for r in rows["data"]["list"]):
                return task
            time.sleep(0.3)
    raise AssertionError("the markup task produced no failed record")


def _assert_inert(console: Console, where: str, dialogs: list[str], container: str | None = None) -> None:
    scope = console.page.locator(container) if container else console.page.locator("body")
    expect(scope.get_by_text(MARKUP, exact=False).first).to_be_visible()
    assert console.page.evaluate(INJECTED) == CLEAN, where
    assert dialogs == [], f"{where}: a dialog opened: {dialogs}"


def test_markup_in_task_name_description_and_response_renders_as_text(console: Console, live: Live):
    task = _make_task(live)
    page = console.page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    console.open()
    console.login("admin", ADMIN_PASSWORD)

    # --- task list: the name cell, a hover over it, and the delete confirmation quoting the name --------
    console.nav("tasks", "task-list")
    row = page.locator(f"{tid('task-table')} .el-table__row", has_text=MARKUP)
    expect(row).to_have_count(1)
    _assert_inert(console, "task list", dialogs, tid("task-table"))
    row.get_by_text(MARKUP).hover()
    page.wait_for_timeout(300)  # a tooltip, if the cell had one, would be open now
    assert page.evaluate(INJECTED) == CLEAN
    row.locator(tid("task-delete")).click()
    box = page.locator(".djs-confirm")
    expect(box).to_be_visible()
    _assert_inert(console, "delete confirmation", dialogs, ".djs-confirm")
    box.locator(".el-message-box__btns .el-button").first.click()  # cancel: nothing is deleted
    expect(box).to_be_hidden()
    console.shot("markup-task-list")

    # --- task detail: name, description, the failed run ------------------------------------------------
    row.get_by_text(MARKUP).click()
    expect(console.by("task-detail")).to_be_visible()
    expect(console.by("task-detail-name")).to_have_text(MARKUP)
    expect(console.by("task-info")).to_contain_text(DESCRIPTION)
    expect(page.locator(f"{tid('task-records')} [data-status='2']").first).to_be_visible()
    _assert_inert(console, "task detail", dialogs, tid("task-detail"))
    console.shot("markup-task-detail")

    # --- records: the task name column and the drawer with the target's (markup) response ---------------
    console.nav("records", "record-list")
    record_row = page.locator(f"{tid('record-table')} .el-table__row", has_text=MARKUP).first
    expect(record_row).to_be_visible()
    _assert_inert(console, "records", dialogs, tid("record-table"))
    record_row.click()
    expect(console.by("record-response")).to_contain_text(MARKUP)
    _assert_inert(console, "record drawer", dialogs, tid("record-response"))
    console.shot("markup-record-drawer")
    page.keyboard.press("Escape")

    # --- dashboard: the failing-tasks table names the task ----------------------------------------------
    console.nav("dashboard", "dashboard")
    expect(console.by("top-failing")).to_contain_text(MARKUP)
    _assert_inert(console, "dashboard", dialogs, tid("top-failing"))
    console.shot("markup-dashboard")

    with live.api() as api:  # the cancelled confirmation deleted nothing
        assert api.get(f"/tasks/{task['id']}").json()["code"] == 0
    console.assert_healthy()
