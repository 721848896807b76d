#!/usr/bin/env python
"""Calibrated limits: what the machine allows a scheduler at best, measured with no scheduler at all.

    python bench/limits.py http --url http://127.0.0.1:PORT --seconds 5
    python bench/limits.py db --mysql mysql://user:pw@127.0.0.1:PORT/db --seconds 5

Each prints one JSON object (the harness runs it as a child process, so its CPU is its own).

* ``http``: N coroutines (or threads) calling the bench target in a loop: calls/s and CPU-seconds per
  1,000 calls for bare aiohttp (the ceiling), httpx's native async pool and httpx's sync client in threads
  (the alternatives docs/executors.md measured and rejected), and DJS's executor path
  (``apps.tasks.executors.execute``, aiohttp with the egress policy).
* ``db``: a bare loop doing exactly DJS's per-fire database writes (claim UPDATE of the task row, INSERT
  of the record, UPDATE of the record with the result) on scratch copies of the ``task`` and
  ``record_YYYYMM`` tables — once one statement per commit, once batched the way DJS batches (one
  compare-and-set UPDATE per claim group, a multi-row INSERT, a CASE UPDATE, 100 fires per transaction).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 50   # DJS's job.httpWorkers default


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


# --- HTTP -------------------------------------------------------------------------------------------

async def _drive(call, seconds: float, concurrency: int = CONCURRENCY) -> tuple[float, float]:
    done = 0
    stop_at = time.monotonic() + 0.3  # warm-up: open the pool's connections

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await call()
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done, cpu0, started = 0, _cpu(), time.monotonic()
    stop_at = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return done / elapsed, (_cpu() - cpu0) / max(1, done) * 1000


async def _http_case(name: str, url: str, seconds: float) -> tuple[float, float]:
    import httpx

    headers = {"X-Scheduled-Ms": "0"}
    if name == "aiohttp (bare)":
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            async def call() -> None:
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
            return await _drive(call, seconds)
    if name == "httpx native async":
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
            async def call() -> None:
                (await client.get(url, headers=headers)).raise_for_status()
            return await _drive(call, seconds)
    if name == "DJS executor":
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djs_platform.settings")
        from apps.tasks.executors import ExecutionPlan, Executors, execute
        from djs_platform.egress import EgressPolicy

        spec = ExecutionPlan.of(task_id=1, task_type="HTTP", url=url, http_method="GET", headers={}, body=None,
                             fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                             fallback_grpc_service=None, fallback_grpc_method=None, timeout=10, max_retry=0,
                             retry_interval=0, idempotency_key="djs-1-0")
        async with Executors(http_workers=CONCURRENCY, grpc_workers=1,
                             egress=EgressPolicy(allow_cidrs=["127.0.0.0/8"])) as executors:
            async def call() -> None:
                outcome = await execute(spec, executors)
                assert outcome.success, outcome.error
            return await _drive(call, seconds)
    raise ValueError(name)


def _threads_case(url: str, seconds: float) -> tuple[float, float]:
    """httpx's sync client, one shared pool, CONCURRENCY threads."""
    import httpx

    client = httpx.Client(limits=httpx.Limits(max_connections=CONCURRENCY))
    done = [0]
    lock = threading.Lock()

    def worker(stop_at: float) -> None:
        n = 0
        while time.monotonic() < stop_at:
            client.get(url, headers={"X-Scheduled-Ms": "0"}).raise_for_status()
            n += 1
        with lock:
            done[0] += n

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(worker, [time.monotonic() + 0.3] * CONCURRENCY))
        done[0], cpu0, started = 0, _cpu(), time.monotonic()
        list(pool.map(worker, [started + seconds] * CONCURRENCY))
    elapsed = time.monotonic() - started
    client.close()
    return done[0] / elapsed, (_cpu() - cpu0) / max(1, done[0]) * 1000


HTTP_CASES = ("aiohttp (bare)", "httpx native async", "httpx sync in threads", "DJS executor")


def http(url: str, seconds: float) -> dict:
    results = {}
    for name in HTTP_CASES:
        if name == "httpx sync in threads":
            rate, cpu = _threads_case(url, seconds)
        else:
            rate, cpu = asyncio.run(_http_case(name, url, seconds))
        results[name] = {"calls_per_s": round(rate, 1), "cpu_s_per_1000": round(cpu, 3)}
    return results


# --- database ---------------------------------------------------------------------------------------

