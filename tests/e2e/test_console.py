"""The admin console end to end: a real browser against a live platform.

The admin signs in, builds a department, a limited role and a user through the UI, creates an HTTP task
aimed at a loopback target, watches it fire, kills a hanging run; the limited user then sees only their
department and no admin actions; language and theme switch and persist; the records page pages newest first
with "Load more" and keeps its month, filters and position in the URL; the dashboard shows today and the last
7 days. Access tokens live a few seconds (ACCESS_TOKEN_SECONDS), so every test also exercises the client's
single-flight refresh.
"""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ACCESS_TOKEN_SECONDS, Live
from tests.e2e.console import Console, tid
from tests.platform import ADMIN_PASSWORD, run_django

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

DEPARTMENT = "E2E Ops"
ROLE = "e2e-operator"
ROLE_CODES = ["task:view", "task:create", "task:update", "task:execute", "record:view"]
USER, USER_PASSWORD = "ops.alice", "Ops-Alice-Passw0rd!"


def _top_department(api: httpx.Client) -> dict:
    return next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)


def _department(api: httpx.Client, name: str) -> dict:
    return next(d for d in api.get("/departments").json()["data"] if d["name"] == name)


def _create_task(api: httpx.Client, department_id: int, name: str, url: str, **extra) -> dict:
    body = {"name": name, "departmentId": department_id, "cron": "0 0 1 1 *", "timezone": "UTC", "url": url,
            "httpMethod": "GET", "status": 0, "timeout": 60, **extra}
    reply = api.post("/tasks/http", json=body).json()
    assert reply["code"] == 0, reply
    return reply["data"]


@pytest.mark.sqlite_smoke
def test_login_page_history_mode_and_a_working_dashboard(console: Console, live: Live):
    console.open("tasks/42/edit")  # a deep link, as after a reload: served by Django, routed by the app
    expect(console.by("login-submit")).to_be_visible()
    assert "/v1/web/login" in console.page.url and "redirect=" in console.page.url
    console.shot("login")

    console.by("login-username").fill("admin")
    console.by("login-password").fill("not-the-password")
    console.by("login-submit").click()
    expect(console.by("login-error")).to_contain_text("invalid")

    console.by("login-password").fill(ADMIN_PASSWORD)
    console.by("login-submit").click()
    expect(console.by("task-form")).to_be_visible()  # back where the deep link pointed
    assert console.page.url.endswith("/v1/web/tasks/42/edit")
    console.nav("dashboard", "dashboard")
    expect(console.by("stat-nodes")).to_contain_text("1 / 1")
    expect(console.by("stat-tasks")).to_be_visible()
    # The daily chart draws the month the picker shows: one day group (bars, day label) per day of that month.
    shown = _date_input(console, "dashboard-month").input_value()  # YYYY-MM
    year, month = map(int, shown.split("-"))
    days_in_month = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    expect(console.page.locator(f"{tid('chart-daily')} {tid('chart-day')}")).to_have_count(days_in_month)
    expect(console.page.locator(f"{tid('chart-daily')} svg[role=img]")).to_have_attribute(
        "aria-label", re.compile(rf"{shown}-01 .*{shown}-{days_in_month:02d}\b"))
    expect(console.by("live-nodes")).to_contain_text("e2e-node")
    console.shot("dashboard")
    console.page.reload()  # history mode: a reload of a console route comes back to it, still signed in
    expect(console.by("dashboard")).to_be_visible()
    console.assert_healthy()


