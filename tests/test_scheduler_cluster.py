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
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from djs_platform.config import BASE_DIR
from tests.platform import fresh_database, manage, platform_env, prepare_database
from tests.targets import HttpTarget, Respond

pytestmark = pytest.mark.processes
ON_MARIADB = os.environ.get("DJS_DATABASE_URL", "").startswith("mysql")
RESULTS = BASE_DIR / "var" / "test-results"


def scheduler_env(db_url: str, **extra: str) -> dict[str, str]:
    return platform_env(db_url, DJS_SECURITY_EGRESS_ALLOW_CIDRS="[127.0.0.0/8]", **extra)


def run_django(env: dict[str, str], code: str) -> str:
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c", textwrap.dedent(code)],
                            env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_tasks(env: dict[str, str], count: int, url: str, start_in: float, **fields) -> float:
    """Create ``count`` every-second tasks whose first fire is a whole second ``start_in`` s from now."""
    first = int(time.time() + start_in) + 1
    run_django(env, f"""
        from datetime import datetime, timezone
        from apps.tasks.models import Task
        from apps.departments.models import Department
        dept = Department.objects.filter(parent__isnull=True).first()
        first = datetime.fromtimestamp({first}, timezone.utc)
        fields = {fields!r}
        Task.objects.bulk_create([Task(name=f"t{{i}}", department=dept, task_type="HTTP",
            cron_expression=fields.get("cron", "* * * * * *"), timezone="UTC", url="{url}/" + str(i),
            http_method="GET", status=fields.get("status", 1), timeout=30, max_retry=fields.get("max_retry", 0),
            next_execute_time=first) for i in range({count})])
    """)
    return float(first)


class Nodes:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.procs = env, log_dir, {}

    def start(self, name: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "runscheduler", "--name", name],
                                env=self.env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop_all(self, timeout: float = 40) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"{name} did not drain within {timeout}s:\n{self.log(name)}")

    def kill9(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]


@pytest.mark.parametrize("node_count", [2, 3] if ON_MARIADB else [1])
def test_every_scheduled_second_is_executed_exactly_once(tmp_path, node_count):
    tasks, duration = 200, 22
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url)
        prepare_database(env)
        first = create_tasks(env, tasks, target.url("/t"), start_in=4)
        nodes = Nodes(env, tmp_path)
        for i in range(node_count):
            nodes.start(f"node-{i}")
        time.sleep(max(0.0, first + duration - time.time()))
        stopped_at = time.time()
        nodes.stop_all()
        hits = target.requests()
        keys = Counter(h.header("Idempotency-Key") for h in hits)
        duplicates = sum(n - 1 for n in keys.values() if n > 1)
        # Every second from the first fire up to 1 s before the stop must have been called, for every task.
        seconds = range(int(first), int(stopped_at) - 1)
        expected = {f"{path_task}-{s * 1000}" for s in seconds for path_task in range(tasks)}
        seen = set()
        for hit in hits:
            task_index = hit.path.rsplit("/", 1)[1]
            seen.add(f"{task_index}-{hit.header('Idempotency-Key').rsplit('-', 1)[1]}")
        missed = len(expected - seen)
        lags = sorted(h.arrived_wall - int(h.header("Idempotency-Key").rsplit("-", 1)[1]) / 1000 for h in hits)
        report = {"backend": "mariadb" if ON_MARIADB else "sqlite", "nodes": node_count, "tasks": tasks,
                  "seconds": len(seconds), "expected": len(expected), "executed": len(hits),
                  "duplicates": duplicates, "missed": missed,
                  "lag_p50_ms": round(lags[len(lags) // 2] * 1000, 1) if lags else None,
                  "lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else None}
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"exactly-once-{report['backend']}-{node_count}.json").write_text(json.dumps(report))
        print(report)
        assert duplicates == 0, report
        assert missed == 0, report
        assert len(seconds) >= 20


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
        if ON_MARIADB:
            nodes.start("survivor")
        target.wait_for(20, timeout=20)
        nodes.kill9("victim")
        killed_at = time.monotonic()
        if not ON_MARIADB:
            nodes.start("survivor")  # embedded profile: the restarted node recovers its predecessor's work
        deadline = killed_at + node_timeout + 5
        state = {}
        while time.monotonic() < deadline:
            state = json.loads(run_django(env, """
                import json
                from apps.records.models import existing_record_tables, record_model
                rows = []
                for name in existing_record_tables(refresh=True):
                    rows += list(record_model(int(name[7:11]), int(name[11:13])).objects.values(
                        "task_id", "trigger_type", "status", "executor"))
                print(json.dumps(rows))
            """).strip().splitlines()[-1])
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