def db(mysql_url: str, seconds: float, batch: int = 100, tasks: int = 1000) -> dict:
    import MySQLdb

    u = urlparse(mysql_url)
    conn = MySQLdb.connect(host=u.hostname, port=u.port, user=u.username, passwd=u.password or "",
                           db=u.path.lstrip("/"))
    cur = conn.cursor()
    cur.execute("SHOW TABLES LIKE 'record\\_______'")
    (record_table,) = cur.fetchone()
    cur.execute("DROP TABLE IF EXISTS limit_task, limit_record")
    cur.execute("CREATE TABLE limit_task LIKE task")
    cur.execute(f"CREATE TABLE limit_record LIKE {record_table}")
    cur.execute("SELECT id FROM department LIMIT 1")
    (dept,) = cur.fetchone()
    cur.executemany(
        "INSERT INTO limit_task (name, department_id, task_type, cron_expression, timezone, url, http_method, "
        "status, timeout, max_retry, retry_interval, retry_count, concurrency_policy, misfire_policy, version, "
        "kill_seq, next_execute_time, create_time, update_time) VALUES (%s,%s,'HTTP','* * * * * *','UTC',"
        "'http://127.0.0.1/x','GET',1,30,0,0,0,'allow','skip',0,0,NOW(),NOW(),NOW())",
        [(f"t{i}", dept) for i in range(tasks)])
    conn.commit()
    cur.execute("SELECT id FROM limit_task ORDER BY id")
    ids = [row[0] for row in cur.fetchall()]
    versions = {i: 0 for i in ids}
    fired = [0]
    clock = [int(time.time()) * 1000]

    def next_instant() -> str:
        clock[0] += 1000
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock[0] / 1000))

    def one_by_one(stop_at: float) -> int:
        n = 0
        while time.monotonic() < stop_at:
            for task_id in ids[:batch]:
                at = next_instant()
                cur.execute("UPDATE limit_task SET next_execute_time=%s, last_execute_time=%s, status=1, "
                            "version=version+1 WHERE id=%s AND version=%s", (at, at, task_id, versions[task_id]))
                versions[task_id] += 1
                conn.commit()
                cur.execute("INSERT INTO limit_record (task_id, task_name, department_id, task_type, trigger_type, "
                            "scheduled_time, status, executor, retry_times, used_fallback, create_time, update_time) "
                            "VALUES (%s,'t',%s,'HTTP','SCHEDULE',%s,0,'n',0,0,NOW(),NOW()) RETURNING id",
                            (task_id, dept, at))
                (rid,) = cur.fetchone()
                conn.commit()
                cur.execute("UPDATE limit_record SET status=1, success=1, status_code=200, response='ok', "
                            "start_time=NOW(), end_time=NOW(), cost_time=1, update_time=NOW() "
                            "WHERE id=%s AND status=0 AND executor='n'", (rid,))
                conn.commit()
                n += 1
        return n

    def batched(stop_at: float) -> int:
        n = 0
        while time.monotonic() < stop_at:
            group = ids[:batch]
            at = next_instant()
            where = " OR ".join("(id=%s AND version=%s)" for _ in group)
            params = [at, at]
            for task_id in group:
                params += [task_id, versions[task_id]]
                versions[task_id] += 1
            cur.execute(f"UPDATE limit_task SET next_execute_time=%s, last_execute_time=%s, status=1, "
                        f"version=version+1 WHERE {where}", params)
            values = ", ".join("(%s,'t',%s,'HTTP','SCHEDULE',%s,0,'n',0,0,NOW(),NOW())" for _ in group)
            params = []
            for task_id in group:
                params += [task_id, dept, at]
            cur.execute("INSERT INTO limit_record (task_id, task_name, department_id, task_type, trigger_type, "
                        f"scheduled_time, status, executor, retry_times, used_fallback, create_time, update_time) "
                        f"VALUES {values} RETURNING id", params)
            rids = [row[0] for row in cur.fetchall()]
            conn.commit()
            cases = " ".join("WHEN %s THEN %s" for _ in rids)
            params = []
            for rid in rids:
                params += [rid, 1]
            cur.execute(f"UPDATE limit_record SET status=1, success=1, status_code=200, response='ok', "
                        f"start_time=NOW(), end_time=NOW(), cost_time=CASE id {cases} ELSE cost_time END, "
                        f"update_time=NOW() WHERE id IN ({', '.join('%s' for _ in rids)}) AND status=0 "
                        f"AND executor='n'", params + rids)
            conn.commit()
            n += len(group)
        return n

    results = {}
    for name, loop in (("one statement per commit", one_by_one), (f"batched ({batch} fires per transaction)",
                                                                   batched)):
        cur.execute("DELETE FROM limit_record")
        conn.commit()
        cpu0, started = _cpu(), time.monotonic()
        done = loop(started + seconds)
        elapsed = time.monotonic() - started
        fired[0] = done
        results[name] = {"fires_per_s": round(done / elapsed, 1),
                         "client_cpu_s_per_1000": round((_cpu() - cpu0) / max(1, done) * 1000, 3)}
    cur.execute("DROP TABLE IF EXISTS limit_task, limit_record")
    conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["http", "db"])
    parser.add_argument("--url")
    parser.add_argument("--mysql")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.what == "http":
        print(json.dumps(http(args.url, args.seconds)))
    else:
        print(json.dumps(db(args.mysql, args.seconds)))


if __name__ == "__main__":
    main()