def test_admin_builds_a_tenant_runs_and_kills_tasks_and_the_limited_user_sees_only_their_department(
        console: Console, live: Live):
    target = live.target
    page = console.page
    console.open()
    console.login("admin", ADMIN_PASSWORD)

    # --- a department under the top one --------------------------------------------------------------
    console.nav("departments", "department-page")
    page.locator(tid("department-add-child")).first.click()
    console.by("department-name").fill(DEPARTMENT)
    console.by("department-save").click()
    expect(console.by(f"department-row-{DEPARTMENT}")).to_be_visible()
    console.shot("departments")

    # --- a limited role: tasks and records, no delete, no administration -----------------------------
    console.nav("roles", "role-page")
    console.by("role-create").click()
    console.by("role-name").fill(ROLE)
    for code in ROLE_CODES:
        console.by(f"perm-{code}").click()
    console.by("role-save").click()
    expect(console.by(f"role-row-{ROLE}")).to_be_visible()
    expect(page.locator(f"{tid('role-table')} tr", has_text=ROLE)).to_contain_text("task:execute")
    console.shot("roles")

    # --- a user of that department with that role ----------------------------------------------------
    console.nav("users", "user-page")
    console.by("user-create").click()
    console.by("user-username").fill(USER)
    console.by("user-password").fill(USER_PASSWORD)
    console.by("user-realname").fill("Alice Ops")
    console.choose_tree("user-department", DEPARTMENT)
    console.choose("user-role", ROLE)
    console.by("user-save").click()
    expect(console.by(f"user-row-{USER}")).to_be_visible()
    console.shot("users")

    # Tasks the limited user must (not) see: one in their department, one at the top (via the API).
    with live.api() as api:
        ops = _department(api, DEPARTMENT)
        top = _top_department(api)
        hang = _create_task(api, ops["id"], "e2e-hang", target.url("/hang"))
        secret = _create_task(api, top["id"], "hq-secret-task", target.url("/ping"))
        assert api.post(f"/tasks/{secret['id']}/trigger", json={}).json()["code"] == 0

    # --- an HTTP task through the form: server field errors land on the field, live preview ---------
    console.nav("tasks", "task-list")
    console.by("task-create").click()  # the "New task" menu
    console.by("task-create-http").click()
    expect(console.by("task-form")).to_be_visible()
    console.by("task-name").fill("e2e-ping")
    console.choose_tree("task-department", DEPARTMENT)
    console.by("task-url").fill(target.url("/ping"))
    console.by("task-cron").fill("61 * * * *")
    expect(console.by("cron-preview-error")).to_be_visible()
    console.by("task-submit").click()
    expect(console.field_error("task-cron")).to_be_visible()  # data.fields.cron from the 4001 answer
    assert "/tasks/new" in page.url  # nothing was created

    console.by("task-cron").fill("*/2 * * * * *")
    fires = page.locator(f"{tid('cron-preview-list')} li .utc")
    expect(fires).to_have_count(5)
    first, second = (datetime.fromisoformat(fires.nth(i).inner_text().strip()) for i in (0, 1))
    assert (second - first).total_seconds() == 2
    console.shot("task-form")
    console.by("task-submit").click()
    expect(console.by("task-detail")).to_be_visible()
    assert re.search(r"/v1/web/tasks/\d+$", page.url), page.url

    # It fires on its own and the record appears in the detail page.
    expect(page.locator(f"{tid('task-records')} [data-status='1']").first).to_be_visible(timeout=20_000)
    hits = target.wait_for(1, "/ping", timeout=5)
    assert all((h.header("Idempotency-Key") or "").startswith("djs-") for h in hits)
    console.shot("task-detail")
    console.by("task-toggle").click()  # disable: no more fires
    expect(console.by("task-detail-status")).to_have_attribute("data-status", "0")

    # --- run the hanging task now, then kill it ------------------------------------------------------
    console.open(f"tasks/{hang['id']}")
    expect(console.by("task-detail-name")).to_have_text("e2e-hang")
    console.by("task-trigger").click()
    target.wait_for(1, "/hang", timeout=10)
    running = page.locator(f"{tid('task-records')} [data-status='0']")
    expect(running).to_have_count(1)
    console.by("task-kill").click()
    console.confirm()
    killed_at = time.monotonic()
    expect(page.locator(f"{tid('task-records')} [data-status='3']")).to_have_count(1, timeout=10_000)
    assert time.monotonic() - killed_at < 8
    expect(running).to_have_count(0)
    console.shot("task-killed")

    # --- records, with the detail drawer -------------------------------------------------------------
    console.nav("records", "record-list")
    table = console.by("record-table")
    expect(table).to_contain_text("hq-secret-task")  # the admin sees everything
    page.locator(f"{tid('record-table')} .el-table__row", has_text="e2e-hang").first.click()
    expect(console.by("record-target")).to_have_text(f"GET {target.url('/hang')}")
    expect(console.by("record-error")).to_contain_text("killed")
    console.shot("records-drawer")
    page.keyboard.press("Escape")

    console.nav("nodes", "node-page")
    expect(console.by("node-alive-e2e-node")).to_have_text("Alive")
    console.shot("nodes")
    console.nav("audit", "audit-page")
    expect(console.by("audit-table")).to_contain_text("task.kill")
    console.shot("audit")
    console.nav("tasks", "task-list")
    expect(console.by("task-table")).to_contain_text("hq-secret-task")
    console.shot("tasks")
    console.assert_healthy()
    console.logout()

    # --- the limited user: their department only, no admin menus or buttons -------------------------
    console.login(USER, USER_PASSWORD)
    limited_since, refreshes_before = time.monotonic(), len(console.refresh_tokens)
    menu = console.by("nav-menu")
    for hidden in ("users", "roles", "audit"):
        expect(menu.locator(tid(f"nav-{hidden}"))).to_have_count(0)
    expect(menu.locator(tid("nav-tasks"))).to_have_count(1)
    console.nav("tasks", "task-list")
    expect(page.locator(f"{tid('task-table')} [data-testid^='task-link-']")).to_have_count(2)
    assert console.table_texts("task-table", "task-link-") == {"e2e-ping", "e2e-hang"}
    expect(console.by("task-delete")).to_have_count(0)  # no task:delete
    expect(console.by("task-trigger")).to_have_count(2)  # task:execute
    console.shot("limited-tasks")
    console.nav("records", "record-list")
    expect(page.locator(f"{tid('record-table')} .el-table__row").first).to_be_visible()
    expect(console.by("record-table")).not_to_contain_text("hq-secret-task")
    console.nav("departments", "department-page")
    expect(page.locator(f"{tid('department-table')} [data-testid^='department-row-']")).to_have_count(1)
    assert console.table_texts("department-table", "department-row-") == {DEPARTMENT}
    expect(console.by("department-add-child")).to_have_count(0)
    expect(console.by("department-create-top")).to_have_count(0)
    console.open("users")  # typed by hand: the page is refused (and the API would answer 4003)
    expect(console.by("forbidden")).to_be_visible()
    console.shot("limited-forbidden")
    console.open(f"tasks/{secret['id']}")  # outside the scope: not found, like a missing task
    expect(console.by("task-detail-name")).to_have_count(0)
    console.assert_healthy()

    # The limited user's access token has expired by now (however fast this box ran the steps above): the
    # console renews it transparently and the next page loads.
    time.sleep(max(0.0, limited_since + ACCESS_TOKEN_SECONDS + 1 - time.monotonic()))
    console.nav("tasks", "task-list")
    expect(page.locator(f"{tid('task-table')} [data-testid^='task-link-']")).to_have_count(2)
    console.assert_healthy()
    assert len(console.refresh_tokens) > refreshes_before, f"no token refresh (tokens live {ACCESS_TOKEN_SECONDS}s)"


