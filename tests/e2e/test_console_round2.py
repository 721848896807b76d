"""Issue 20 "Done when", in a browser that reads Chinese in Asia/Shanghai: a server validation error arrives in
Chinese (and the role dialog's permission names); a Europe/Berlin task shows its times in Berlin, labelled, with
Shanghai in the tooltip; a running
execution shows Running with its elapsed time and is killed from its record drawer; a record whose primary target
failed lists both calls (primary 500, then the fallback's 200)."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, SCREENSHOTS_ON, Live
from tests.e2e.console import Console, tid
from tests.e2e.test_console import _create_task, _top_department
from tests.platform import ADMIN_PASSWORD
from tests.targets import Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def shanghai(request, live, browser) -> Iterator[Console]:
    """A browser context as a Chinese operator in Shanghai would have it."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    session = Console(page=context.new_page(), base=live.console_url, screenshots=SCREENSHOTS, enabled=SCREENSHOTS_ON)
    try:
        yield session
        if getattr(request.node, "e2e_failed", False):
            session.page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name[:80]}.png"), full_page=True)
    finally:
        context.close()


def _chinese(console: Console) -> None:
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    if console.page.locator("html").get_attribute("lang") != "zh-CN":
        console.by("lang-switch").click()
        console.by("lang-zh-CN").click()
    expect(console.by("nav-tasks")).to_have_text("任务管理")


def _drawer_of(console: Console, task_name: str) -> None:
    console.open("records")
    row = console.page.locator(f"{tid('record-table')} .el-table__row", has_text=task_name).first
    row.locator("td").last.click()  # not the task link: the row opens the drawer
    expect(console.by("record-drawer-status")).to_be_visible()


def test_a_chinese_operator_in_shanghai_sees_server_errors_in_chinese_and_berlin_times_labelled(
        shanghai: Console, live: Live):
    with live.api() as api:
        top = _top_department(api)["id"]
        berlin = _create_task(api, top, "e2e-berlin", live.target.url("/ping"), cron="0 30 9 * * MON-FRI",
                              timezone="Europe/Berlin", status=1)
    _chinese(shanghai)
    page = shanghai.page

    # The task form: an expression the server refuses comes back in Chinese on its field.
    shanghai.open("tasks/new?type=HTTP")
    shanghai.by("task-name").fill("e2e-zh-error")
    shanghai.by("task-cron").fill("x")
    shanghai.by("task-url").fill(live.target.url("/ping"))
    shanghai.by("task-submit").click()
    error = shanghai.field_error("task-cron")
    expect(error).to_be_visible()
    assert CJK.search(error.inner_text()), error.inner_text()
    # Defect 9: the message (the grammar, two lines here) pushes the next field down instead of covering it.
    height, bottom, next_top = error.evaluate("""error => {
        const item = error.closest('.el-form-item'), box = error.getBoundingClientRect()
        const below = [...document.querySelectorAll('.el-form-item')]
            .filter(other => other !== item && !item.contains(other) && !other.contains(item))
            .map(other => other.getBoundingClientRect())
            .filter(r => r.top > item.getBoundingClientRect().top + 1 && r.left < box.right && r.right > box.left)
        return [box.height, box.bottom, Math.min(...below.map(r => r.top))]
    }""")
    assert height > 20 and bottom <= next_top + 0.5, (height, bottom, next_top)

    # Berlin's 09:30 reads 09:30 with its zone; Shanghai's clock (15:30 or 16:30) is in the tooltip.
    shanghai.open(f"tasks/{berlin['id']}")
    expect(shanghai.by("task-detail-name")).to_have_text("e2e-berlin")
    next_fire = page.locator(f"{tid('task-detail')} .task-time").first
    expect(next_fire).to_contain_text("09:30")
    expect(next_fire).to_contain_text("Europe/Berlin")
    viewer = next_fire.get_attribute("data-viewer-time") or ""
    assert re.search(r"1[56]:30", viewer) and "Asia/Shanghai" in viewer, viewer
    shanghai.shot("task-berlin-from-shanghai")

    # Permission names in the role dialog come in the console's language (the server's `label`), codes as they are.
    shanghai.open("roles")
    shanghai.by("role-create").click()
    permission = shanghai.by("perm-task:view")
    expect(permission).to_contain_text("task:view")
    assert CJK.search(permission.inner_text()), permission.inner_text()
    shanghai.assert_healthy()


def test_a_running_execution_is_killed_from_its_drawer_and_a_failed_primary_shows_both_calls(
        shanghai: Console, live: Live):
    live.target.on("/e2e-500", Respond(status=500, body="primary down"))
    with live.api() as api:
        top = _top_department(api)["id"]
        hang = _create_task(api, top, "e2e-drawer-hang", live.target.url("/hang"))
        calls = _create_task(api, top, "e2e-drawer-fallback", live.target.url("/e2e-500"),
                             fallbackUrl=live.target.url("/ping"))
        for task in (hang, calls):
            assert api.post(f"/tasks/{task['id']}/trigger").json()["code"] == 0
    live.target.wait_for(1, "/hang", timeout=10)
    _chinese(shanghai)

    # Running, with its elapsed time; Kill in the drawer ends this execution (the task-level kill is elsewhere).
    _drawer_of(shanghai, "e2e-drawer-hang")
    expect(shanghai.by("record-drawer-status")).to_contain_text("运行中")
    expect(shanghai.by("record-elapsed")).to_be_visible()
    shanghai.by("record-kill").click()
    shanghai.page.locator(".el-popconfirm__action .el-button--primary:visible").click()
    expect(shanghai.by("record-drawer-status")).to_contain_text("已终止", timeout=10_000)
    shanghai.page.keyboard.press("Escape")

    # The fallback answered after the primary's 500: both calls, in order.
    _drawer_of(shanghai, "e2e-drawer-fallback")
    attempts = shanghai.by("record-attempts").locator("li")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("500")
    expect(attempts.nth(1)).to_contain_text("200")
    shanghai.shot("record-attempts")
    shanghai.assert_healthy()
