#!/usr/bin/env python
"""A picture of every console page in both languages, both themes, at desktop and phone width (issue 20).

    .venv/bin/python scripts/console_screenshots.py OUT_DIR [--url URL --username U --password P] [--only PAGES]
        [--size 1024x768 ...]

With ``--url`` (the console, e.g. ``http://127.0.0.1:8080/v1/web/``) it signs in to that running platform; without
it, it starts a throwaway one the way ``tests/e2e`` and ``bench/console.py`` do (SQLite in a temp directory,
migrate + bootstrap, gunicorn on a free loopback port, the built ``web-ui/dist``; no scheduler node) and fills it
with a small tenant: departments, tasks with long names and other zones, a role, a user.

Headless Chromium (``/usr/bin/chromium``, Playwright, the e2e flags) opens each page in zh-CN and en, light and
dark, at 1440x900 and 390x844 (or each ``--size``), and saves ``OUT_DIR/<width>-<locale>-<theme>/<nn>-<page>.png`` (the viewport). Some
states are pictured too: the task form after a failed save (field errors), the role dialog, and at phone width the
menu drawer. A page wider than the screen (one the user would scroll sideways) is named on stdout; the exit code
is 1 when there is one.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx

from tests.platform import ADMIN_PASSWORD, WebProcess, platform_env, prepare_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = ("1440x900", "390x844")
LOCALES = ("zh-CN", "en")
THEMES = ("light", "dark")
#: How far the page may be wider than the window before it counts as scrolling sideways (sub-pixel rounding).
SLACK_PX = 1
WIDER_THAN_WINDOW = """() => {
  const main = document.querySelector('.main');
  const doc = document.documentElement;
  return Math.max(doc.scrollWidth - doc.clientWidth, main ? main.scrollWidth - main.clientWidth : 0);
}"""


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    #: data-testid that is visible once the page has rendered.
    ready: str
    #: What to do before the picture (a click that opens a dialog, a submit that shows errors).
    action: str | None = None


def shots(task_id: int | None) -> list[Shot]:
    task = [] if task_id is None else [
        Shot("task-detail", f"tasks/{task_id}", "task-detail"),
        Shot("task-edit", f"tasks/{task_id}/edit", "task-form"),
    ]
    return [
        Shot("dashboard", "dashboard", "page-title"),
        Shot("tasks", "tasks", "task-list"),
        Shot("tasks-create-menu", "tasks", "task-list", action="create-menu"),
        Shot("task-new", "tasks/new?type=HTTP", "task-form"),
        Shot("task-new-errors", "tasks/new?type=HTTP", "task-form", action="submit"),
        Shot("task-new-grpc", "tasks/new?type=GRPC", "task-form"),
        *task,
        Shot("records", "records", "record-list"),
        Shot("alerts-sent", "alerts?tab=sent", "alerts-page"),
        Shot("alerts-policies", "alerts?tab=policies", "alerts-page"),
        Shot("executors", "executors", "executor-page"),
        Shot("departments", "departments", "department-page"),
        Shot("users", "users", "user-page"),
        Shot("roles", "roles", "role-page"),
        Shot("role-dialog", "roles", "role-page", action="role-dialog"),
        Shot("nodes", "nodes", "node-page"),
        Shot("audit", "audit", "audit-page"),
        Shot("api-tokens", "tokens", "token-page"),
        Shot("menu-drawer", "dashboard", "page-title", action="menu-drawer"),
    ]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def seed(api: str, password: str) -> int:
    """A small tenant to look at; returns the id of a task to open."""
    client = httpx.Client(base_url=api, timeout=30)
    token = client.post("/auth/login", json={"username": "admin", "password": password}).json()["data"]["token"]
    client.headers["Authorization"] = f"Bearer {token}"

    def post(path: str, body: dict) -> dict:
        answer = client.post(path, json=body).json()
        if answer["code"] != 0:
            raise RuntimeError(f"POST {path}: {answer}")
        return answer["data"]

    top = next(d for d in client.get("/departments").json()["data"] if d["parentId"] is None)
    ops = post("/departments", {"name": "Operations", "parentId": top["id"], "status": 1})
    post("/departments", {"name": "Billing and settlement (EMEA)", "parentId": ops["id"], "status": 1})
    codes = {p["code"]: p["id"] for p in client.get("/permissions").json()["data"]}
    role = post("/roles", {"name": "operator", "description": "Runs and watches the tasks of a department",
                           "permissions": [codes[c] for c in ("task:view", "task:execute", "record:view") if c in codes],
                           "status": 1})
    post("/users", {"username": "operator", "password": "Operator-pass-1", "realName": "Li Wei",
                    "departmentId": ops["id"], "roleId": role["id"], "status": 1})
    first = None
    zones = ("Europe/Berlin", "Asia/Shanghai", "America/New_York", "UTC")
    for i in range(14):
        task = post("/tasks/http", {
            "name": f"nightly-settlement-export-{i:02d}" if i % 3 else f"ping-{i:02d}",
            "departmentId": ops["id"] if i % 2 else top["id"], "cron": "0 30 9 * * MON-FRI",
            "timezone": zones[i % len(zones)], "url": f"https://jobs.example.internal/run/{i}", "httpMethod": "POST",
            "status": 1 if i % 3 else 0, "timeout": 60, "description": "A task to look at"})
        first = first or task["id"]
    return first


def run(base: str, username: str, password: str, out: Path, task_id: int | None, only: set[str],
        sizes: list[str]) -> list[str]:
    from playwright.sync_api import expect, sync_playwright

    wide: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for size in sizes:
                width, height = size.split("x")
                viewport = {"width": int(width), "height": int(height)}
                for locale in LOCALES:
                    for theme in THEMES:
                        folder = out / f"{width}-{locale}-{theme}"
                        folder.mkdir(parents=True, exist_ok=True)
                        context = browser.new_context(viewport=viewport, locale=locale, timezone_id="Asia/Shanghai",
                                                      color_scheme=theme)
                        context.add_init_script(
                            f"localStorage.setItem('djs.locale', '{locale}'); localStorage.setItem('djs.theme', '{theme}');")
                        context.set_default_timeout(15_000)
                        page = context.new_page()
                        page.goto(base + "login")
                        expect(page.locator('[data-testid="login-submit"]')).to_be_visible()
                        n = 1
                        if not only or "login" in only:
                            settle(page)
                            page.screenshot(path=str(folder / f"{n:02d}-login.png"))
                            n += 1
                        page.locator('[data-testid="login-username"]').fill(username)
                        page.locator('[data-testid="login-password"]').fill(password)
                        page.locator('[data-testid="login-submit"]').click()
                        expect(page.locator('[data-testid="page-title"]')).to_be_visible()
                        for shot in shots(task_id):
                            if only and shot.name not in only:
                                continue
                            if shot.action == "menu-drawer" and viewport["width"] > 767:
                                continue
                            page.goto(base + shot.path)
                            expect(page.locator(f'[data-testid="{shot.ready}"]').first).to_be_visible()
                            settle(page)
                            act(page, shot.action)
                            over = page.evaluate(WIDER_THAN_WINDOW)
                            if over > SLACK_PX:
                                wide.append(f"{folder.name}/{shot.name}: {over} px wider than the window")
                            page.screenshot(path=str(folder / f"{n:02d}-{shot.name}.png"))
                            n += 1
                        log(f"{folder.name}: {n - 1} pictures")
                        context.close()
        finally:
            browser.close()
    return wide


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(400)  # transitions (dialogs, tags, charts) finish


def act(page, action: str | None) -> None:
    if action is None:
        return
    if action == "create-menu":
        page.locator('[data-testid="task-create"]').click()
    elif action == "submit":
        # Rejected by the server (the scheme, the cron): its field errors, long ones included, under their fields.
        page.locator('[data-testid="task-name"]').fill("shots-rejected")
        page.locator('[data-testid="task-cron"]').fill("61 * * * * * *")
        page.locator('[data-testid="task-url"]').fill("ftp://" + "a-very-long-host-name." * 6 + "example")
        page.locator('[data-testid="task-form"] form').evaluate("(form) => form.requestSubmit()")
    elif action == "role-dialog":
        page.locator('[data-testid="role-create"]').click()
    elif action == "menu-drawer":
        page.locator('[data-testid="menu-toggle"]').click()
    settle(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="directory for the pictures (created)")
    parser.add_argument("--url", help="a running console (…/v1/web/); default: start a throwaway platform")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=ADMIN_PASSWORD)
    parser.add_argument("--task", type=int, help="the task to open (with --url; default: none)")
    parser.add_argument("--only", default="", help="comma-separated page names (login,tasks,role-dialog,...)")
    parser.add_argument("--size", action="append", default=[], help="WIDTHxHEIGHT (repeatable; default 1440x900, 390x844)")
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}
    sizes = args.size or list(SIZES)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.url:
        base = args.url.rstrip("/") + "/"
        wide = run(base, args.username, args.password, args.out, args.task, only, sizes)
    else:
        if not (ROOT / "web-ui" / "dist" / "index.html").is_file():
            sys.exit("web-ui/dist is missing: build the console first (cd web-ui && npm run build)")
        with tempfile.TemporaryDirectory(prefix="djs-shots-") as tmp:
            env = platform_env(f"sqlite:///{Path(tmp) / 'shots.sqlite3'}")
            log("preparing the database (migrate + bootstrap)")
            prepare_database(env)
            with WebProcess(env, Path(tmp) / "gunicorn.log") as web:
                log(f"platform at {web.url}; seeding")
                task_id = seed(web.url, ADMIN_PASSWORD)
                wide = run(web.url + "/web/", "admin", ADMIN_PASSWORD, args.out, task_id, only, sizes)
    for line in wide:
        print(f"WIDE {line}")
    log(f"pictures in {args.out}")
    sys.exit(1 if wide else 0)


if __name__ == "__main__":
    main()
