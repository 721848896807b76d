#!/usr/bin/env python
"""Records at volume (issue 15): every read the console makes, at 100k, 1M and 10M records in one month.

    make bench-records [BENCH_ARGS="..."]       # detached: nohup, log under bench/results/
    .venv/bin/python bench/records_scale.py [--sizes 100000,1000000,10000000] [--quick] [--reuse DIR]
                                            [--tasks N] [--seconds S] [--connections C] [--no-browser]

One throwaway MariaDB (``scripts/services.py``, durable redo log, a bigger buffer pool for this bench: see
``SERVER_ARGS``) and one Redis. Per size, a database of its own with the platform schema (migrate + bootstrap)
holding ``--tasks`` tasks (bench/rest_api.py's departments and tasks) and N records in the current month's
table: bench/rest_api.py's record rows (``record_values``) streamed as TSV through a FIFO into
``LOAD DATA LOCAL INFILE`` while the month table's secondary indexes are dropped, then re-added in one
``ALTER TABLE`` (the final DDL is checked to be the application's). Running executions are live rows only
(docs/records.md): ``RUNNING_ROWS`` rows scheduled shortly before now, whatever N.

Then per size: ``manage.py rebuild_rollups --year Y --month M`` (timed; then ANALYZE of the rollup tables, which
InnoDB would do by itself seconds later), MariaDB restarted, gunicorn as bench/rest_api.py runs it (production
profile, 2 workers x 8 threads, Redis), one admin login, and for every call the console makes on the dashboard,
the records page and a task's page (``endpoints``; page sizes read from the console's sources): a check
(envelope code 0; an exact ``total`` must equal the rows loaded), the median of 5 warm single requests,
``wrk -t2 -c16`` (p99, req/s), and one cold request (MariaDB restarted just before: empty buffer pool, O_DIRECT,
no buffer-pool dump/load, so every page of records, rollups and indexes comes from disk; one
``/v1/permissions`` request first reconnects and reads the auth tables, so the figure is the endpoint's own
cold cost). ``GET /v1/permissions`` under wrk at the start, the middle and the end of each size is the
reference (median of the three p99s). The cursor of page 500 comes from walking ``nextCursor`` 499 times
(its rows must equal ``?page=500``'s). At the largest size Chromium (Playwright, ``/usr/bin/chromium`` with
the e2e flags, logged in through the login page) times the dashboard, the records page and a task's page from
navigation start until their data is on screen.

Targets (issue 15), printed PASS/FAIL per endpoint: warm median <= 50 ms at the largest size; p99 under wrk
<= 2 x the reference p99 of the same size; t(largest) / t(smallest) <= 1.5 for the median and for the p99;
each console page < 1 s to data visible. Exit status 1 when a target is missed (or a check fails).

``--reuse DIR`` keeps the MariaDB directory (DIR/data) between runs (``--keep-rollups``: and a size's rollups when
they count every finished record loaded): a size already loaded there for the
current month is not loaded again (its database is migrated; rollups are rebuilt every run). ``--quick``:
sizes 100000 unless given, wrk 3 s per endpoint. JSON (figures, machine facts, load average) and each size's
gunicorn log under bench/results/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import rest_api  # noqa: F401  (sets DJS_ADMIN_PASSWORD for the bench before tests.platform reads it)
import services
from rest_api import (
    RECORD_COLUMNS,
    THREADS,
    WORKERS,
    check_endpoint,
    connect,
    load_tasks,
    record_values,
    run_wrk,
)

DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
TASKS = 10_000
BUFFER_POOL = "4G"
# A bigger buffer pool than the tests' 256M (the box has 24 GiB); LOAD DATA LOCAL allowed; a redo log that
# does not checkpoint every few seconds during the load; bigger sort buffers for the index builds; O_DIRECT
# and no buffer-pool dump/load, so a restart really starts cold (the OS page cache does not hold InnoDB pages).
SERVER_ARGS = [f"--innodb-buffer-pool-size={BUFFER_POOL}", "--local-infile=1", "--innodb-log-file-size=1G",
               "--innodb-sort-buffer-size=64M", "--innodb-flush-method=O_DIRECT",
               "--innodb-buffer-pool-dump-at-shutdown=0", "--innodb-buffer-pool-load-at-startup=0"]
#: bench/rest_api.py's status mix without "running": running executions are live rows, few at any size.
SCALE_STATUSES = [(1, 800), (2, 120), (3, 20), (4, 30), (5, 20)]
RUNNING_ROWS = 20
WARM_REPEATS = 5
CURSOR_PAGE = 500      # page 500 of 20 rows: the deepest ?page the API allows ((500 - 1) x 20 < 10,000)
DEEP_SIZE = 20
WEB_SRC = ROOT / "web-ui" / "src" / "views"


def console_constant(path: str, name: str, default: int) -> int:
    """A number the console's source exports (e.g. the records page's PAGE_SIZE), so the bench asks what the
    console asks."""
    try:
        found = re.search(rf"export const {name} = (\d+)", (WEB_SRC / path).read_text())
    except OSError:
        return default
    return int(found.group(1)) if found else default


PAGE_SIZE = console_constant("records/useRecords.ts", "PAGE_SIZE", 20)          # records page, each request
RECENT_RECORDS = console_constant("tasks/useTaskDetail.ts", "RECENT_RECORDS", 20)  # task page's recent records
LAG_SAMPLE = console_constant("dashboard/useDashboard.ts", "LAG_SAMPLE_SIZE", 100)  # dashboard lag sample
# The dashboard's "today / last 7 days" cards ask /records/stats of every month those days touch.
WEEK_DAYS = console_constant("dashboard/recentWindows.ts", "WINDOW_DAYS", 0)
TARGET_MEDIAN_MS = 50.0
TARGET_P99_FACTOR = 2.0
TARGET_RATIO = 1.5
TARGET_BROWSER_MS = 1000.0
MARKER = "records_scale.json"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message: str) -> None:
    print(f"records_scale bench: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else \
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# --- MariaDB ---------------------------------------------------------------------------------------------

class KeptMariaDB(services.MariaDBServer):
    """``services.MariaDBServer`` living in DIR (``--reuse``) instead of a temp dir: the datadir is created
    (and the djs user provisioned) on the first run only, and nothing is deleted on close."""

    def __init__(self, keep: Path, **options) -> None:
        keep.mkdir(parents=True, exist_ok=True)
        super().__init__(base_dir=str(keep), **options)
        shutil.rmtree(self.tmpdir, ignore_errors=True)  # the temp dir the base class made inside DIR
        self.tmpdir = keep
        self.log_path = keep / "mariadb.log"
        self.datadir = keep / "data"
        self.socket = keep / "mariadbd.sock"
        self.sql_tmpdir = keep / "tmp"
        self._initialized = (self.datadir / "mysql").is_dir()
        if self._initialized:
            self.sql_tmpdir.mkdir(exist_ok=True)  # a fresh DIR gets it from _install
        if len(str(self.socket)) > 100:
            raise services.ServiceError(f"--reuse path too long for a unix socket: {self.socket}")

    def close(self) -> None:
        self.stop()


def database_url(server_url: str, name: str) -> str:
    return urlparse(server_url)._replace(path="/" + name).geturl()


def admin_sql(server_url: str, *statements: str) -> list:
    conn, cur = connect(server_url)
    try:
        out = []
        for statement in statements:
            cur.execute(statement)
            out.append(cur.fetchall())
        conn.commit()
        return out
    finally:
        conn.close()


# --- loading ---------------------------------------------------------------------------------------------

def running_window(records: int, tasks: int, year: int, month: int) -> range:
    """Indexes (in record_values order) of the RUNNING_ROWS records scheduled closest before now: the sweep
    of the task list that holds the current instant of the month."""
    from calendar import monthrange

    per_task = -(-records // tasks)
    slot = monthrange(year, month)[1] * 86400 / per_task
    elapsed = (datetime.now(UTC).replace(tzinfo=None) - datetime(year, month, 1)).total_seconds()
    sweep = max(0, min(per_task - 1, int(elapsed // slot) - 1))
    first = min(sweep * tasks, max(0, records - RUNNING_ROWS))
    return range(first, min(records, first + RUNNING_ROWS))


def tsv_lines(task_list: list[tuple], records: int, year: int, month: int, rnd, running: range):
    """bench/rest_api.py's record rows as TSV lines (\\N = NULL), the ``running`` ones made live executions."""
    for name in {row[1] for row in task_list}:
        if any(c in name for c in "\t\n\\"):
            raise ValueError(f"task name {name!r} would need TSV escaping")
    status_at = RECORD_COLUMNS.index("status")
    for n, values in enumerate(record_values(task_list, records, year, month, rnd, statuses=SCALE_STATUSES)):
        if n in running:  # running: no end, no result, no cost yet
            values = list(values)
            for column in ("end_time", "success", "status_code", "response", "error", "cost_time"):
                values[RECORD_COLUMNS.index(column)] = None
            values[status_at] = 0
            values[RECORD_COLUMNS.index("update_time")] = values[RECORD_COLUMNS.index("start_time")]
        yield "\t".join(["\\N" if v is None else str(v) for v in values])


