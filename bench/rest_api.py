#!/usr/bin/env python
"""REST API throughput: gunicorn (production profile: MariaDB + Redis) measured with ``wrk``.

    .venv/bin/python bench/rest_api.py [--quick] [--tasks N] [--records N] [--seconds S] [--connections C]

Starts a throwaway MariaDB (durable redo log) and Redis, migrates + bootstraps a fresh schema, loads
``--tasks`` tasks in several departments and ``--records`` execution records into the current month's
table (multi-row INSERTs through MySQLdb, not the ORM) and builds their rollups (``manage.py
rebuild_rollups``), starts gunicorn with the production defaults
(``configs/config.yaml``: 2 workers x 8 threads, gthread), logs in as admin and runs
``wrk -t2 -c<C> -d<S>s --latency --timeout 10s`` against each list endpoint. Prints req/s, p50, p99 and
non-2xx per endpoint (any non-2xx or socket error is a failure: exit status 1) and keeps JSON (with the
load average, since other work on the box skews the figures) under bench/results/ (git-ignored). Not a
test: apart from the 200 checks nothing asserts.

``--quick``: 1,000 tasks / 100,000 records, 5 s per endpoint (about 50 s in all). Default: 10,000 tasks /
1,000,000 records, 15 s per endpoint (about 3 minutes). Needs the Debian package ``wrk``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from calendar import monthrange
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("DJS_ADMIN_PASSWORD", "Bench-Admin-Passw0rd")

import services  # noqa: E402  (scripts/services.py: throwaway MariaDB and Redis)

# Production-profile web settings (configs/config.yaml server.workers / server.threads): what a 2-core box
# runs by default. platform_env() would otherwise pin the test values (1 x 4).
WORKERS, THREADS = 2, 8
WRK_THREADS = 2
# Departments: HQ (seeded) > Ops, Sales, R&D; Ops > Ops-EU, Ops-US; R&D > Platform, Data. Skewed weights
# so some departments own many tasks and some few.
DEPARTMENTS = [("Ops", None, 30), ("Sales", None, 10), ("R&D", None, 15), ("Ops-EU", "Ops", 12),
               ("Ops-US", "Ops", 12), ("Platform", "R&D", 15), ("Data", "R&D", 6)]
# (status, weight): mostly successes, a realistic share of failures and the rarer states.
RECORD_STATUSES = [(1, 800), (2, 120), (0, 10), (3, 20), (4, 30), (5, 20)]
INSERT_ROWS = 2000          # rows per multi-row INSERT statement
COMMIT_ROWS = 50_000        # rows per transaction
PROGRESS_ROWS = 250_000


def fail(message: str) -> None:
    print(f"rest_api bench: {message}", file=sys.stderr)
    sys.exit(2)


def sql_str(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def sql_time(moment: datetime | None) -> str:
    return "NULL" if moment is None else moment.strftime("'%Y-%m-%d %H:%M:%S.%f'")


def connect(db_url: str, **options):
    """MySQLdb connection + cursor in UTC; ``options`` go to ``MySQLdb.connect`` (e.g. ``local_infile=1``)."""
    import MySQLdb

    p = urlparse(db_url)
    conn = MySQLdb.connect(host=p.hostname, port=p.port or 3306, user=p.username, passwd=p.password or "",
                           db=p.path.lstrip("/"), charset="utf8mb4", autocommit=False, **options)
    cur = conn.cursor()
    cur.execute("SET time_zone='+00:00'")
    return conn, cur


def insert_rows(conn, cur, table: str, columns: list[str], rows, label: str) -> int:
    """Multi-row INSERTs of already-rendered ``(v1, v2, ...)`` tuples; a commit every COMMIT_ROWS."""
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    batch: list[str] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) == INSERT_ROWS:
            cur.execute(head + ",".join(batch))
            count += len(batch)
            batch.clear()
            if count % COMMIT_ROWS == 0:
                conn.commit()
            if count % PROGRESS_ROWS == 0:
                print(f"    {label}: {count:,}", flush=True)
    if batch:
        cur.execute(head + ",".join(batch))
        count += len(batch)
    conn.commit()
    return count


def load_tasks(env: dict[str, str], db_url: str, tasks: int, year: int, month: int) -> dict:
    """Departments and the month table through Django (few rows, DDL kept identical to the app's), then
    ``tasks`` tasks with multi-row INSERTs. Returns the month table, the department ids by name, the tasks as
    ``(id, name, department_id, task_type)`` and the random generator to continue with (``rnd``)."""
    from tests.platform import run_django

    out = run_django(env, f"""
        import json
        from apps.departments.models import Department
        from apps.records.models import ensure_record_table
        hq = Department.objects.filter(parent__isnull=True).order_by("id").first()
        made = {{None: hq}}
        for name, parent, _ in {DEPARTMENTS!r}:
            made[name] = Department.objects.create(name=name, parent=made[parent], description=name + " team")
        model = ensure_record_table({year}, {month})
        print(json.dumps({{"departments": {{n: d.pk for n, d in made.items() if n}}, "hq": hq.pk,
                           "table": model._meta.db_table}}))
    """)
    meta = json.loads(out.strip().splitlines()[-1])
    dept_ids = [meta["departments"][name] for name, _, _ in DEPARTMENTS] + [meta["hq"]]
    dept_weights = [w for _, _, w in DEPARTMENTS] + [5]
    rnd = random.Random(20240601)
    now = datetime.now(timezone.utc).replace(tzinfo=None)

    conn, cur = connect(db_url)
    cur.execute("SET unique_checks=0, foreign_key_checks=0")

    # --- tasks ---------------------------------------------------------------------------------------
    task_columns = ["name", "description", "department_id", "task_type", "cron_expression", "timezone", "url",
                    "http_method", "headers", "body", "fallback_url", "grpc_service", "grpc_method", "grpc_params",
                    "fallback_grpc_service", "fallback_grpc_method", "timeout", "max_retry", "retry_interval",
                    "concurrency_policy", "misfire_policy", "status", "retry_count", "last_execute_time",
                    "next_execute_time", "version", "kill_seq", "creator_id", "create_time", "update_time"]
    crons = ["*/5 * * * *", "0 * * * *", "*/15 * * * *", "0 3 * * *", "30 2 * * 1-5", "0 */6 * * *",
             "*/30 * * * * *", "0 0 1 * *"]
    services_ = ["billing", "orders", "reports", "inventory", "search", "mailer", "audit", "etl"]
    task_depts = rnd.choices(dept_ids, weights=dept_weights, k=tasks)

    def task_rows():
        for i in range(tasks):
            svc = services_[i % len(services_)]
            grpc = i % 5 == 4
            status = rnd.choices([1, 0, 2], weights=[85, 12, 3])[0]
            created = now - timedelta(days=rnd.randint(1, 400), seconds=rnd.randint(0, 86399))
            nxt = now + timedelta(seconds=rnd.randint(1, 86400)) if status else None
            last = now - timedelta(seconds=rnd.randint(1, 86400 * 3))
            if grpc:
                url = body = fallback = headers = None
                gsvc, gmethod = f"10.0.{i % 250}.{i % 7 + 10}:50051/{svc}.v1.{svc.title()}Service", "Run"
                gparams = json.dumps({"batch": i % 100, "region": ["eu", "us", "ap"][i % 3]})
                fgsvc = fgmethod = None
            else:
                url = f"https://{svc}.internal.example.com/api/jobs/{i}"
                body = json.dumps({"job": f"{svc}-{i}", "dryRun": False}) if i % 3 else None
                fallback = f"https://{svc}-dr.internal.example.com/api/jobs/{i}" if i % 7 == 0 else None
                headers = json.dumps({"X-Team": svc, "X-Job": str(i)})
                gsvc = gmethod = gparams = fgsvc = fgmethod = None
            yield "(" + ",".join([
                sql_str(f"{svc}-job-{i:05d}"), sql_str(f"{svc} job {i}" if i % 2 else None), str(task_depts[i]),
                sql_str("GRPC" if grpc else "HTTP"), sql_str(crons[i % len(crons)]),
                sql_str(["UTC", "Asia/Shanghai", "Europe/Berlin"][i % 3]), sql_str(url),
                sql_str("GET" if grpc else ["POST", "GET", "PUT"][i % 3]), sql_str(headers), sql_str(body),
                sql_str(fallback), sql_str(gsvc), sql_str(gmethod), sql_str(gparams), sql_str(fgsvc),
                sql_str(fgmethod), str(rnd.choice([5, 10, 30, 60])), str(rnd.choice([0, 0, 1, 3])),
                str(rnd.choice([0, 5, 30])), sql_str(rnd.choice(["allow", "allow", "forbid", "replace"])),
                sql_str(rnd.choice(["skip", "skip", "fire_once", "fire_all"])), str(status), "0",
                sql_time(last), sql_time(nxt), str(rnd.randint(1, 50)), "0", "NULL", sql_time(created),
                sql_time(created + timedelta(days=rnd.randint(0, 30))),
            ]) + ")"

    t0 = time.monotonic()
    insert_rows(conn, cur, "task", task_columns, task_rows(), "tasks")
    task_seconds = time.monotonic() - t0
    cur.execute("SELECT id, name, department_id, task_type FROM task ORDER BY id")
    task_list = list(cur.fetchall())
    conn.close()
    return {"table": meta["table"], "departments": meta["departments"], "hq": meta["hq"], "dept_ids": dept_ids,
            "task_list": task_list, "rnd": rnd, "task_load_s": round(task_seconds, 1)}


#: Columns of a month table that ``record_values`` fills, in its order.
RECORD_COLUMNS = ["task_id", "task_name", "department_id", "task_type", "trigger_type", "scheduled_time",
                  "start_time", "end_time", "status", "success", "status_code", "response", "error", "cost_time",
                  "retry_times", "used_fallback", "executor", "create_time", "update_time"]
RECORD_RESPONSES = ['{"ok":true}', '{"ok":true,"processed":128}', "accepted", None]
RECORD_ERRORS = {2: ["HTTP 500 from target", "timeout after 30s", "connection refused", "HTTP 503 from target"],
                 3: ["killed by admin"], 4: ["skipped: previous run still running (forbid)"],
                 5: ["lost: node node-2 stopped heartbeating"]}


def record_values(task_list: list[tuple], records: int, year: int, month: int, rnd: random.Random,
                  statuses: list[tuple[int, int]] = RECORD_STATUSES):
    """``records`` execution records as tuples of values (RECORD_COLUMNS order; None = NULL): the tasks of
    ``task_list`` (``(id, name, department_id, task_type)``) in turn, each task's runs spread evenly over the
    month with jitter, statuses drawn with ``statuses`` weights."""
    month_start = datetime(year, month, 1)
    month_seconds = monthrange(year, month)[1] * 86400
    status_values = [s for s, _ in statuses]
    status_weights = [w for _, w in statuses]
    per_task = -(-records // len(task_list))
    slot = month_seconds / per_task  # each task's runs are spread evenly over the month, with jitter
    choices = rnd.choices(status_values, weights=status_weights, k=records)
    for n in range(records):
        k, t = divmod(n, len(task_list))
        task_id, name, dept, ttype = task_list[t]
        status = choices[n]
        trigger = "SCHEDULE" if n % 50 else ("MANUAL" if n % 100 else "RETRY")
        offset = k * slot + (t * 7919 % max(1, int(slot) - 120))  # distinct per task: unique key holds
        scheduled = month_start + timedelta(seconds=int(offset), microseconds=0)
        cost = int(rnd.expovariate(1 / 180)) + 3
        start = scheduled + timedelta(milliseconds=rnd.randint(1, 400))
        end = None if status == 0 else start + timedelta(milliseconds=cost)
        success = {1: 1, 2: 0}.get(status)
        code = {1: 200, 2: rnd.choice([500, 503, None])}.get(status)
        yield (task_id, name, dept, ttype, trigger, scheduled, start, end, status, success, code,
               RECORD_RESPONSES[n % 4] if status == 1 else None,
               rnd.choice(RECORD_ERRORS[status]) if status in RECORD_ERRORS else None,
               None if status == 0 else cost, (n % 11 == 0) + (n % 37 == 0), int(n % 97 == 0),
               f"node-{n % 3 + 1}", scheduled, end or start)


def sql_value(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return sql_str(value)
    if isinstance(value, datetime):
        return sql_time(value)
    return str(int(value))


def load_data(env: dict[str, str], db_url: str, tasks: int, records: int, year: int, month: int) -> dict:
    """Departments and the month table through Django (few rows, DDL kept identical to the app's), then
    tasks and records with multi-row INSERTs."""
    from tests.platform import manage

    started = time.monotonic()
    loaded = load_tasks(env, db_url, tasks, year, month)
    task_list = loaded["task_list"]

    conn, cur = connect(db_url)
    cur.execute("SET unique_checks=0, foreign_key_checks=0")
    rows = ("(" + ",".join(map(sql_value, values)) + ")"
            for values in record_values(task_list, records, year, month, loaded["rnd"]))
    t0 = time.monotonic()
    insert_rows(conn, cur, loaded["table"], RECORD_COLUMNS, rows, f"records into {loaded['table']}")
    record_seconds = time.monotonic() - t0
    cur.execute(f"ANALYZE TABLE task, {loaded['table']}")
    cur.fetchall()
    conn.commit()
    conn.close()
    # Rows inserted behind the scheduler's back have no rollups yet, and record-list totals and
    # /records/stats read the rollups (docs/records.md): build them as an operator would.
    t0 = time.monotonic()
    manage(env, "rebuild_rollups", "--year", str(year), "--month", str(month), timeout=3600)
    rollup_seconds = time.monotonic() - t0
    filter_task = task_list[len(task_list) // 2][0]
    return {"table": loaded["table"], "departments": len(loaded["dept_ids"]), "tasks": len(task_list),
            "records": records, "filter_task_id": filter_task, "task_load_s": loaded["task_load_s"],
            "record_load_s": round(record_seconds, 1), "rollup_s": round(rollup_seconds, 1),
            "load_s": round(time.monotonic() - started, 1)}


# --- wrk ---------------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return round(float(number) * _UNITS[unit], 2)


def parse_wrk(output: str) -> dict:
    def find(pattern: str, default: str | None = None) -> str | None:
        match = re.search(pattern, output, re.MULTILINE)
        return match.group(1) if match else default

    rps = find(r"^Requests/sec:\s+([\d.]+)")
    if rps is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(rps),
        "p50_ms": _ms(find(r"^\s+50%\s+(\S+)")),
        "p75_ms": _ms(find(r"^\s+75%\s+(\S+)")),
        "p90_ms": _ms(find(r"^\s+90%\s+(\S+)")),
        "p99_ms": _ms(find(r"^\s+99%\s+(\S+)")),
        "requests": int(find(r"^\s+(\d+) requests in")),
        "non_2xx": int(find(r"Non-2xx or 3xx responses:\s+(\d+)", "0")),
        "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0,
    }


def run_wrk(wrk: str, url: str, token: str, connections: int, seconds: int) -> dict:
    import subprocess

    cmd = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-H", f"Authorization: Bearer {token}", url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr}")
    return parse_wrk(result.stdout)


def single_requests(base: str, token: str, paths: list[str], repeats: int = 5) -> dict[str, float]:
    """Median wall time (ms) of ``repeats`` sequential requests per path on one keep-alive connection, after
    one warm-up each, before any load: what one caller waits with the server otherwise idle."""
    import statistics

    import httpx

    medians = {}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for path in paths:
            client.get(base + path).raise_for_status()
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                client.get(base + path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            medians[path] = round(statistics.median(times), 2)
    return medians


def check_endpoint(url: str, token: str) -> dict:
    """One request before wrk: 200, envelope code 0 (and warms the worker)."""
    import httpx

    resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    body = resp.json()
    if resp.status_code != 200 or body.get("code") != 0:
        raise RuntimeError(f"GET {url} answered {resp.status_code}: {str(body)[:300]}")
    return body["data"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 tasks / 100,000 records, 5 s per endpoint")
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--records", type=int)
    parser.add_argument("--seconds", type=int, help="wrk duration per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16 = 2 x 8 threads)")
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"gunicorn workers (default {WORKERS})")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"threads per worker (default {THREADS})")
    args = parser.parse_args()
    tasks = args.tasks or (1_000 if args.quick else 10_000)
    records = args.records or (100_000 if args.quick else 1_000_000)
    seconds = args.seconds or (5 if args.quick else 15)
    wrk = shutil.which("wrk")
    if not wrk:
        fail("`wrk` is not installed: `apt-get install -y wrk` (Debian package wrk), then run again")

    import httpx

    from tests.platform import ADMIN_PASSWORD, WebProcess, fresh_database, platform_env, prepare_database

    started = time.monotonic()
    load_before = os.getloadavg()
    now = datetime.now(timezone.utc)
    year, month = now.year, now.month
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="djs-bench-api-") as tmp, services.mariadb(durable=True) as db, \
            services.redis() as cache, fresh_database(Path(tmp), db.url) as db_url:
        # One login serves every wrk run, so the access token must outlive the run: pin the lifetime (24 h,
        # the configs/config.yaml default) rather than depend on the config file; a check after the last
        # run proves the token was still accepted.
        env = platform_env(db_url, DJS_REDIS_URL=cache.url, DJS_SERVER_WORKERS=str(args.workers),
                           DJS_SERVER_THREADS=str(args.threads), DJS_TIMEZONE="UTC",
                           DJS_AUTH_JWT_EXPIRE_HOURS="24", DJS_LOG_LEVEL="WARNING")
        print(f"... MariaDB + Redis up ({time.monotonic() - started:.0f}s); migrate + bootstrap", flush=True)
        prepare_database(env)
        print(f"... loading {tasks:,} tasks and {records:,} records", flush=True)
        load = load_data(env, db_url, tasks, records, year, month)
        print(f"    loaded in {load['load_s']}s (tasks {load['task_load_s']}s, records {load['record_load_s']}s, "
              f"{records / max(load['record_load_s'], 0.001):,.0f} rows/s; rollups rebuilt in {load['rollup_s']}s)",
              flush=True)
        with WebProcess(env, Path(tmp) / "gunicorn.log") as web:
            reply = httpx.post(web.url + "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                               timeout=30).json()
            if reply.get("code") != 0:
                raise RuntimeError(f"login failed: {reply}")
            token = reply["data"]["token"]
            month_q = f"year={year}&month={month}"
            endpoints = [
                ("GET /v1/health", "/health", None),
                ("GET /v1/permissions", "/permissions", None),
                ("GET /v1/tasks", "/tasks", tasks),
                ("GET /v1/tasks?size=100", "/tasks?size=100", tasks),
                ("GET /v1/records", f"/records?{month_q}", records),
                ("GET /v1/records?taskId=…", f"/records?{month_q}&taskId={load['filter_task_id']}", None),
                ("GET /v1/records?status=2", f"/records?{month_q}&status=2", None),
            ]
            singles = single_requests(web.url, token, [path for _, path, _ in endpoints])
            for label, path, expected_total in endpoints:
                data = check_endpoint(web.url + path, token)
                if expected_total is not None and data["total"] != expected_total:
                    raise RuntimeError(f"{label}: total {data['total']} != {expected_total} loaded")
                total = f", total={data['total']:,}" if isinstance(data, dict) and "total" in data else ""
                print(f"... wrk {label} ({seconds}s, {args.connections} connections{total})", flush=True)
                result = run_wrk(wrk, web.url + path, token, args.connections, seconds)
                listed = isinstance(data, dict) and "list" in data
                result.update(endpoint=label, path="/v1" + path, total=data["total"] if listed else None,
                              rows=len(data["list"]) if listed else None, single_ms=singles[path])
                results.append(result)
            check_endpoint(web.url + "/tasks", token)  # the token is still valid after the run

    header = (f"{'endpoint':28} {'single ms':>9} {'req/s':>8} {'vs health':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'non-2xx':>8} {'sock err':>8}")
    print("\n" + header + "\n" + "-" * len(header))
    health_rps = next((r["rps"] for r in results if r["path"] == "/v1/health"), None)
    for r in results:
        r["vs_health"] = round(r["rps"] / health_rps, 3) if health_rps else None
        share = f"{r['vs_health']:.1%}" if r["vs_health"] is not None else "-"
        print(f"{r['endpoint']:28} {r['single_ms']:>9.2f} {r['rps']:>8.1f} {share:>9} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['non_2xx']:>8} {r['socket_errors']:>8}")
    ten = next((r for r in results if r["path"] == "/v1/tasks"), None)
    hundred = next((r for r in results if r["path"] == "/v1/tasks?size=100"), None)
    if ten and hundred:
        print(f"size=100 / 10 rows, single request: {hundred['single_ms'] / ten['single_ms']:.2f}x")
    failures = [r for r in results if r["non_2xx"] or r["socket_errors"]]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"rest_api-{'quick-' if args.quick else ''}{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({
        "mode": "quick" if args.quick else "full", "cpus": os.cpu_count(), "tasks": tasks, "records": records,
        "seconds": seconds, "connections": args.connections, "wrk_threads": WRK_THREADS,
        "gunicorn": {"workers": args.workers, "threads": args.threads, "worker_class": "gthread"},
        "load": load, "wall_s": round(time.monotonic() - started, 1), "results": results,
        "loadavg_start": round(load_before[0], 2), "loadavg_end": round(os.getloadavg()[0], 2),
    }, indent=2))
    print(f"\nJSON: {path.relative_to(ROOT)}   wall {time.monotonic() - started:.0f}s   load average "
          f"{load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end ({os.cpu_count()} CPUs)")
    if failures:
        print("FAILED: non-2xx responses or socket errors on " + ", ".join(r["endpoint"] for r in failures),
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