def test_revoked_session_sends_the_user_back_to_login(console: Console, live: Live):
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    console.nav("departments", "department-page")  # a page that does not poll the API by itself
    # Signing out elsewhere revokes every token of the user: the access token and the refresh token.
    with live.api() as api:
        assert api.post("/auth/logout", json={}).json()["code"] == 0
    console.nav("nodes", "login-expired")
    assert "/v1/web/login" in console.page.url and "redirect=/nodes" in console.page.url
    console.login("admin", ADMIN_PASSWORD, landing="node-page")  # back where the user was
    assert console.page.url.endswith("/v1/web/nodes")
    console.assert_healthy()


def test_language_and_theme_switch_and_persist(console: Console, live: Live):
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    html = console.page.locator("html")
    expect(console.by("nav-tasks")).to_have_text("Tasks")
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))

    console.by("lang-switch").click()
    console.by("lang-zh-CN").click()
    expect(console.by("nav-tasks")).to_have_text("任务管理")
    expect(console.by("page-title")).to_have_text("仪表盘")
    expect(html).to_have_attribute("lang", "zh-CN")

    console.by("theme-toggle").click()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    background = console.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"

    console.page.reload()
    expect(console.by("nav-tasks")).to_have_text("任务管理")
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    console.shot("dashboard-zh-dark")

    # A phone (issue 20 defect 9): no sidebar but a menu drawer, which a navigation closes; nothing scrolls sideways.
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    expect(console.by("nav-tasks")).to_have_count(0)
    console.by("menu-toggle").click()
    console.nav("tasks", "task-list")
    expect(console.by("nav-drawer")).to_be_hidden()
    assert page.evaluate("(m => m.scrollWidth <= m.clientWidth)(document.querySelector('.main'))")
    page.set_viewport_size({"width": 1440, "height": 900})
    console.logout()
    expect(console.by("login-submit")).to_have_text(re.compile(r"登\s*录"))
    console.assert_healthy()