def load_records_fast(db_url: str, table: str, lines, records: int, workdir: Path) -> dict:
    """Drop the month table's secondary indexes, stream ``lines`` through a FIFO into LOAD DATA LOCAL INFILE
    (generation in a thread, the load in the server at the same time), then re-add the indexes in one ALTER
    and check the table's DDL is what it was."""
    conn, cur = connect(db_url, local_infile=1)
    cur.execute("SET unique_checks=0, foreign_key_checks=0")
    cur.execute(f"SHOW CREATE TABLE {table}")
    ddl = cur.fetchone()[1]
    keys = [line.strip().rstrip(",") for line in ddl.splitlines() if re.match(r"\s+(UNIQUE )?KEY ", line)]
    names = [re.search(r"KEY `([^`]+)`", key).group(1) for key in keys]
    t0 = time.monotonic()
    cur.execute(f"ALTER TABLE {table} " + ", ".join(f"DROP INDEX `{name}`" for name in names))

    fifo = workdir / f"{table}.fifo"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    state = {"rows": 0, "error": None}

    def writer() -> None:
        started = time.monotonic()
        try:
            with open(fifo, "w", encoding="utf-8", buffering=1 << 20) as out:
                batch: list[str] = []
                for line in lines:
                    batch.append(line)
                    if len(batch) == 10_000:
                        out.write("\n".join(batch) + "\n")
                        state["rows"] += len(batch)
                        batch.clear()
                        if state["rows"] % 1_000_000 == 0:
                            rate = state["rows"] / (time.monotonic() - started)
                            log(f"    records generated and streamed: {state['rows']:,} ({rate:,.0f} rows/s)")
                if batch:
                    out.write("\n".join(batch) + "\n")
                    state["rows"] += len(batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the loader
            state["error"] = exc

    thread = threading.Thread(target=writer, name="tsv-writer", daemon=True)
    thread.start()
    t_load = time.monotonic()
    try:
        cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4 "
                    f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                    f"({', '.join(RECORD_COLUMNS)})", (str(fifo),))
        loaded = cur.rowcount
        cur.execute("SHOW WARNINGS LIMIT 5")
        warnings = cur.fetchall()
        conn.commit()
    except BaseException:
        # unblock a writer still waiting for a reader, so its thread ends
        with open(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK), "rb"):
            pass
        raise
    finally:
        thread.join(timeout=60)
        fifo.unlink(missing_ok=True)
    if state["error"]:
        raise RuntimeError(f"record generation failed: {state['error']!r}")
    if warnings:
        raise RuntimeError(f"LOAD DATA warnings: {warnings}")
    if loaded != records or state["rows"] != records:
        raise RuntimeError(f"LOAD DATA loaded {loaded:,} rows of {state['rows']:,} generated ({records:,} asked)")
    load_s = time.monotonic() - t_load
    log(f"    {records:,} records loaded in {load_s:.1f}s ({records / load_s:,.0f} rows/s); re-adding "
        f"{len(keys)} secondary indexes")
    t_index = time.monotonic()
    cur.execute(f"ALTER TABLE {table} " + ", ".join("ADD " + key for key in keys))
    index_s = time.monotonic() - t_index
    cur.execute(f"SHOW CREATE TABLE {table}")
    after = cur.fetchone()[1]

    def strip(text: str) -> str:
        return re.sub(r" AUTO_INCREMENT=\d+", "", text)

    if strip(after) != strip(ddl):
        raise RuntimeError(f"{table}: DDL after the load differs from the application's:\n{ddl}\n---\n{after}")
    cur.execute(f"ANALYZE TABLE task, {table}")
    cur.fetchall()
    conn.commit()
    conn.close()
    return {"record_load_s": round(load_s, 1), "index_s": round(index_s, 1),
            "records_s": round(time.monotonic() - t0, 1), "indexes": names}


