#!/usr/bin/env python
"""Console bench (issue 20, "Performance of the console"): what the browser downloads and how long it waits.

    .venv/bin/python bench/console.py [--dist LABEL=DIR ...] [--tasks 213] [--repeats 5] [--json FILE]

One platform (SQLite in a temp directory, migrate + bootstrap, gunicorn on loopback, no scheduler node) with
``--tasks`` disabled HTTP tasks created through the REST API. Headless Chromium (``/usr/bin/chromium`` with the
e2e flags, Playwright) loads console pages cold: a fresh browser context per load, so nothing is cached. Each
``--dist`` is one build of the console (default: ``web-ui/dist``); its files are answered from that directory
by a Playwright route in front of ``/v1/web/`` (the gzip twin when there is one, as djs_platform/web.py sends
it), while the API calls reach the platform. That lets two builds (before/after) be measured against the same
platform in one run. Bytes are the bytes put on the wire for each file (gzip-compressed where the server would
compress); JS files are classified with the build's manifest:

- **shell**: index.html's entry and its imports, the layout (MainLayout) and the English messages: what every
  signed-in page needs;
- **page**: every other JS file transferred while the page loads.

Per build, medians over ``--repeats`` cold loads, the builds taking turns (one load of each per round):

- ``login``: JS transferred and ms from navigation start until the sign-in form is visible (signed out);
- ``dashboard``: JS beyond the shell and ms when the figures are on screen (the task count), and again when both
  charts have drawn (an SVG chart each, or a canvas in builds before 2026-12-06);
- ``tasks``: ms until the first rows of ``tasks`` are on screen (default page size); then "100/page" is chosen in
  the pager and the long tasks (PerformanceObserver
  ``longtask``, issue 20 defect 12: none over 100 ms) from that click until the 100 rows are rendered.

Targets (issue 20): dashboard JS beyond the shell <= 150 KiB; tasks page first rows <= 700 ms cold; no long task
over 100 ms while 100 task rows render. Printed PASS/FAIL; JSON under bench/results/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx

from tests.platform import ADMIN_PASSWORD, WebProcess, platform_env, prepare_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KIB = 1024
TARGET_DASHBOARD_KIB = 150
TARGET_TASKS_MS = 700
TARGET_LONG_TASK_MS = 100

LONG_TASKS = """
window.__longTasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
} catch (e) { /* no longtask support */ }
"""
FORM_VISIBLE = """() => {
  const el = document.querySelector('[data-testid="login-submit"]');
  return el && el.getBoundingClientRect().height > 0 ? performance.now() : false;
}"""
DASHBOARD_DATA = """(tasks) => {
  const value = document.querySelector('[data-testid="stat-tasks"] .value')?.textContent?.trim();
  return value === String(tasks) ? performance.now() : false;
}"""
DASHBOARD_CHARTS = """() => {
  const drawn = ['chart-daily', 'chart-status'].every((id) => document.querySelector(`[data-testid="${id}"] svg[role="img"], [data-testid="${id}"] canvas`));
  return drawn ? performance.now() : false;
}"""
TASK_ROWS = """(n) => document.querySelectorAll('[data-testid="task-table"] .el-table__body-wrapper tbody tr').length >= n
  ? performance.now() : false"""
ROW_COUNT = """() => document.querySelectorAll('[data-testid="task-table"] .el-table__body-wrapper tbody tr').length"""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


class Build:
    """One console build: its files, their gzip twins and the manifest's shell."""

    def __init__(self, label: str, dist: Path) -> None:
        self.label = label
        self.dist = dist.resolve()
        manifest = json.loads((self.dist / ".vite" / "manifest.json").read_text())
        entries = [key for key, chunk in manifest.items() if chunk.get("isEntry")]
        self.shell = self._closure(manifest, [*entries, "src/layouts/MainLayout.vue", "src/i18n/locales/en.ts"])

    @staticmethod
    def _closure(manifest: dict, keys: list[str]) -> set[str]:
        files: set[str] = set()
        seen: set[str] = set()

        def visit(key: str) -> None:
            if key in seen or key not in manifest:
                return
            seen.add(key)
            files.add(manifest[key]["file"])
            for imported in manifest[key].get("imports", []):
                visit(imported)

        for key in keys:
            visit(key)
        return files

    def answer(self, path: str) -> tuple[bytes, dict[str, str], int]:
        """Body, headers and bytes on the wire for ``/v1/web/<path>`` (web.py's rules, simplified)."""
        target = (self.dist / path).resolve() if path else self.dist / "index.html"
        if not str(target).startswith(str(self.dist)) or not target.is_file():
            target = self.dist / "index.html"
        body = target.read_bytes()
        headers = {"Content-Type": mimetypes.guess_type(target.name)[0] or "application/octet-stream"}
        twin = target.with_name(target.name + ".gz")
        if twin.is_file():  # Chromium sends Accept-Encoding: gzip; the twin is what goes over the wire
            return body, headers, twin.stat().st_size
        return body, headers, len(body)


