"""Exactly once under kill -9 (DESIGN §14.2, issue 17): three ``runscheduler`` nodes on MariaDB, one killed while
it holds both kinds of work — calls in flight (a target that answers after 3 s) and fires claimed but not yet
started (its own lookahead is 4 s). What the targets received must show: every (task, scheduled second) called
at least once; a second call of a key only for work that had started before the kill, flagged
``X-DJS-Recovery: 1``; never-started fires exactly once.

Run it ten times in a row with ``make crash-cluster`` (detached, log under var/test-results/).
"""
from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from datetime import timezone
from urllib.parse import urlparse

import pytest

from djs_platform.config import BASE_DIR
from tests.platform import Nodes, create_tasks, fresh_database, prepare_database, scheduler_env
from tests.targets import HttpTarget, Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend, pytest.mark.mariadb_only]
RESULTS = BASE_DIR / "var" / "test-results"
FAST, SLOW = 24, 8          # every-second tasks: instant answers, and answers after 3 s
NODE_TIMEOUT = 5


def _query(db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import MySQLdb

    url = urlparse(db_url)
    conn = MySQLdb.connect(host=url.hostname, port=url.port or 3306, user=url.username, passwd=url.password or "",
                           db=url.path.lstrip("/"))
    try:
        cursor = conn.cursor()
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        conn.close()


def _month_tables(db_url: str) -> list[str]:
    return sorted(t for (t,) in _query(db_url, "SHOW TABLES") if re.fullmatch(r"record_\d{6}", t))


def _records(db_url: str) -> list[dict]:
    tables = _month_tables(db_url)
    columns = ("task_id", "scheduled_time", "trigger_type", "status", "executor", "start_time", "taken_over_from",
               "end_time", "update_time")
    rows = []
    for table in tables:
        rows += [dict(zip(columns, r)) for r in _query(db_url, f"SELECT {', '.join(columns)} FROM {table}")]
    return rows


def test_a_node_killed_with_work_in_flight_and_claimed_loses_nothing_and_repeats_only_started_work(tmp_path):
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url, DJS_JOB_NODE_TIMEOUT=str(NODE_TIMEOUT), DJS_JOB_HEARTBEAT_INTERVAL="1",
                            DJS_JOB_SHUTDOWN_GRACE="5")
        prepare_database(env)
        for i in range(SLOW):
            target.on(f"/slow/{i}", Respond(delay=3))
        first = create_tasks(env, FAST, target.url("/fast"), start_in=4, max_retry=1)
        first_slow = create_tasks(env, SLOW, target.url("/slow"), start_in=4, max_retry=1, prefix="slow")
        nodes = Nodes(env, tmp_path)
        nodes.start("victim", DJS_JOB_LOOKAHEAD="4")
        nodes.start("survivor-1")
        nodes.start("survivor-2")
        # Kill once the victim holds both kinds of work (checked in the database just before).
        deadline, held = first + 14, (0, 0)
        while time.time() < deadline:
            time.sleep(0.2)
            if time.time() < first + 5:
                continue
            if not _month_tables(db_url):  # a loaded box: no node has claimed anything yet
                continue
            ((unstarted, started),) = _query(db_url, _held_sql(db_url), ("victim",))
            held = (int(unstarted or 0), int(started or 0))
            if all(held):
                break
        assert all(held), f"the victim never held both kinds of work at once: {held}"
        nodes.kill9("victim")
        killed_at = time.time()
        time.sleep(max(0.0, killed_at + NODE_TIMEOUT + 9 - time.time()))
        stopped_at = time.time()
        codes = nodes.stop_all()  # the survivors exit 0 with clean logs
        rows = _records(db_url)

    hits = target.requests()
    by_key: dict[str, list] = defaultdict(list)
    for hit in sorted(hits, key=lambda h: h.arrived_wall):
        by_key[hit.header("Idempotency-Key")].append(hit)
    taken = [r for r in rows if r["taken_over_from"] == "victim"]
    lost = [r for r in rows if r["executor"] == "victim" and r["status"] == 5]
    # The unflushed window (a crash there repeats finished work): end of the run -> its result committed.
    windows = sorted((r["update_time"] - r["end_time"]).total_seconds() * 1000 for r in rows
                     if r["status"] == 1 and r["end_time"] and r["update_time"])
    report = {"hits": len(hits), "keys": len(by_key), "taken_over": len(taken), "lost": len(lost),
              "duplicates": sum(len(v) - 1 for v in by_key.values()), "killed_at": killed_at,
              "held_at_kill": held, "codes": codes,
              "flush_window_ms": {p: round(windows[min(len(windows) - 1, int(len(windows) * q))], 1)
                                  for p, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}
              if windows else {}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crash-cluster.json").write_text(json.dumps(report, default=str))
    print(report)

    assert taken, f"no never-started work was taken over: {report}"
    assert lost, f"no started work was lost: {report}"
    # Every (task, second) from the first fire to the end was called at least once.
    expected = {(f"/fast/{i}", s * 1000) for s in range(int(first), int(stopped_at) - 1) for i in range(FAST)}
    expected |= {(f"/slow/{i}", s * 1000) for s in range(int(first_slow), int(stopped_at) - 1) for i in range(SLOW)}
    seen = {(h.path, int(h.header("Idempotency-Key").rsplit("-", 1)[1])) for h in hits}
    missed = sorted(expected - seen)
    if missed:
        at_missed = {ms for _, ms in missed[:10]}
        rows_of = [r for r in rows if round(r["scheduled_time"].replace(tzinfo=timezone.utc).timestamp() * 1000)
                   in at_missed]
        raise AssertionError(f"{len(missed)} scheduled second(s) never called, e.g. {missed[:10]}; {report}; "
                             f"records of those seconds: {rows_of[:20]}")
    # A key arrives twice only for work that had started before the kill; the repeat says so.
    for key, calls in by_key.items():
        if len(calls) > 1:
            assert len(calls) == 2, (key, [(c.arrived_wall, c.headers) for c in calls])
            assert calls[0].arrived_wall < killed_at, (key, calls[0].arrived_wall, killed_at)
            assert calls[0].header("X-DJS-Recovery") is None and calls[1].header("X-DJS-Recovery") == "1", key
    # Never-started fires arrived exactly once, without the recovery flag.
    for row in taken:
        at = row["scheduled_time"].replace(tzinfo=timezone.utc)
        key = f"djs-{row['task_id']}-{int(at.timestamp() * 1000)}"
        calls = by_key.get(key, [])
        if row["status"] == 4:  # skipped by its misfire policy: never called
            assert calls == [], key
            continue
        assert len(calls) == 1 and calls[0].header("X-DJS-Recovery") is None, (key, row, len(calls))
    executors = {r["executor"] for r in rows}
    assert {"victim", "survivor-1", "survivor-2"} <= executors, executors


def _held_sql(db_url: str) -> str:
    tables = _month_tables(db_url)
    union = " UNION ALL ".join(f"SELECT start_time FROM {t} WHERE executor = %s AND status = 0" for t in tables[-1:])
    return f"SELECT SUM(start_time IS NULL), SUM(start_time IS NOT NULL) FROM ({union}) AS held"