def expected_counts(db_url: str, table: str, filter_task: int, filter_dept: int) -> dict:
    """The raw counts the API's exact totals must equal (one covering-index GROUP BY over the month)."""
    conn, cur = connect(db_url)
    cur.execute(f"SELECT department_id, status, task_type, trigger_type, COUNT(*) FROM {table} "
                f"GROUP BY department_id, status, task_type, trigger_type")
    rows = cur.fetchall()
    cur.execute(f"SELECT COUNT(*) FROM {table} WHERE task_id = %s", (filter_task,))
    task_records = cur.fetchone()[0]
    cur.execute("SELECT status, COUNT(*) FROM task GROUP BY status")
    task_status = {str(s): n for s, n in cur.fetchall()}
    conn.close()

    def total(**where) -> int:
        index = {"department_id": 0, "status": 1, "task_type": 2, "trigger_type": 3}
        return int(sum(r[4] for r in rows if all(r[index[k]] == v for k, v in where.items())))

    return {"records": total(), "status2": total(status=2), "success": total(status=1), "running": total(status=0),
            "grpc": total(task_type="GRPC"), "manual": total(trigger_type="MANUAL"),
            "schedule": total(trigger_type="SCHEDULE"), "dept": total(department_id=filter_dept),
            "task": int(task_records), "tasks": sum(task_status.values()), "task_status": task_status}


