"""Alerts in the console, end to end: a task's alert policy created from the task page's "Alerts" card
(client-side checks first), listed on the Policies tab, a test alert sent to a real webhook receiver (the
loopback HTTP target, signed with the policy's secret) and its outcome shown — delivered, then refused —,
a real failure alert raised by the scheduler node, and all of them on the Sent alerts tab with the record
drawer. Task names and messages carry markup, which must stay text.

The live platform (tests/e2e/conftest.py) lets the web process and the node reach loopback
(``security.egress.allowCidrs``), which is what the webhook needs: the test alert is sent by the web process.
"""
from __future__ import annotations

import pytest

import hashlib
import hmac
import re
import time

from playwright.sync_api import expect

from tests.e2e.conftest import Live
from tests.e2e.console import Console, tid
from tests.platform import ADMIN_PASSWORD
from tests.targets import Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

NAME = "e2e-alerted <b>bold</b>"
SECRET = "e2e-webhook-secret"
HOOK = "/alert-hook"
BOLD = "() => [...document.querySelectorAll('b')].filter((e) => e.textContent === 'bold').length"
#: apps/alerts/watcher.py reloads policies this often; a failure right after saving could be missed.
POLICY_REFRESH_SECONDS = 5


def _failing_task(live: Live) -> dict:
    live.target.on("/alert-fails", Respond(status=500, body="nope"))
    with live.api() as api:
        top = next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)
        reply = api.post("/tasks/http", json={
            "name": NAME, "departmentId": top["id"], "cron": "0 0 1 1 *", "timezone": "UTC",
            "url": live.target.url("/alert-fails"), "httpMethod": "GET", "status": 0, "timeout": 10,
            "retryCount": 0}).json()
        assert reply["code"] == 0, reply
        return reply["data"]


def _alerts(live: Live, task_id: int) -> list[dict]:
    with live.api() as api:
        return api.get("/alerts", params={"taskId": task_id, "size": 100}).json()["data"]["list"]


def _assert_signed(live: Live) -> None:
    request = live.target.requests(HOOK)[-1]
    assert request.method == "POST" and request.header("X-DJS-Event") == "alert.test", request.headers
    timestamp = request.header("X-DJS-Timestamp")
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.header("X-DJS-Signature") == f"sha256={digest}"