def test_maintenance_pause_shows_a_banner_to_everyone_and_resume_clears_it(console: Console, live: Live):
    """The admin pauses all scheduling from the dashboard (with a reason, after a confirmation); every user
    sees the banner on the dashboard and the nodes page, only system:manage holders see the control; the
    node reports it has seen the pause; resuming from the nodes page clears the banner."""
    viewer, viewer_password = "ops.viewer", "Ops-Viewer-Passw0rd!"
    with live.api() as api:
        codes = {p["code"]: p["id"] for p in api.get("/permissions").json()["data"]}
        role = api.post("/roles", json={"name": "e2e-viewer", "permissions": [codes["task:view"]],
                                        "status": 1}).json()
        assert role["code"] == 0, role
        user = api.post("/users", json={"username": viewer, "password": viewer_password, "realName": "Viewer",
                                         "departmentId": _top_department(api)["id"], "roleId": role["data"]["id"],
                                         "status": 1}).json()
        assert user["code"] == 0, user
    page = console.page
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    try:
        expect(console.by("scheduler-pause")).to_be_visible()
        expect(console.by("maintenance-banner")).to_have_count(0)
        console.by("scheduler-pause").click()
        page.locator(".djs-confirm .el-message-box__input input").fill("e2e maintenance window")
        console.confirm()
        banner = console.by("maintenance-banner")
        expect(banner).to_contain_text("Scheduling is paused")
        expect(banner).to_contain_text("Paused by admin")
        expect(console.by("maintenance-reason")).to_have_text("Reason: e2e maintenance window")
        expect(console.by("scheduler-resume")).to_be_visible()
        with live.api() as api:
            state = api.get("/scheduler/state").json()["data"]
        assert (state["paused"], state["reason"], state["pausedBy"]["username"]) == (
            True, "e2e maintenance window", "admin")
        console.shot("maintenance-dashboard")
        console.nav("nodes", "node-page")
        expect(console.by("maintenance-banner")).to_be_visible()
        # The node heartbeated after the pause and the page refreshed (every 5 s): progress, not a deadline.
        expect(console.by("node-paused-e2e-node")).to_be_visible(timeout=30_000)
        console.shot("maintenance-nodes")
        console.logout()

        console.login(viewer, viewer_password)  # no system:manage: the banner, never the control
        expect(console.by("maintenance-banner")).to_contain_text("e2e maintenance window")
        expect(console.by("scheduler-pause")).to_have_count(0)
        expect(console.by("scheduler-resume")).to_have_count(0)
        console.nav("nodes", "node-page")
        expect(console.by("maintenance-banner")).to_be_visible()
        expect(console.by("scheduler-resume")).to_have_count(0)
        console.logout()

        console.login("admin", ADMIN_PASSWORD)
        console.nav("nodes", "node-page")
        console.by("scheduler-resume").click()
        console.confirm()
        expect(console.by("maintenance-banner")).to_have_count(0)
        expect(console.by("scheduler-pause")).to_be_visible()
        expect(console.by("node-paused-e2e-node")).to_have_count(0)
        console.nav("dashboard", "dashboard")
        expect(console.by("maintenance-banner")).to_have_count(0)
    finally:
        with live.api() as api:  # never leave the shared platform paused for the next test
            api.post("/scheduler/resume", json={})
    with live.api() as api:
        assert api.get("/scheduler/state").json()["data"]["paused"] is False
        actions = [row["action"] for row in api.get("/audit-logs?size=100").json()["data"]["list"]]
        assert {"scheduler.pause", "scheduler.resume"} <= set(actions)
    console.assert_healthy()


