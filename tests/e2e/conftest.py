"""A live platform (gunicorn + one scheduler node on a fresh database), a loopback HTTP target and
Debian's headless Chromium driven by Playwright, for the console's end-to-end tests."""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from djs_platform.config import BASE_DIR
from tests.e2e.console import Console
from tests.scheduling import shell_identity
from tests.platform import ADMIN_PASSWORD, Nodes, WebProcess, fresh_database, prepare_database, scheduler_env
from tests.targets import HttpTarget, Respond

DIST = Path(os.environ.get("DJS_WEB_UI_DIST") or BASE_DIR / "web-ui" / "dist")
CHROMIUM = "/usr/bin/chromium"
# The flags this machine needs (docs/console.md): no sandbox as root, no GPU, and none of Chromium's own
# background connections, which a closed network refuses. Playwright gives every launch a fresh profile.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Access tokens live this long, so the console must refresh them (single-flight) several times per run.
ACCESS_TOKEN_SECONDS = 8
BACKEND = "mariadb" if os.environ.get("DJS_DATABASE_URL", "").startswith("mysql") else "sqlite"
SCREENSHOTS = BASE_DIR / "test-artifacts" / "screenshots" / BACKEND
#: DJS_TEST_SCREENSHOTS=1: a full-page screenshot at every ``console.shot(...)`` (pictures of every page for a
#: review); otherwise only failures are photographed, which keeps the suite fast.
SCREENSHOTS_ON = bool(os.environ.get("DJS_TEST_SCREENSHOTS"))


@dataclass
class Live:
    web: WebProcess
    target: HttpTarget
    nodes: Nodes
    env: dict[str, str]

    @property
    def console_url(self) -> str:
        return self.web.url + "/web/"

    def api(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
        token = httpx.post(self.web.url + "/auth/login", json={"username": username, "password": password},
                           timeout=10).json()["data"]["token"]
        return httpx.Client(base_url=self.web.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _wait_for_live_node(web: WebProcess, nodes: Nodes, timeout: float = 30) -> None:
    with httpx.Client(base_url=web.url, timeout=5) as client:
        token = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["data"]["token"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            nodes_ = client.get("/nodes", headers={"Authorization": f"Bearer {token}"}).json()["data"]
            if any(n["alive"] for n in nodes_):
                return
            time.sleep(0.3)
    raise AssertionError(f"no scheduler node became alive:\n{nodes.log('e2e-node')}")


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[Live]:
    if not (DIST / "index.html").is_file():
        pytest.fail("web-ui/dist is missing: `make test` builds the console first (or run "
                    "`cd web-ui && npm ci && npm run build`)")
    tmp = tmp_path_factory.mktemp("console")
    redis = {"DJS_REDIS_URL": os.environ["DJS_REDIS_URL"]} if os.environ.get("DJS_REDIS_URL") else {}
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_database(tmp))
        target = stack.enter_context(HttpTarget())
        target.on("/ping", Respond(body='{"pong": true}', headers={"Content-Type": "application/json"}))
        target.on("/hang", hang=True)
        # SHELL tasks on (tests/e2e/test_shell_console.py); web and node share the log directory, as on
        # one host, so the console can read every run's log.
        env = scheduler_env(db_url, DJS_JOB_POLL_INTERVAL="0.2", DJS_JOB_HEARTBEAT_INTERVAL="1",
                            DJS_JOB_SHUTDOWN_GRACE="2", DJS_SERVER_THREADS="8",
                            DJS_AUTH_JWT_EXPIRE_HOURS=str(ACCESS_TOKEN_SECONDS / 3600),
                            DJS_JOB_SHELL_ENABLED="true", DJS_JOB_SHELL_LOG_DIR=str(tmp / "shell-logs"),
                            **shell_identity(), **redis)
        prepare_database(env)
        web = stack.enter_context(WebProcess(env, tmp / "web.log"))
        nodes = Nodes(env, tmp)
        stack.callback(nodes.stop_all)
        nodes.start("e2e-node")
        _wait_for_live_node(web, nodes)
        yield Live(web=web, target=target, nodes=nodes, env=env)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium (as root)"
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture
def console(request, live, browser) -> Iterator[Console]:
    """A fresh browser context (no storage, English, UTC) on the live console. Screenshots are taken on
    failure (test-artifacts/screenshots/<backend>/FAILED-<test>.png), and at each ``shot`` only with
    DJS_TEST_SCREENSHOTS=1."""
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    session = Console(page=page, base=live.console_url, screenshots=SCREENSHOTS, enabled=SCREENSHOTS_ON)
    try:
        yield session
        if getattr(request.node, "e2e_failed", False):
            page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name[:80]}.png"), full_page=True)
    finally:
        context.close()