def test_a_task_policy_made_in_the_console_sends_test_and_failure_alerts_listed_under_sent_alerts(
        console: Console, live: Live):
    page = console.page
    live.target.on(HOOK, Respond(body="ok"))
    task = _failing_task(live)
    console.open()
    console.login("admin", ADMIN_PASSWORD)

    # --- the task page: no policy yet; "Add a policy" opens the dialog for this task --------------------
    console.open(f"tasks/{task['id']}")
    expect(console.by("task-alerts-none")).to_be_visible()
    console.by("task-alerts-create").click()
    expect(console.by("alerts-page")).to_be_visible()
    dialog = console.by("policy-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator(f"{tid('policy-scope-choice')} .el-radio-button.is-active")).to_have_text("A task")
    expect(page.locator(f".el-select{tid('policy-task')}")).to_contain_text(NAME)

    # Nothing is sent while the client-side checks fail: a channel is needed, auto-pause needs a streak.
    console.by("policy-save").click()
    expect(console.field_error("policy-webhook-url")).to_contain_text("give a webhook URL or at least one e-mail")
    console.by("policy-emails").fill("ops@example.com, not-an-address")
    console.by("policy-save").click()
    expect(console.field_error("policy-emails")).to_contain_text("not-an-address is not an e-mail address")
    console.by("policy-emails").fill("")
    with live.api() as api:
        assert api.get("/alert-policies", params={"taskId": task["id"]}).json()["data"]["total"] == 0

    console.by("policy-webhook-url").fill(live.target.url(HOOK))
    expect(console.by("policy-secret-state")).to_have_text("not set")
    console.by("policy-webhook-secret").fill(SECRET)
    expect(console.by("policy-secret-state")).to_contain_text("new secret")
    page.locator(f"{tid('policy-consecutive')} input").fill("3")
    page.keyboard.press("Tab")
    page.locator(f"{tid('policy-cooldown')} input").fill("0")  # every failure alerts: no cooldown
    page.keyboard.press("Tab")
    console.shot("alert-policy-dialog")
    console.by("policy-save").click()
    expect(dialog).to_be_hidden()
    saved_at = time.monotonic()

    # --- the Policies tab lists it ---------------------------------------------------------------------
    with live.api() as api:
        [policy] = api.get("/alert-policies", params={"taskId": task["id"]}).json()["data"]["list"]
    assert (policy["webhookUrl"], policy["hasWebhookSecret"], policy["consecutiveFailures"], policy["onFailure"],
            policy["cooldownSeconds"]) == (live.target.url(HOOK), True, 3, True, 0)
    row = console.by(f"policy-row-{policy['id']}")
    expect(row).to_have_text(f"Task: {NAME}")
    table = console.by("policy-table")
    expect(table.locator(tid("policy-conditions"))).to_contain_text("3 failures in a row")
    expect(table.locator(tid("policy-channels"))).to_contain_text(f"Webhook {live.target.url(HOOK)} (signed)")
    assert page.evaluate(BOLD) == 0
    console.shot("alert-policies")

    # --- "Send test": delivered to the receiver, signed with the secret -----------------------------------
    actions = console.by(f"policy-actions-{policy['id']}")
    actions.locator(tid("policy-test")).click()
    result = console.by("policy-test-result")
    expect(result.locator(tid("policy-test-status"))).to_have_text("Sent")
    expect(result.locator(tid("policy-test-delivery"))).to_have_text(["Delivered"])
    expect(result.locator(tid("policy-test-deliveries"))).to_contain_text("200")
    assert live.target.hits(HOOK) == 1
    _assert_signed(live)
    console.shot("alert-test-sent")
    console.by("policy-test-close").click()

    # ... and a receiver that refuses it: the outcome says so (the API still answers 200).
    live.target.on(HOOK, Respond(status=503, body="down"))
    actions.locator(tid("policy-test")).click()
    expect(result.locator(tid("policy-test-status"))).to_have_text("Not sent")
    expect(result.locator(tid("policy-test-delivery"))).to_have_text(["Failed"])
    expect(result.locator(tid("policy-test-error"))).to_contain_text("503")
    console.by("policy-test-close").click()
    live.target.on(HOOK, Respond(body="ok"))

    # --- a real failure: the node raises a "failure" alert about the record ------------------------------
    time.sleep(max(0.0, POLICY_REFRESH_SECONDS + 1 - (time.monotonic() - saved_at)))
    with live.api() as api:
        assert api.post(f"/tasks/{task['id']}/trigger", json={}).json()["code"] == 0
    console.wait_until(lambda: any(a["kind"] == "failure" and a["status"] == "sent" for a in _alerts(live, task["id"])),
                       timeout=30, message="the failure alert")
    failure = next(a for a in _alerts(live, task["id"]) if a["kind"] == "failure")
    assert failure["recordId"] and failure["recordYear"] and failure["recordMonth"]

    # --- Sent alerts: newest first, outcome per channel, the task and the record ------------------------
    console.by("alert-tab-sent").click()
    alerts = console.by("alert-table")
    expect(alerts.locator(tid("alert-status"))).to_have_text(["Sent", "Not sent", "Sent"])
    kinds = alerts.locator("[data-kind]")
    expect(kinds).to_have_text(["Failure", "Test", "Test"])
    expect(alerts.locator(tid("alert-delivery-summary")).first).to_contain_text("1/1 delivered")
    expect(alerts.locator(tid("alert-task")).first).to_have_text(NAME)
    expect(alerts.locator(tid("alert-message")).first).to_contain_text(failure["message"])
    assert page.evaluate(BOLD) == 0
    console.shot("alerts-sent")
    alerts.locator(tid("alert-record")).first.click()
    drawer = console.by("record-drawer")
    expect(drawer).to_contain_text(f"Execution #{failure['recordId']}")
    expect(console.by("record-drawer-status")).to_contain_text("Failed")
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()

    # The link the alert itself carries (docs/alerts.md: <consoleUrl>/records?year=&month=&recordId=) opens it too.
    console.open(f"records?year={failure['recordYear']}&month={failure['recordMonth']}&recordId={failure['recordId']}")
    expect(console.by("record-drawer")).to_contain_text(f"Execution #{failure['recordId']}")
    page.keyboard.press("Escape")
    console.nav("alerts", "sent-alerts")
    expect(alerts.locator(tid("alert-status"))).to_have_count(3)

    console.choose("alert-filter-status", "Not sent")
    console.by("alert-search").click()
    expect(alerts.locator(tid("alert-status"))).to_have_text(["Not sent"])
    alerts.locator(".el-table__expand-icon").first.click()
    expect(alerts.locator(tid(f"alert-deliveries-{_alerts(live, task['id'])[1]['id']}"))).to_contain_text("503")

    # --- the enable switch, then edit: remove the secret --------------------------------------------------
    console.by("alert-tab-policies").click()
    switch = console.by("policy-table").locator(tid("policy-enabled"))
    expect(switch).to_have_class(re.compile(r"is-checked"))
    switch.click()
    expect(switch).not_to_have_class(re.compile(r"is-checked"))
    with live.api() as api:
        assert api.get(f"/alert-policies/{policy['id']}").json()["data"]["enabled"] is False
    switch.click()
    expect(switch).to_have_class(re.compile(r"is-checked"))
    with live.api() as api:
        assert api.get(f"/alert-policies/{policy['id']}").json()["data"]["enabled"] is True
    console.by(f"policy-actions-{policy['id']}").locator(tid("policy-edit")).click()
    expect(console.by("policy-secret-state")).to_have_text("set")
    console.by("policy-secret-clear").click()
    expect(console.by("policy-secret-state")).to_have_text("will be removed")
    console.by("policy-save").click()
    expect(dialog).to_be_hidden()
    expect(console.by("policy-table").locator(tid("policy-channels"))).not_to_contain_text("(signed)")
    with live.api() as api:
        assert api.get(f"/alert-policies/{policy['id']}").json()["data"]["hasWebhookSecret"] is False

    # --- the task page now shows its own policy ---------------------------------------------------------
    console.by(f"policy-row-{policy['id']}").locator("a").click()
    expect(console.by("task-detail")).to_be_visible()
    expect(console.by("task-alerts-source")).to_contain_text("This task has its own policy")
    expect(console.by("task-alerts")).to_contain_text("3 failures in a row")
    expect(console.by("task-alerts-create")).to_have_count(0)
    console.shot("task-alerts-card")
    console.assert_healthy()


def _user(live: Live, username: str, password: str, codes: tuple[str, ...]) -> None:
    with live.api() as api:
        ids = {p["code"]: p["id"] for p in api.get("/permissions").json()["data"]}
        role = api.post("/roles", json={"name": f"role-{username}", "status": 1,
                                        "permissions": [ids[c] for c in codes]}).json()
        assert role["code"] == 0, role
        top = next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)
        user = api.post("/users", json={"username": username, "password": password, "realName": username,
                                        "departmentId": top["id"], "roleId": role["data"]["id"], "status": 1}).json()
        assert user["code"] == 0, user