def _seed_records(live: Live, task: dict, runs: list[tuple[datetime, int, int]]) -> None:
    """Finished MANUAL records of ``task`` written the way the result writer leaves them: rows in the month
    tables and the same executions added to the rollups (which the list totals and /records/stats read).
    ``runs``: (first scheduled time, status, count), one second apart."""
    plan = [(at.isoformat(), status, count) for at, status, count in runs]
    run_django(live.env, f"""
        from datetime import datetime, timedelta
        from django.db import transaction
        from apps.records import rollups
        from apps.records.models import ensure_record_table, month_of
        task = {{"id": {task["id"]}, "name": {task["name"]!r}, "department": {task["departmentId"]}}}
        plan = {plan!r}
        for when, _, _ in plan:  # DDL outside the transaction (MariaDB commits it implicitly)
            ensure_record_table(*month_of(datetime.fromisoformat(when)))
        with transaction.atomic():
            finished = []
            for when, status, count in plan:
                first = datetime.fromisoformat(when)
                model = ensure_record_table(*month_of(first))
                rows = [model(task_id=task["id"], task_name=task["name"], department_id=task["department"],
                              task_type="HTTP", trigger_type="MANUAL", scheduled_time=first + timedelta(seconds=i),
                              start_time=first + timedelta(seconds=i), end_time=first + timedelta(seconds=i, milliseconds=5),
                              status=status, success=status == 1, status_code=200 if status == 1 else 500, cost_time=5,
                              executor="e2e-seed") for i in range(count)]
                model.objects.bulk_create(rows)
                finished += [rollups.Finished(department_id=r.department_id, task_id=r.task_id, task_name=r.task_name,
                                              scheduled_time=r.scheduled_time, status=r.status,
                                              trigger_type=r.trigger_type, cost_time=r.cost_time,
                                              task_type=r.task_type) for r in rows]
            rollups.add(finished)
    """)


def _date_input(console: Console, testid: str):
    """The text input of a month picker (its data-testid is on a wrapper)."""
    return console.by(testid).locator("input")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_records_load_more_keeps_filters_and_position_in_the_url(console: Console, live: Live):
    """70 records of one task: the first 50, newest first, then "Load more" appends the other 20 and the URL
    carries the month, the filters and the cursor; a reload restores the filters and resumes at that cursor,
    "Show the newest" goes back to the top; a cursor that is not this user's starts from the newest record."""
    now = datetime.now(UTC)
    with live.api() as api:
        task = _create_task(api, _top_department(api)["id"], "e2e-bulk", live.target.url("/ping"))
    _seed_records(live, task, [(now.replace(hour=0, minute=0, second=0, microsecond=0), 1, 70)])
    page = console.page
    rows = page.locator(f"{tid('record-table')} .el-table__body tr.el-table__row")
    console.open()
    console.login("admin", ADMIN_PASSWORD)
    console.nav("records", "record-list")
    # the task picker searches by name (issue 20)
    console.by("record-filter-task").click()
    console.by("record-filter-task").locator("input").fill("e2e-bulk")
    page.locator(".el-select-dropdown__item:visible", has_text="e2e-bulk").first.click()
    console.choose("record-filter-trigger", "MANUAL")
    console.by("record-search").click()
    expect(rows).to_have_count(50)
    expect(console.by("record-total")).to_have_text("Total: 70 · 50 shown")
    expect(rows.first).to_contain_text("e2e-bulk")
    console.wait_until(lambda: "taskId" in _query(page.url), message="the filters in the URL")
    assert _query(page.url) == {"year": str(now.year), "month": str(now.month), "taskId": str(task["id"]),
                                "triggerType": "MANUAL"}
    first_ids = [int(rows.nth(i).locator("td").first.inner_text()) for i in range(50)]
    assert first_ids == sorted(first_ids, reverse=True)  # newest first

    console.by("record-load-more").click()
    expect(rows).to_have_count(70)
    expect(console.by("record-total")).to_have_text("Total: 70 · 70 shown")
    expect(console.by("record-load-more")).to_have_count(0)
    expect(console.by("record-end")).to_be_visible()
    ids = [int(rows.nth(i).locator("td").first.inner_text()) for i in range(70)]
    assert ids[:50] == first_ids and ids == sorted(ids, reverse=True) and len(set(ids)) == 70
    console.wait_until(lambda: "cursor" in _query(page.url), message="the cursor in the URL")
    query = _query(page.url)
    assert {k: query[k] for k in ("year", "month", "taskId", "triggerType")} == {
        "year": str(now.year), "month": str(now.month), "taskId": str(task["id"]), "triggerType": "MANUAL"}
    console.shot("records-load-more")

    # A reload (or the same link shared with this user) restores the filters and resumes at the cursor.
    page.reload()
    expect(console.by("record-resumed")).to_be_visible()
    expect(rows).to_have_count(20)
    assert [int(rows.nth(i).locator("td").first.inner_text()) for i in range(20)] == ids[50:]
    expect(console.by("record-filter-task")).to_contain_text("e2e-bulk")
    expect(console.by("record-filter-trigger")).to_contain_text("MANUAL")
    expect(_date_input(console, "record-month")).to_have_value(f"{now.year}-{now.month:02d}")
    console.by("record-newest").click()
    expect(rows).to_have_count(50)
    expect(console.by("record-resumed")).to_have_count(0)
    console.wait_until(lambda: "cursor" not in _query(page.url), message="the cursor dropped from the URL")
    page.reload()
    expect(rows).to_have_count(50)
    expect(console.by("record-filter-task")).to_contain_text("e2e-bulk")

    # A cursor this API did not issue to this user for this query: the newest records, and a notice.
    console.open(f"records?year={now.year}&month={now.month}&taskId={task['id']}&triggerType=MANUAL&cursor=not-mine")
    expect(console.by("record-cursor-refused")).to_be_visible()
    expect(rows).to_have_count(50)
    console.wait_until(lambda: "cursor" not in _query(page.url), message="the refused cursor dropped from the URL")
    console.assert_healthy()