def load_size(env: dict, db_url: str, size: int, tasks: int, year: int, month: int, workdir: Path) -> dict:
    from tests.platform import prepare_database

    started = time.monotonic()
    prepare_database(env)
    loaded = load_tasks(env, db_url, tasks, year, month)
    table, task_list = loaded["table"], loaded["task_list"]
    log(f"    {len(task_list):,} tasks in {loaded['task_load_s']}s; records into {table} (LOAD DATA via FIFO)")
    running = running_window(size, len(task_list), year, month)
    lines = tsv_lines(task_list, size, year, month, loaded["rnd"], running)
    fast = load_records_fast(db_url, table, lines, size, workdir)
    filter_task = task_list[len(task_list) // 2]
    info = {"size": size, "year": year, "month": month, "tasks": len(task_list), "table": table,
            "filter_task_id": filter_task[0], "filter_task_dept": filter_task[2],
            "filter_dept_id": loaded["departments"]["Ops"], "task_load_s": loaded["task_load_s"], **fast}
    info["expected"] = expected_counts(db_url, table, info["filter_task_id"], info["filter_dept_id"])
    if info["expected"]["records"] != size or info["expected"]["running"] != len(running):
        raise RuntimeError(f"loaded counts {info['expected']} do not match {size:,} records")
    info["load_s"] = round(time.monotonic() - started, 1)
    return info


# --- endpoints -------------------------------------------------------------------------------------------

def endpoints(info: dict, cursor: str | None) -> list[dict]:
    """Every call the console makes on its dashboard, records page and task page (+ the reference)."""
    e, m = info["expected"], f"year={info['year']}&month={info['month']}"
    tid, tdept, dept = info["filter_task_id"], info["filter_task_dept"], info["filter_dept_id"]
    today = datetime.now(UTC).date()
    week_start = today.toordinal() - WEEK_DAYS + 1
    previous = (info["year"], info["month"] - 1) if info["month"] > 1 else (info["year"] - 1, 12)
    reaches_back = WEEK_DAYS and datetime.fromordinal(week_start).month != today.month
    rows = [
        ("ref", "permissions", "GET /permissions (reference)", "/permissions", None),
        ("shell", "userinfo", "GET /auth/userinfo", "/auth/userinfo", None),
        ("dashboard", "stats", "GET /records/stats?year&month", f"/records/stats?{m}", ("stats", e["records"])),
        *([("dashboard", "stats_prev", "GET /records/stats previous month (7-day card)",
            f"/records/stats?year={previous[0]}&month={previous[1]}", ("stats", 0))] if reaches_back else []),
        ("dashboard", "lag", f"GET /records?triggerType=SCHEDULE&size={LAG_SAMPLE}",
         f"/records?{m}&triggerType=SCHEDULE&page=1&size={LAG_SAMPLE}", ("total", e["schedule"])),
        ("dashboard", "tasks", "GET /tasks?page=1&size=1", "/tasks?page=1&size=1", ("total", e["tasks"])),
        *[("dashboard", f"tasks_s{s}", f"GET /tasks?size=1&status={s}", f"/tasks?page=1&size=1&status={s}",
           ("total", e["task_status"].get(str(s), 0))) for s in (1, 0, 2)],
        ("dashboard", "nodes", "GET /nodes", "/nodes", None),
        ("records", "page1", f"GET /records?year&month (first {PAGE_SIZE})", f"/records?{m}&page=1&size={PAGE_SIZE}",
         ("total", e["records"])),
        ("records", "page500", f"GET /records page={CURSOR_PAGE}&size={DEEP_SIZE}",
         f"/records?{m}&page={CURSOR_PAGE}&size={DEEP_SIZE}", ("total", e["records"])),
        ("records", "cursor500", f"GET /records cursor (page {CURSOR_PAGE} of {DEEP_SIZE})",
         f"/records?{m}&size={DEEP_SIZE}&cursor={quote(cursor or '', safe='')}", ("total", e["records"])),
        ("records", "rec_task", "GET /records?taskId=", f"/records?{m}&taskId={tid}&page=1&size={PAGE_SIZE}",
         ("total", e["task"])),
        ("records", "dept", "GET /records?departmentId=", f"/records?{m}&departmentId={dept}&page=1&size={PAGE_SIZE}",
         ("total", e["dept"])),
        ("records", "status2", "GET /records?status=2", f"/records?{m}&status=2&page=1&size={PAGE_SIZE}",
         ("total", e["status2"])),
        ("records", "grpc", "GET /records?taskType=GRPC", f"/records?{m}&taskType=GRPC&page=1&size={PAGE_SIZE}",
         ("total", e["grpc"])),
        ("records", "manual", "GET /records?triggerType=MANUAL",
         f"/records?{m}&triggerType=MANUAL&page=1&size={PAGE_SIZE}", ("total", e["manual"])),
        ("records", "depts", "GET /departments?tree=1", "/departments?tree=1", None),
        ("task", "task_get", "GET /tasks/{id}", f"/tasks/{tid}", None),
        ("task", "task_recent", f"GET /records?taskId&size={RECENT_RECORDS} (recent runs)",
         f"/records?{m}&taskId={tid}&page=1&size={RECENT_RECORDS}", ("total", e["task"])),
        ("task", "alerts_own", "GET /alert-policies?taskId&scope=task",
         f"/alert-policies?taskId={tid}&scope=task&page=1&size=1", None),
        ("task", "alerts_dept", "GET /alert-policies?departmentId&scope=department",
         f"/alert-policies?departmentId={tdept}&scope=department&page=1&size=1", None),
        ("api", "task_stats", "GET /records/stats?taskId= (API, not the console)",
         f"/records/stats?{m}&taskId={tid}", ("stats", e["task"])),
    ]
    return [{"group": g, "key": k, "label": label, "path": path, "expect": expect}
            for g, k, label, path, expect in rows]


def check(url: str, token: str, endpoint: dict) -> dict:
    data = check_endpoint(url + endpoint["path"], token)
    expect = endpoint["expect"]
    if expect is not None:
        kind, value = expect
        if data.get("total") != value or data.get("totalCapped"):
            raise RuntimeError(f"{endpoint['label']}: total {data.get('total')} (capped: {data.get('totalCapped')})"
                               f" != {value:,} loaded")
        if kind == "stats" and "warning" in data:
            raise RuntimeError(f"{endpoint['label']}: {data['warning']}")
    return data


def timed_get(client, url: str) -> float:
    t0 = time.perf_counter()
    resp = client.get(url)
    elapsed = (time.perf_counter() - t0) * 1000
    body = resp.json()
    if resp.status_code != 200 or body.get("code") != 0:
        raise RuntimeError(f"GET {url} answered {resp.status_code}: {str(body)[:300]}")
    return elapsed


def walk_cursor(client, base: str, month_q: str) -> tuple[str, list[int]]:
    """Follow nextCursor from page 1 to the cursor of page CURSOR_PAGE; also returns page CURSOR_PAGE's ids
    read with ?page= (the two must agree)."""
    path = f"{base}/records?{month_q}&size={DEEP_SIZE}"
    data = client.get(path).json()["data"]
    cursor = None
    for _ in range(CURSOR_PAGE - 1):
        if not data["hasMore"]:
            raise RuntimeError(f"hasMore false before page {CURSOR_PAGE}")
        cursor = data["nextCursor"]
        data = client.get(f"{path}&cursor={quote(cursor, safe='')}").json()["data"]
    cursor_ids = [r["id"] for r in data["list"]]
    page_ids = [r["id"] for r in client.get(f"{path}&page={CURSOR_PAGE}").json()["data"]["list"]]
    if len(cursor_ids) != DEEP_SIZE or cursor_ids != page_ids:
        raise RuntimeError(f"cursor page {CURSOR_PAGE} {cursor_ids[:3]}... != page={CURSOR_PAGE} {page_ids[:3]}...")
    return cursor, cursor_ids


# --- browser ---------------------------------------------------------------------------------------------

BROWSER_PAGES = {
    # the task count, the month's executions, the lag sample and the top failing tasks are on screen (and the
    # figures of the "today / last 7 days" cards, where the build has them)
    "dashboard": ("dashboard", """(want) => {
        const text = (s) => document.querySelector(s)?.textContent ?? '';
        const recent = [...document.querySelectorAll('[data-testid^="stat-"][data-testid$="-executions"]')];
        const ok = text('[data-testid="stat-tasks"] .value').trim() === String(want.tasks)
          && text('[data-testid="stat-success-rate"] .sub').includes(String(want.records))
          && new RegExp('(^|[^0-9])' + want.lag + ' samples').test(text('[data-testid="stat-lag"] .sub'))
          && document.querySelectorAll('[data-testid="top-failing"] tbody tr').length > 0
          && recent.every((el) => /\\d/.test(el.textContent));
        return ok ? performance.now() : false;
    }"""),
    # the first rows and the exact total ("load more" build: record-total's data-total; before: the pager)
    "records": ("records", """(want) => {
        const rows = document.querySelectorAll('[data-testid="record-table"] tbody tr').length;
        const el = document.querySelector('[data-testid="record-total"]');
        const total = el ? el.getAttribute('data-total')
          : (document.querySelector('.el-pagination__total')?.textContent ?? '').replace(/[^0-9]/g, '');
        return rows >= Math.min(want.pageSize, want.records) && total === String(want.records)
          ? performance.now() : false;
    }"""),
    "task": (None, """(want) => {
        const name = document.querySelector('[data-testid="task-detail-name"]')?.textContent ?? '';
        const rows = document.querySelectorAll('[data-testid="task-records"] tbody tr').length;
        return name.trim().length > 0 && rows >= Math.min(want.recent, want.taskRecords) ? performance.now() : false;
    }"""),
}


def e2e_chromium() -> tuple[str, list[str]]:
    """``CHROMIUM`` and ``CHROMIUM_ARGS`` of tests/e2e/conftest.py, read from its source: importing the conftest
    would pull in the test fixtures (and Django models) it imports."""
    import ast

    found = {}
    tree = ast.parse((ROOT / "tests" / "e2e" / "conftest.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in ("CHROMIUM", "CHROMIUM_ARGS")):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found.get("CHROMIUM", "/usr/bin/chromium"), list(found.get("CHROMIUM_ARGS", ["--headless", "--no-sandbox"]))


def browser_times(web_url: str, info: dict, password: str, out_dir: Path, repeats: int) -> dict:
    """ms from navigation start to data visible, per console page (full page loads, logged in)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.console import Console

    chromium_path, chromium_args = e2e_chromium()

    want = {"tasks": info["expected"]["tasks"], "records": info["expected"]["records"],
            "taskRecords": info["expected"]["task"], "lag": LAG_SAMPLE, "pageSize": PAGE_SIZE,
            "recent": RECENT_RECORDS}
    base = web_url + "/web/"
    results: dict = {}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=chromium_args)
        try:
            context = chromium.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1440, "height": 900})
            context.set_default_timeout(60_000)
            page = context.new_page()
            console = Console(page=page, base=base, screenshots=out_dir, enabled=False)
            console.open("login")
            console.login("admin", password)
            for name, (route, predicate) in BROWSER_PAGES.items():
                path = route or f"tasks/{info['filter_task_id']}"
                shot = out_dir / f"records_scale-{name}-{human(info['size'])}.png"
                times = []
                try:
                    for _ in range(repeats):
                        page.goto(base + path, wait_until="commit")
                        handle = page.wait_for_function(predicate, arg=want, polling="raf", timeout=30_000)
                        times.append(round(handle.json_value(), 1))
                except Exception as exc:  # noqa: BLE001 - recorded, the other pages still run
                    page.screenshot(path=str(shot), full_page=True)
                    results[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}", "ms": times,
                                     "screenshot": str(shot.relative_to(ROOT))}
                    log(f"    chromium {name}: data not visible ({results[name]['error'][:120]}); see {shot}")
                    continue
                page.screenshot(path=str(shot), full_page=True)
                results[name] = {"ms": times, "median_ms": round(statistics.median(times), 1), "max_ms": max(times),
                                 "screenshot": str(shot.relative_to(ROOT))}
                log(f"    chromium {name}: data visible after {times} ms")
            console.assert_healthy()
            context.close()
        finally:
            chromium.close()
    return results


# --- one size --------------------------------------------------------------------------------------------

def measure_size(db, cache, info: dict, db_url: str, args, wrk: str, logs: Path, browser: bool) -> dict:
    import httpx

    from tests.platform import ADMIN_PASSWORD, WebProcess, manage, platform_env

    size = info["size"]
    out: dict = {"size": size, "loadavg_start": os.getloadavg()}
    env = platform_env(db_url, DJS_REDIS_URL=cache.url, DJS_SERVER_WORKERS=str(WORKERS),
                       DJS_SERVER_THREADS=str(THREADS), DJS_TIMEZONE="UTC", DJS_AUTH_JWT_EXPIRE_HOURS="24",
                       DJS_LOG_LEVEL="WARNING")
    cache.flushall()
    manage(env, "migrate", "--noinput", "-v0")  # a reused database gets the migrations added since its load
    finished = size - info["expected"]["running"]
    month_key = info["year"] * 100 + info["month"]
    kept = None
    if args.keep_rollups:
        # Rollups built by an earlier run (and carried forward by migrations) are kept when the month is built
        # and its department x month cells count exactly the finished records loaded.
        (state,), (total,) = admin_sql(db_url, f"SELECT state FROM record_rollup_month WHERE month = {month_key}",
                                       "SELECT COALESCE(SUM(count), 0) FROM record_rollup WHERE grain = 4 AND "
                                       f"period = '{info['year']:04d}-{info['month']:02d}-01'")
        kept = bool(state) and state[0] == "built" and int(total[0]) == finished
        log(f"[{human(size)}] --keep-rollups: month {state[0] if state else 'missing'}, department x month cells "
            f"count {int(total[0]):,} of {finished:,}: {'kept' if kept else 'rebuilding'}")
    if kept:
        out["rebuild_s"] = None
    else:
        log(f"[{human(size)}] rebuild_rollups --year {info['year']} --month {info['month']}")
        t0 = time.monotonic()
        result = manage(env, "rebuild_rollups", "--year", str(info["year"]), "--month", str(info["month"]),
                        timeout=3600)
        out["rebuild_s"] = round(time.monotonic() - t0, 1)
        # The summary line ("... built from N finished records ..."); rebuild_rollups prints more after it.
        last = next(line for line in reversed(result.stdout.strip().splitlines()) if "built from" in line)
        log(f"[{human(size)}]   {last} (command wall {out['rebuild_s']}s)")
        built = int(re.search(r"built from ([\d,]+) finished", last).group(1).replace(",", ""))
        if built != finished:
            raise RuntimeError(f"rebuild counted {built:,} finished records, expected {finished:,}")
    # InnoDB recalculates a table's statistics in the background some seconds after 10 % of it changed; the
    # restart below would drop that pending recalculation and leave the rollup tables planned as empty.
    admin_sql(db_url, "ANALYZE TABLE record_rollup, record_rollup_cost, record_rollup_month")
    counts, costs = admin_sql(db_url, "SELECT grain, COUNT(*) FROM record_rollup GROUP BY grain",
                              "SELECT grain, COUNT(*) FROM record_rollup_cost GROUP BY grain")
    out["rollup_rows"] = {"record_rollup": {int(g): n for g, n in counts},
                          "record_rollup_cost": {int(g): n for g, n in costs}}
    log(f"[{human(size)}]   rollup rows by grain (1 dept x day, 2 task x month, 3 task x day, 4 dept x month): "
        f"counts {out['rollup_rows']['record_rollup']}, cost buckets {out['rollup_rows']['record_rollup_cost']}")
    db.restart()  # every size starts from an empty buffer pool

    out["gunicorn_log"] = str((logs.parent / f"{logs.name}-gunicorn-{human(size)}.log").relative_to(ROOT))
    with WebProcess(env, ROOT / out["gunicorn_log"]) as web:
        reply = httpx.post(web.url + "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                           timeout=30).json()
        if reply.get("code") != 0:
            raise RuntimeError(f"login failed: {reply}")
        token = reply["data"]["token"]
        month_q = f"year={info['year']}&month={info['month']}"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            t0 = time.monotonic()
            cursor, _ = walk_cursor(client, web.url, month_q)
            out["cursor_walk_s"] = round(time.monotonic() - t0, 1)
            log(f"[{human(size)}] cursor of page {CURSOR_PAGE}: walked {CURSOR_PAGE - 1} nextCursor links in "
                f"{out['cursor_walk_s']}s; its ids equal page={CURSOR_PAGE}'s")
            eps = endpoints(info, cursor)
            rows = {ep["key"]: {"group": ep["group"], "label": ep["label"], "path": "/v1" + ep["path"]} for ep in eps}
            for ep in eps:  # checks + warm-up
                data = check(web.url, token, ep)
                rows[ep["key"]]["total"] = data.get("total") if isinstance(data, dict) else None
            log(f"[{human(size)}] {len(eps)} endpoints answer code 0 with the loaded totals; warm medians")
            for ep in eps:
                times = [timed_get(client, web.url + ep["path"]) for _ in range(WARM_REPEATS)]
                rows[ep["key"]]["warm_ms"] = [round(t, 1) for t in times]
                rows[ep["key"]]["median_ms"] = round(statistics.median(times), 1)

        log(f"[{human(size)}] wrk -t2 -c{args.connections} -d{args.seconds}s per endpoint")
        references = []
        middle = len(eps) // 2
        for ep in [eps[0], *eps[1:middle], eps[0], *eps[middle:], eps[0]]:
            r = run_wrk(wrk, web.url + ep["path"], token, args.connections, args.seconds)
            if r["non_2xx"] or r["socket_errors"]:
                raise RuntimeError(f"wrk {ep['label']}: {r['non_2xx']} non-2xx, {r['socket_errors']} socket errors")
            if ep is eps[0]:
                references.append(r)
                rows["permissions"].setdefault("wrk_runs", []).append(r)
            rows[ep["key"]]["wrk"] = r
            log(f"    {ep['label']:52} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:8.1f}  p99 {r['p99_ms']:8.1f} ms")
        out["reference_p99_ms"] = round(statistics.median(r["p99_ms"] for r in references), 2)
        out["reference_rps"] = round(statistics.median(r["rps"] for r in references), 1)
        rows["permissions"]["wrk"] = {**references[0], "p99_ms": out["reference_p99_ms"], "rps": out["reference_rps"]}

        if browser:
            log(f"[{human(size)}] Chromium: console pages to data visible")
            try:
                out["browser"] = browser_times(web.url, info, ADMIN_PASSWORD, ROOT / "bench" / "results",
                                               repeats=3 if args.quick else 5)
            except Exception as exc:  # noqa: BLE001 - the API figures are still worth keeping
                out["browser_error"] = f"{type(exc).__name__}: {exc}"[:2000]
                log(f"    Chromium failed: {out['browser_error']}")

        log(f"[{human(size)}] cold: MariaDB restarted before each endpoint")
        restart_s = []
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for ep in eps[1:]:
                t0 = time.monotonic()
                db.restart()
                restart_s.append(time.monotonic() - t0)
                timed_get(client, web.url + "/permissions")
                rows[ep["key"]]["cold_ms"] = round(timed_get(client, web.url + ep["path"]), 1)
        out["restart_s"] = round(statistics.mean(restart_s), 1)
        log(f"[{human(size)}]   cold done (MariaDB restart {out['restart_s']}s each)")
    out["rows"] = rows
    out["loadavg_end"] = os.getloadavg()
    return out


# --- report ----------------------------------------------------------------------------------------------

def evaluate(results: list[dict]) -> list[dict]:
    """One line per endpoint: the figures per size and each target's verdict."""
    small, large = results[0], results[-1]
    lines = []
    for key, row in large["rows"].items():
        line = {"key": key, "group": row["group"], "label": row["label"], "sizes": {}}
        for res in results:
            r = res["rows"][key]
            line["sizes"][res["size"]] = {"median_ms": r["median_ms"], "cold_ms": r.get("cold_ms"),
                                          "p99_ms": r["wrk"]["p99_ms"], "rps": r["wrk"]["rps"],
                                          "p99_limit_ms": round(TARGET_P99_FACTOR * res["reference_p99_ms"], 1)}
        if key != "permissions":
            lg, sm = line["sizes"][large["size"]], line["sizes"][small["size"]]
            verdicts = {"median": lg["median_ms"] <= TARGET_MEDIAN_MS,
                        "p99_vs_ref": lg["p99_ms"] <= lg["p99_limit_ms"]}
            line["p99_vs_ref_all_sizes"] = all(s["p99_ms"] <= s["p99_limit_ms"] for s in line["sizes"].values())
            if len(results) > 1:
                line["ratio_median"] = round(lg["median_ms"] / sm["median_ms"], 2)
                line["ratio_p99"] = round(lg["p99_ms"] / sm["p99_ms"], 2)
                verdicts["ratio_median"] = line["ratio_median"] <= TARGET_RATIO
                verdicts["ratio_p99"] = line["ratio_p99"] <= TARGET_RATIO
            line["verdicts"] = verdicts
            line["pass"] = all(verdicts.values())
        lines.append(line)
    return lines


def table(results: list[dict], lines: list[dict]) -> str:
    sizes = [r["size"] for r in results]
    head = ["endpoint"] + [f"{human(s)} median / cold / p99 (req/s)" for s in sizes]
    if len(sizes) > 1:
        head += [f"ratio {human(sizes[-1])}/{human(sizes[0])} median, p99"]
    head += ["targets"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for line in lines:
        cells = [line["label"]]
        for s in sizes:
            f = line["sizes"][s]
            cold = "-" if f["cold_ms"] is None else f"{f['cold_ms']:.1f}"
            cells.append(f"{f['median_ms']:.1f} / {cold} / {f['p99_ms']:.1f} ({f['rps']:.0f})")
        if len(sizes) > 1:
            cells.append("" if "ratio_median" not in line else f"{line['ratio_median']:.2f}, {line['ratio_p99']:.2f}")
        if "verdicts" in line:
            failed = [k for k, ok in line["verdicts"].items() if not ok]
            cells.append("PASS" if not failed else "FAIL: " + ", ".join(failed))
        else:
            cells.append(f"reference (p99 limit {', '.join(str(line['sizes'][s]['p99_limit_ms']) for s in sizes)} ms)")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def machine_facts() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, check=False).stdout.strip())
    except OSError:
        commit, dirty = None, None
    if not commit:  # not a git checkout (e.g. an exported tree): say which commit it was, if told
        commit, dirty = os.environ.get("DJS_BENCH_COMMIT"), None
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None)
    mariadbd = shutil.which("mariadbd", path=os.environ.get("PATH", "") + ":/usr/sbin")
    version = subprocess.run([mariadbd, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip() if mariadbd else None
    return {"cpus": os.cpu_count(), "mem_mib": mem, "kernel": platform.release(), "mariadb": version,
            "commit": commit, "worktree_dirty": dirty, "buffer_pool": BUFFER_POOL, "server_args": SERVER_ARGS,
            "gunicorn": {"workers": WORKERS, "threads": THREADS, "worker_class": "gthread"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="record counts, comma-separated (default 100000,1000000,10000000; "
                                        "--quick: 100000)")
    parser.add_argument("--quick", action="store_true", help="short validation run: wrk 3 s, 100k unless --sizes")
    parser.add_argument("--reuse", type=Path, metavar="DIR", help="keep the MariaDB directory here between runs")
    parser.add_argument("--keep-rollups", action="store_true",
                        help="with --reuse: keep a size's rollups when its month is built and they count every "
                             "finished record loaded (no rebuild_rollups; its time is then that of the run that "
                             "built them)")
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"tasks per size (default {TASKS:,})")
    parser.add_argument("--seconds", type=int, help="wrk duration per endpoint (default 10, --quick 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium timings")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",")}) if args.sizes else \
        ([100_000] if args.quick else list(DEFAULT_SIZES))
    args.seconds = args.seconds or (3 if args.quick else 10)
    wrk = shutil.which("wrk")
    if not wrk:
        fail("`wrk` is not installed: `apt-get install -y wrk` (Debian package wrk), then run again")
    browser = not args.no_browser
    if browser and not (ROOT / "web-ui" / "dist" / "index.html").is_file():
        log("web-ui/dist is missing: make web-ui-build")
        subprocess.run(["make", "web-ui-build"], cwd=ROOT, check=True)

    started = time.monotonic()
    facts = {**machine_facts(), "loadavg_start": os.getloadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    now = datetime.now(UTC)
    year, month = now.year, now.month
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"records_scale-{'quick-' if args.quick else ''}{time.strftime('%Y%m%d-%H%M%S')}.json"
    log(f"records at volume: sizes {', '.join(f'{s:,}' for s in sizes)}; {args.tasks:,} tasks; month {year}-{month:02d}; "
        f"wrk -t2 -c{args.connections} -d{args.seconds}s; MariaDB buffer pool {BUFFER_POOL}; "
        f"{facts['cpus']} CPUs, {facts['mem_mib']:,} MiB; load average {facts['loadavg_start'][0]:.2f}")
    report: dict = {"mode": "quick" if args.quick else "full", "sizes": sizes, "tasks": args.tasks,
                    "seconds": args.seconds, "connections": args.connections, "machine": facts,
                    "month": f"{year}-{month:02d}", "running_rows": RUNNING_ROWS, "loads": {}, "results": []}

    def save() -> None:
        report["wall_s"] = round(time.monotonic() - started, 1)
        report["machine"]["loadavg_end"] = os.getloadavg()
        json_path.write_text(json.dumps(report, indent=2, default=str))

    try:
        run_sizes(args, sizes, year, month, report, save, json_path, wrk, browser)
    except BaseException as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"[:4000]
        save()
        raise
    report_results(report, save, json_path, started, facts)


def run_sizes(args, sizes: list[int], year: int, month: int, report: dict, save, json_path: Path, wrk: str,
              browser: bool) -> None:
    from tests.platform import platform_env

    with tempfile.TemporaryDirectory(prefix="djs-bench-records-") as tmp:
        workdir = Path(tmp)
        server = KeptMariaDB(args.reuse.resolve(), durable=True, server_args=SERVER_ARGS) if args.reuse else None
        db_context = services.mariadb(durable=True, server_args=SERVER_ARGS) if server is None else server
        with db_context as db, services.redis() as cache:
            marker_path = (args.reuse.resolve() / MARKER) if args.reuse else None
            marker = json.loads(marker_path.read_text()) if marker_path and marker_path.is_file() else {}
            log(f"MariaDB on :{db.port} ({db.datadir}), Redis on :{cache.port}")
            for size in sizes:
                name = f"djs_records_{size}"
                db_url = database_url(db.url, name)
                kept = marker.get(str(size))
                exists = admin_sql(db.url, f"SHOW DATABASES LIKE '{name}'")[0]
                if kept and exists and (kept["year"], kept["month"], kept["tasks"]) == (year, month, args.tasks):
                    info = kept
                    log(f"[{human(size)}] reusing {name} from {args.reuse} (loaded {kept.get('loaded_at')})")
                else:
                    admin_sql(db.url, f"DROP DATABASE IF EXISTS {name}",
                              f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                    log(f"[{human(size)}] loading {args.tasks:,} tasks and {size:,} records into {name}")
                    env = platform_env(db_url, DJS_REDIS_URL=cache.url, DJS_TIMEZONE="UTC", DJS_LOG_LEVEL="WARNING")
                    info = load_size(env, db_url, size, args.tasks, year, month, workdir)
                    info["loaded_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
                    log(f"[{human(size)}] loaded in {info['load_s']}s (records {info['record_load_s']}s, "
                        f"indexes {info['index_s']}s)")
                    if marker_path:
                        marker[str(size)] = info
                        marker_path.write_text(json.dumps(marker, indent=2))
                report["loads"][size] = {k: v for k, v in info.items() if k != "expected"} | \
                    {"expected": info["expected"], "reused": info is kept}
                res = measure_size(db, cache, info, db_url, args, wrk, json_path.with_suffix(""),
                                   browser=browser and size == sizes[-1])
                report["results"].append(res)
                save()


def report_results(report: dict, save, json_path: Path, started: float, facts: dict) -> None:
    lines = evaluate(report["results"])
    report["evaluation"] = lines
    md = table(report["results"], lines)
    report["table_md"] = md
    save()
    print()
    print(md)
    print()
    large = report["results"][-1]
    for res in report["results"]:
        load = report["loads"][res["size"]]
        print(f"{human(res['size'])}: load {load.get('load_s')}s (records {load.get('record_load_s')}s, indexes "
              f"{load.get('index_s')}s{', reused' if load['reused'] else ''}), rebuild_rollups {str(res['rebuild_s']) + 's' if res['rebuild_s'] is not None else 'kept'}, "
              f"reference p99 {res['reference_p99_ms']} ms ({res['reference_rps']} req/s), load average "
              f"{res['loadavg_start'][0]:.2f} -> {res['loadavg_end'][0]:.2f}")
    browser_pass = True
    if "browser" in large:
        for name, b in large["browser"].items():
            if "error" in b:
                browser_pass = False
                print(f"Chromium {name} at {human(large['size'])}: FAIL, data not visible ({b['error'][:200]})")
                continue
            ok = b["median_ms"] < TARGET_BROWSER_MS
            browser_pass &= ok
            print(f"Chromium {name} at {human(large['size'])}: median {b['median_ms']} ms, max {b['max_ms']} ms to "
                  f"data visible: {'PASS' if ok else 'FAIL'} (< {TARGET_BROWSER_MS:.0f} ms)")
    if "browser_error" in large:
        browser_pass = False
        print(f"Chromium at {human(large['size'])}: FAIL ({large['browser_error'][:300]})")
    failed = [line["label"] for line in lines if line.get("pass") is False]
    print(f"\nendpoints: {sum(1 for l in lines if l.get('pass'))} PASS, {len(failed)} FAIL"
          + (f" ({'; '.join(failed)})" if failed else ""))
    print(f"JSON: {json_path.relative_to(ROOT)}   wall {time.monotonic() - started:.0f}s   load average "
          f"{facts['loadavg_start'][0]:.2f} at start, {os.getloadavg()[0]:.2f} at end ({facts['cpus']} CPUs), "
          f"buffer pool {BUFFER_POOL}")
    sys.exit(0 if not failed and browser_pass else 1)


if __name__ == "__main__":
    main()