def test_users_without_write_permissions_see_alerts_but_no_buttons(console: Console, live: Live):
    page = console.page
    with live.api() as api:
        top = next(d for d in api.get("/departments").json()["data"] if d["parentId"] is None)
        reply = api.post("/alert-policies", json={"departmentId": top["id"], "onFailure": True,
                                                  "emails": ["ops@example.com"]}).json()
        assert reply["code"] in (0, 4009), reply  # one default per department
    password = "Alerts-Viewer-Passw0rd!"
    _user(live, "alerts.viewer", password, ("task:view", "record:view"))
    _user(live, "alerts.records", password, ("record:view",))

    # task:view + record:view: both tabs, policies read-only (no create, edit, test, delete or switch).
    console.open()
    console.login("alerts.viewer", password)
    console.nav("alerts", "sent-alerts")
    console.by("alert-tab-policies").click()
    expect(console.by("policy-table").locator(tid("policy-scope")).first).to_be_visible()
    expect(console.by("policy-create")).to_have_count(0)
    expect(page.locator("[data-testid^='policy-actions-']")).to_have_count(0)
    expect(console.by("policy-enabled")).to_have_count(0)
    expect(console.by("policy-enabled-tag").first).to_be_visible()
    console.logout()

    # record:view only: the menu entry leads to the sent alerts; there is no Policies tab.
    console.login("alerts.records", password)
    console.nav("alerts", "sent-alerts")
    expect(console.by("alert-tab-policies")).to_have_count(0)
    console.assert_healthy()
