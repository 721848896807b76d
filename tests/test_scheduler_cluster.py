"""Scheduler processes against a live database: exactly once across nodes, recovery after kill -9.

On MariaDB: two and three `runscheduler` processes share 200 tasks firing every second for 20+ seconds.
On SQLite (the embedded profile, one node): the same workload on one node. The HTTP target in this process
records every call with its Idempotency-Key (task id + scheduled second), so duplicates and misses are
counted from what the targets actually received.
"""
from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime, timezone

import pytest

from djs_platform.config import BASE_DIR
from tests.platform import (Nodes, create_tasks, fire_report, fresh_database, prepare_database, record_rows, run_django,
                            scheduler_env)
from tests.targets import HttpTarget, Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]
ON_MARIADB = os.environ.get("DJS_DATABASE_URL", "").startswith("mysql")
RESULTS = BASE_DIR / "var" / "test-results"


@pytest.mark.parametrize("node_count", [2, 3] if ON_MARIADB else [1])
def test_every_scheduled_second_is_executed_exactly_once(tmp_path, node_count):
    tasks, duration = 200, 22
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url)
        prepare_database(env)
        first = create_tasks(env, tasks, target.url("/t"), start_in=4)
        nodes = Nodes(env, tmp_path)
        names = [f"node-{i}" for i in range(node_count)]
        for name in names:
            nodes.start(name)
        time.sleep(max(0.0, first + duration - time.time()))
        stopped_at = time.time()
        nodes.stop_all()  # every node exits 0 with no ERROR or traceback in its log
        executors = {row["executor"] for row in record_rows(env, "executor")}
        assert executors == set(names), f"records by {executors}, nodes {names}: a node did no work"
        report = fire_report(target.requests(), tasks, first, stopped_at)
        report.update(backend="mariadb" if ON_MARIADB else "sqlite", nodes=node_count)
        duplicates, missed, seconds = report["duplicates"], report["missed"], report["seconds"]
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"exactly-once-{report['backend']}-{node_count}.json").write_text(json.dumps(report))
        print(report)
        assert duplicates == 0, report
        assert missed == 0, report
        assert seconds >= 20


def test_killed_node_work_is_marked_lost_and_recovered(tmp_path):
    node_timeout = 5
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url, DJS_JOB_NODE_TIMEOUT=str(node_timeout), DJS_JOB_HEARTBEAT_INTERVAL="1")
        prepare_database(env)
        for i in range(20):
            target.on(f"/slow/{i}", Respond(delay=30), Respond(status=200, body="recovered"))
        create_tasks(env, 20, target.url("/slow"), start_in=3, cron="0 0 1 1 *", status=2, max_retry=1)
        nodes = Nodes(env, tmp_path)
        nodes.start("victim")
        target.wait_for(20, timeout=20)  # the victim claimed and is running all 20
        if ON_MARIADB:
            nodes.start("survivor")  # a second live node that must take over
            time.sleep(1)
        nodes.kill9("victim")
        killed_at = time.monotonic()
        if not ON_MARIADB:
            nodes.start("survivor")  # embedded profile: the restarted node recovers its predecessor's work
        deadline = killed_at + node_timeout + 5
        state = {}
        while time.monotonic() < deadline:
            state = record_rows(env, "task_id", "trigger_type", "status", "executor")
            victim = [r for r in state if r["executor"] == "victim"]
            recovery = [r for r in state if r["trigger_type"] == "RECOVERY"]
            if victim and all(r["status"] == 5 for r in victim) and len(recovery) == len(victim) and \
                    all(r["status"] == 1 for r in recovery):
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - killed_at
        nodes.stop_all()
        victim = [r for r in state if r["executor"] == "victim"]
        recovery = [r for r in state if r["trigger_type"] == "RECOVERY"]
        assert victim, "the victim ran nothing"
        assert all(r["status"] == 5 for r in victim), state
        assert sorted(r["task_id"] for r in recovery) == sorted(r["task_id"] for r in victim), state
        assert all(r["status"] == 1 and r["executor"] == "survivor" for r in recovery), state
        assert elapsed <= node_timeout + 5
        assert len(target.requests()) == 20 + len(victim)  # each lost fire re-run exactly once


def test_sigterm_drains_in_flight_work_then_exits(tmp_path):
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url)
        prepare_database(env)
        for i in range(5):
            target.on(f"/drain/{i}", delay=3, body="done")
        create_tasks(env, 5, target.url("/drain"), start_in=2, cron="0 0 1 1 *", status=2)
        nodes = Nodes(env, tmp_path)
        proc = nodes.start("draining")
        target.wait_for(5, timeout=20)
        signalled_at = datetime.now(timezone.utc)
        os.killpg(proc.pid, signal.SIGTERM)
        nodes.stop_all()  # exit code 0, a clean log
        rows = record_rows(env, "status", "response", "end_time")
        node = run_django(env, """
            from apps.tasks.models import SchedulerNode
            print(SchedulerNode.objects.get(name="draining").status)
        """).strip().splitlines()[-1]
        assert [r["status"] for r in rows] == [1] * 5 and all(r["response"] == "done" for r in rows), rows
        # It waited for the calls instead of dropping them: every one finished after the SIGTERM.
        assert all(datetime.fromisoformat(r["end_time"]) > signalled_at for r in rows), (signalled_at, rows)
        assert node == "down"
