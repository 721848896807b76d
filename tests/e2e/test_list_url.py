"""Lists keep their filters, page and sort in the URL (issue 20): Back from a task returns to the same page of the
same filtered, server-sorted list, and a shared link opens it as it was."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Live
from tests.e2e.console import Console, tid
from tests.e2e.test_console import _create_task, _top_department
from tests.platform import ADMIN_PASSWORD

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_task_list_filters_page_and_sort_survive_back_and_a_shared_link(console: Console, live: Live):
    with live.api() as api:
        top = _top_department(api)["id"]
        for i in range(12):
            _create_task(api, top, f"e2e-url-{i:02d}", live.target.url("/ping"))
    page = console.page
    names = page.locator(f"{tid('task-table')} [data-testid^='task-link-']")
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    console.nav("tasks", "task-list")
    console.by("task-filter-keyword").fill("e2e-url-")
    console.by("task-search").click()
    expect(names).to_have_count(10)

    # Name, descending: the table asks the server (sorting 10 shown rows would be wrong on page 2).
    header = page.locator(f"{tid('task-table')} thead th", has_text="Name")
    header.locator(".caret-wrapper .descending").click()
    console.wait_until(lambda: _query(page.url).get("sort") == "-name", message="the sort in the URL")
    expect(names.first).to_have_text("e2e-url-11")
    page.locator(f"{tid('task-pagination')} .btn-next").click()
    console.wait_until(lambda: _query(page.url).get("page") == "2", message="the page in the URL")
    expect(names).to_have_count(2)
    expect(names).to_have_text(["e2e-url-01", "e2e-url-00"])
    assert _query(page.url) == {"keyword": "e2e-url-", "sort": "-name", "page": "2"}
    console.shot("tasks-sorted-page-2")

    # Into a task and Back: the same list, the same inputs.
    names.first.click()
    expect(console.by("task-detail")).to_be_visible()
    page.go_back()
    expect(names).to_have_count(2)
    expect(names).to_have_text(["e2e-url-01", "e2e-url-00"])
    expect(console.by("task-filter-keyword")).to_have_value("e2e-url-")
    expect(page.locator(f"{tid('task-pagination')} .number.is-active")).to_have_text("2")

    # A shared link, ascending; and values the list cannot use fall back to the defaults.
    console.open("tasks?keyword=e2e-url-&sort=name&page=2")
    expect(names).to_have_count(2)
    expect(names).to_have_text(["e2e-url-10", "e2e-url-11"])
    console.open("tasks?keyword=e2e-url-&sort=password&page=x&size=7")
    expect(names).to_have_count(10)
    console.assert_healthy()