def seed(api: str, tasks: int) -> str:
    """Sign in as admin and create ``tasks`` disabled HTTP tasks; returns a token pair as JSON for localStorage."""
    client = httpx.Client(base_url=api, timeout=30)
    login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["data"]
    client.headers["Authorization"] = f"Bearer {login['token']}"
    department = login["user"]["departmentId"]
    for i in range(tasks):
        answer = client.post("/tasks/http", json={
            "name": f"bench-task-{i:04d}", "departmentId": department, "cron": "0 30 9 * * MON-FRI",
            "timezone": "Europe/Berlin", "url": f"https://jobs.example.com/run/{i}", "httpMethod": "POST",
            "status": 0, "description": "console bench"}).json()
        if answer["code"] != 0:
            raise RuntimeError(f"creating task {i}: {answer}")
    return json.dumps({"token": login["token"], "refreshToken": login["refreshToken"]})


def load(browser, web: str, build: Build, path: str, tokens: str | None, predicates: list[tuple[str, object]],
         then=None):
    """One cold load of ``path``: ms at which each predicate first held, JS bytes (shell/page) at those moments,
    and the long tasks seen by then. ``then(page)`` runs afterwards and its answer is returned too."""
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)
    script = LONG_TASKS + "localStorage.setItem('djs.locale', 'en');"
    if tokens:
        script += f"localStorage.setItem('djs.tokens', {json.dumps(tokens)});"
    context.add_init_script(script)
    sent: list[tuple[float, str, int]] = []

    def route(request_route) -> None:
        url = request_route.request.url
        rel = url.split("/v1/web/", 1)[1].split("?", 1)[0]
        body, headers, wire = build.answer(rel)
        sent.append((time.monotonic(), rel, wire))
        request_route.fulfill(status=200, body=body, headers=headers)

    context.route("**/v1/web/**", route)
    page = context.new_page()
    page.goto(web + "/web/" + path, wait_until="commit")
    marks = []
    for predicate, arg in predicates:
        ms = page.wait_for_function(predicate, arg=arg, polling="raf", timeout=60_000).json_value()
        now = time.monotonic()
        js = [(rel, wire) for at, rel, wire in sent if at <= now and rel.endswith(".js")]
        shell = sum(wire for rel, wire in js if rel in build.shell)
        marks.append({"ms": round(ms, 1), "shellJs": shell, "pageJs": sum(wire for _, wire in js) - shell})
    extra = then(page) if then else None
    long_tasks = page.evaluate("window.__longTasks")
    context.close()
    return (marks, long_tasks, extra) if then else (marks, long_tasks)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def sample(browser, web: str, build: Build, tokens: str, tasks: int, pages: set[str]) -> dict:
    """One cold load of each page in ``pages`` with ``build``: the raw marks ``summarise`` takes medians of."""
    out: dict = {}
    if "login" in pages:
        out["login"] = load(browser, web, build, "login", None, [(FORM_VISIBLE, None)])[0][0]
    if "dashboard" in pages:
        out["dashboard"] = load(browser, web, build, "dashboard", tokens,
                                [(DASHBOARD_DATA, tasks), (DASHBOARD_CHARTS, None)])[0]
    if "tasks" in pages:
        rows = min(100, tasks)
        out["tasks"] = load(browser, web, build, "tasks", tokens, [(TASK_ROWS, 1)],
                            then=lambda page: hundred_rows(page, rows))
    return out


def summarise(build: Build, samples: list[dict], tasks: int) -> dict:
    """Medians over a build's cold loads (taken in turns with the other builds: see ``main``)."""
    result: dict = {"label": build.label, "dist": str(build.dist), "loads": len(samples)}
    if "login" in samples[0]:
        runs = [s["login"] for s in samples]
        result["login"] = {"ms": median([r["ms"] for r in runs]),
                           "jsKiB": median([(r["shellJs"] + r["pageJs"]) / KIB for r in runs])}
    if "dashboard" in samples[0]:
        runs = [s["dashboard"] for s in samples]
        result["dashboard"] = {
            "dataMs": median([r[0]["ms"] for r in runs]), "chartsMs": median([r[1]["ms"] for r in runs]),
            "shellJsKiB": median([r[1]["shellJs"] / KIB for r in runs]),
            "pageJsAtDataKiB": median([r[0]["pageJs"] / KIB for r in runs]),
            "pageJsAtChartsKiB": median([r[1]["pageJs"] / KIB for r in runs]),
        }
    if "tasks" in samples[0]:
        loads = [s["tasks"] for s in samples]
        windows = [extra for _, _, extra in loads]
        longest = [max((t["duration"] for t in lt if start <= t["start"] + t["duration"] and t["start"] <= end),
                       default=0)
                   for (_, lt, (start, end, _)) in loads]
        result["tasks"] = {
            "rows": min(100, tasks), "firstRowsMs": median([marks[0]["ms"] for marks, _, _ in loads]),
            "pageJsKiB": median([marks[0]["pageJs"] / KIB for marks, _, _ in loads]),
            "rowsFrom": windows[0][2],
            "hundredRowsMs": median([end - start for start, end, _ in windows]),
            "longestTaskMs": median(longest), "worstLongTaskMs": round(max(longest), 1),
        }
    return result