def test_dashboard_shows_today_and_the_last_7_days(console: Console, live: Live):
    """A user who sees one department only: today's and the last 7 days' succeeded/failed counts and success
    rates from the daily series (across the month boundary in the first days of a month)."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    if midnight - now < timedelta(minutes=2):  # "today" must not change during the test
        time.sleep((midnight - now).total_seconds() + 1)
        now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=30, microsecond=0)
    viewer, password = "stats.viewer", "Stats-Viewer-Passw0rd!"
    with live.api() as api:
        dept = api.post("/departments", json={"name": "E2E Stats", "parentId": _top_department(api)["id"],
                                               "status": 1}).json()
        assert dept["code"] == 0, dept
        codes = {p["code"]: p["id"] for p in api.get("/permissions").json()["data"]}
        role = api.post("/roles", json={"name": "e2e-stats-viewer", "permissions": [codes["record:view"]],
                                        "status": 1}).json()
        assert role["code"] == 0, role
        user = api.post("/users", json={"username": viewer, "password": password, "realName": "Stats",
                                         "departmentId": dept["data"]["id"], "roleId": role["data"]["id"],
                                         "status": 1}).json()
        assert user["code"] == 0, user
        task = _create_task(api, dept["data"]["id"], "e2e-stats", live.target.url("/ping"))
    _seed_records(live, task, [
        (today, 1, 6), (today + timedelta(minutes=1), 2, 2),                              # today: 6 / 2
        (today - timedelta(days=3), 1, 4), (today - timedelta(days=3, minutes=-1), 2, 4),  # 3 days ago: 4 / 4
        (today - timedelta(days=6), 1, 1),                                                # the window's first day
        (today - timedelta(days=7), 1, 9), (today - timedelta(days=7, minutes=-1), 2, 9),  # just outside it
    ])
    console.open()
    console.login(viewer, password)
    expect(console.by("stat-today-succeeded")).to_have_text("6")
    expect(console.by("stat-today-failed")).to_have_text("2")
    expect(console.by("stat-today-executions")).to_have_text("8")
    expect(console.by("stat-today-rate")).to_have_text("75.0%")
    expect(console.by("stat-today")).to_contain_text("Today")
    expect(console.by("stat-week-succeeded")).to_have_text("11")
    expect(console.by("stat-week-failed")).to_have_text("6")
    expect(console.by("stat-week-rate")).to_have_text("64.7%")
    expect(console.by("stat-week")).to_contain_text("Last 7 days")
    expect(console.by("stat-tasks")).to_have_count(0)  # no task:view
    # The month's rollups are built (kept by the writer since the first record): no raw-rows warning.
    expect(console.by("stats-warning")).to_have_count(0)
    console.shot("dashboard-today-week")
    # The cards follow today, not the month picked for the charts.
    previous = (today.replace(day=1) - timedelta(days=1))
    month_input = _date_input(console, "dashboard-month")
    month_input.fill(f"{previous.year}-{previous.month:02d}")
    month_input.press("Enter")
    expect(console.by("chart-daily")).to_be_visible()
    expect(console.by("stat-today-succeeded")).to_have_text("6")
    expect(console.by("stat-week-rate")).to_have_text("64.7%")
    console.assert_healthy()