def hundred_rows(page, rows: int) -> tuple[float, float, str]:
    """The window (ms) in which ``rows`` task rows render: the cold load itself when the default page size already shows them,
    else from choosing "100/page" in the pager until the rows are there. Returns (start, end, how)."""
    if page.evaluate(ROW_COUNT) >= rows:
        end = page.wait_for_function(TASK_ROWS, arg=rows, polling="raf").json_value()
        return 0.0, round(end, 1), "first load"
    page.locator(".el-pagination__sizes .el-select").first.click()
    option = page.locator(".el-select-dropdown__item", has_text="100").last
    option.wait_for(state="visible")
    start = page.evaluate("performance.now()")
    option.click()
    end = page.wait_for_function(TASK_ROWS, arg=rows, polling="raf").json_value()
    return round(start, 1), round(end, 1), "pager"


def verdicts(result: dict) -> list[str]:
    check = lambda ok: "PASS" if ok else "FAIL"
    lines = []
    if d := result.get("dashboard"):
        lines.append(f"{check(d['pageJsAtChartsKiB'] <= TARGET_DASHBOARD_KIB)} dashboard JS beyond the shell "
                     f"{d['pageJsAtChartsKiB']:.1f} KiB with charts ({d['pageJsAtDataKiB']:.1f} KiB when the figures "
                     f"show) <= {TARGET_DASHBOARD_KIB} KiB")
    if t := result.get("tasks"):
        lines.append(f"{check(t['firstRowsMs'] <= TARGET_TASKS_MS)} tasks page first rows {t['firstRowsMs']:.0f} ms "
                     f"<= {TARGET_TASKS_MS} ms")
        lines.append(f"{check(t['worstLongTaskMs'] <= TARGET_LONG_TASK_MS)} longest task while {t['rows']} rows render "
                     f"({t['rowsFrom']}) {t['worstLongTaskMs']:.0f} ms (median {t['longestTaskMs']:.0f}) "
                     f"<= {TARGET_LONG_TASK_MS} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", action="append", default=[], help="LABEL=DIR of a built console (repeatable)")
    parser.add_argument("--tasks", type=int, default=213)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--pages", default="login,dashboard,tasks", help="comma-separated subset to measure")
    args = parser.parse_args()
    specs = [spec.split("=", 1) if "=" in spec else [Path(spec).name, spec] for spec in args.dist]
    builds = [Build(label, Path(dist)) for label, dist in specs] or [Build("current", ROOT / "web-ui" / "dist")]
    pages = set(args.pages.split(","))

    from playwright.sync_api import sync_playwright

    report: dict = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "tasks": args.tasks,
                    "repeats": args.repeats, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                    "builds": []}
    with tempfile.TemporaryDirectory(prefix="djs-console-bench-") as tmp:
        env = platform_env(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        log("preparing the database (migrate + bootstrap)")
        prepare_database(env)
        with WebProcess(env, Path(tmp) / "gunicorn.log") as web:
            log(f"platform at {web.url}; creating {args.tasks} tasks")
            tokens = seed(web.url, args.tasks)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    # In turns (A B A B ...), not all of A then all of B: a load on the machine that comes and goes
                    # then weighs on every build alike, and the medians compare like with like.
                    samples: dict[str, list[dict]] = {build.label: [] for build in builds}
                    for repeat in range(args.repeats):
                        log(f"round {repeat + 1}/{args.repeats}: " + ", ".join(build.label for build in builds))
                        for build in builds:
                            samples[build.label].append(sample(browser, web.url, build, tokens, args.tasks, pages))
                    for build in builds:
                        result = summarise(build, samples[build.label], args.tasks)
                        result["verdicts"] = verdicts(result)
                        report["builds"].append(result)
                        print(json.dumps({k: v for k, v in result.items() if k != "verdicts"}, indent=2))
                        for line in result["verdicts"]:
                            print("  " + line)
                finally:
                    browser.close()
    out = args.json or ROOT / "bench" / "results" / f"console-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    log(f"written {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
