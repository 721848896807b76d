"""Fault injection with real processes: the database restarts, a node freezes, Redis goes away.

Each test owns the servers it breaks (a private MariaDB / Redis from scripts/services.py), so the suite's
shared servers are never disturbed. Scheduler nodes are real ``runscheduler`` processes; the HTTP target
records every call with its Idempotency-Key (task id + scheduled second), so duplicates and misses are
counted from what the target actually received.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter

import httpx
import pytest

from djs_platform.config import BASE_DIR
from tests.platform import (ADMIN_PASSWORD, Nodes, WebProcess, create_tasks, fire_report, fresh_database,
                            platform_env, prepare_database, run_django, scheduler_env)
from tests.targets import HttpTarget, Respond

sys.path.insert(0, str(BASE_DIR / "scripts"))
import services  # noqa: E402  (scripts/services.py)

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]
ON_MARIADB = os.environ.get("DJS_DATABASE_URL", "").startswith("mysql")


def records_by_fire(env: dict[str, str], taken_over: bool = False) -> dict[tuple[int, int], list[tuple]]:
    """(task id, scheduled epoch s) -> [(trigger, status, executor)] from every month table (with
    ``taken_over``: a fourth item, the dead node a survivor took the never-started record over from, or "-")."""
    out = run_django(env, """
        from apps.records.models import existing_record_tables, record_model
        for name in sorted(existing_record_tables(refresh=True)):
            model = record_model(int(name[7:11]), int(name[11:13]))
            for r in model.objects.values_list("task_id", "scheduled_time", "trigger_type", "status", "executor",
                                               "taken_over_from"):
                print("REC", r[0], int(r[1].timestamp()), r[2], r[3], r[4], r[5] or "-")
    """)
    fires: dict[tuple[int, int], list[tuple]] = {}
    for line in out.splitlines():
        if not line.startswith("REC "):
            continue
        _, task_id, at, trigger, status, executor, taken_from = line.split(" ")
        row = (trigger, int(status), executor) + ((taken_from,) if taken_over else ())
        fires.setdefault((int(task_id), int(at)), []).append(row)
    return fires


@pytest.mark.mariadb_only
def test_mariadb_restart_mid_run_two_nodes_reconnect_without_duplicates(tmp_path):
    """MariaDB stops and starts again while 2 nodes run 30 every-second tasks: the nodes reconnect by
    themselves, nothing fires twice, and the seconds that fell into the outage (shorter than the misfire
    threshold) still run, late."""
    tasks = 30
    with services.mariadb() as server, HttpTarget() as target:  # TMPDIR: a unix socket path must stay short
        env = scheduler_env(server.url)  # the private server's own empty database
        prepare_database(env)
        first = create_tasks(env, tasks, target.url("/t"), start_in=4)
        nodes = Nodes(env, tmp_path)
        for i in range(2):
            nodes.start(f"node-{i}")
        time.sleep(max(0.0, first + 6 - time.time()))
        down_at = time.time()
        for name in nodes.procs:
            nodes.fault(name)  # they log the lost connection; their exit code is still checked below
        server.stop()
        time.sleep(5)  # a real outage: 5 s without a database (well under the 60 s misfire threshold)
        server.start()
        outage = time.time() - down_at
        time.sleep(max(0.0, down_at + outage + 10 - time.time()))
        assert all(proc.poll() is None for proc in nodes.procs.values()), "a node died with the database"
        stopped_at = time.time()
        nodes.stop_all()
        report = fire_report(target.requests(), tasks, first, stopped_at)
        print({**report, "outage_s": round(outage, 1)})
        assert report["duplicates"] == 0, report
        assert report["missed"] == 0, report
        late = [h for h in target.requests() if h.arrived_wall - int(h.header("Idempotency-Key").rsplit("-", 1)[1]) / 1000 > 1]
        assert outage > 1 and late, "the outage should have delayed some fires (they ran late, not never)"
        logs = "".join((tmp_path / f"node-{i}.log").read_text(errors="replace") for i in range(2))
        assert "scheduler tick failed" in logs  # they did see the outage ...
        records = records_by_fire(env)
        # ... and every fire has exactly one record, finished successfully.
        window = [(k, v) for k, v in records.items() if first <= k[1] < stopped_at - 1]
        assert window and all(len(v) == 1 and v[0][1] == 1 for _, v in window), \
            [kv for kv in window if len(kv[1]) != 1 or kv[1][0][1] != 1][:5]


@pytest.mark.mariadb_only
def test_database_outage_longer_than_node_timeout_misses_no_second_and_duplicates_share_the_key(tmp_path):
    """MariaDB is away for longer than job.nodeTimeout while 2 nodes run 20 every-second tasks (calls take
    0.8 s, so work is in flight at any moment). When it returns, each node's last heartbeat is older than the
    timeout, so a node may declare the other dead and re-run its running records (RECOVERY). The contract
    (docs/reliability.md): no scheduled second is missed; a second may reach the target twice, and then both
    calls carry the same Idempotency-Key (an idempotent target applies it once); no call carries a key of
    its own."""
    tasks, node_timeout = 20, 4
    with services.mariadb() as server, HttpTarget() as target:  # TMPDIR: a unix socket path must stay short
        env = scheduler_env(server.url, DJS_JOB_NODE_TIMEOUT=str(node_timeout), DJS_JOB_HEARTBEAT_INTERVAL="1")
        prepare_database(env)
        for i in range(tasks):
            target.on(f"/t/{i}", *[Respond(delay=0.8)] * 500)
        first = create_tasks(env, tasks, target.url("/t"), start_in=4, max_retry=1)
        nodes = Nodes(env, tmp_path)
        for i in range(2):
            nodes.start(f"node-{i}")
        time.sleep(max(0.0, first + 4 - time.time()))
        for name in nodes.procs:
            nodes.fault(name)  # they log the lost connection; their exit codes are still checked
        down_at = time.time()
        server.stop()
        time.sleep(node_timeout + 3)
        server.start()
        outage = time.time() - down_at
        time.sleep(12)  # recovery, the misfired-but-within-threshold seconds, and steady state again
        assert all(proc.poll() is None for proc in nodes.procs.values()), "a node died with the database"
        stopped_at = time.time()
        nodes.stop_all()
        hits = target.requests()
        report = fire_report(hits, tasks, first, stopped_at)
    print({**report, "outage_s": round(outage, 1)})
    assert outage > node_timeout
    assert report["missed"] == 0, report
    # Every call carries its fire's key: djs-<the path's task id>-<a whole scheduled second>; a duplicate is the
    # same key again (at most the original and one recovery), never a key of its own.
    task_of_path: dict[str, set[str]] = {}
    for hit in hits:
        _, task_id, ms = hit.header("Idempotency-Key").split("-")
        task_of_path.setdefault(hit.path.rsplit("/", 1)[1], set()).add(task_id)
        assert int(ms) % 1000 == 0, hit.header("Idempotency-Key")
    assert all(len(ids) == 1 for ids in task_of_path.values()), task_of_path
    counts = Counter(hit.header("Idempotency-Key") for hit in hits)
    assert max(counts.values()) <= 2, counts.most_common(5)


@pytest.mark.mariadb_only
def test_frozen_node_does_not_run_work_a_survivor_recovered(tmp_path):
    """SIGSTOP a node longer than nodeTimeout, then SIGCONT it. The survivor declares it dead, marks its started
    records lost and re-runs them (RECOVERY), and takes over its claimed-but-not-started records (run once, as
    first attempts). The thawed node must not start any of the fires it had claimed: it finds itself declared
    dead and drops its work (its start marks would fail: the records are no longer its own)."""
    node_timeout = 4
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url, DJS_JOB_NODE_TIMEOUT=str(node_timeout), DJS_JOB_HEARTBEAT_INTERVAL="1",
                            DJS_JOB_LOOKAHEAD="2")
        prepare_database(env)
        # 10 tasks every second, each call slow (1.5 s): at any moment the victim has calls in flight and
        # fires claimed up to 2 s ahead. max_retry=1 so a lost fire is re-run once by the survivor.
        for i in range(10):
            target.on(f"/f/{i}", *[Respond(delay=1.5)] * 500)
        first = create_tasks(env, 10, target.url("/f"), start_in=3, max_retry=1)
        nodes = Nodes(env, tmp_path)
        nodes.start("victim")
        # Frozen while alone, once it has started calls (a node slow to start on a busy machine has none at a fixed
        # time): it then holds running calls and fires claimed up to 2 s ahead that nobody else has.
        deadline = time.time() + 30
        while time.time() < first + 3.2 or len(target.requests()) < 5:
            assert time.time() < deadline, f"the victim started {len(target.requests())} calls in 30 s"
            time.sleep(0.05)
        nodes.fault("victim")
        os.killpg(nodes.procs["victim"].pid, signal.SIGSTOP)
        frozen_at = time.time()
        nodes.start("survivor")
        time.sleep(node_timeout + 5)
        os.killpg(nodes.procs["victim"].pid, signal.SIGCONT)
        thawed_at = time.time()
        time.sleep(6)
        nodes.stop_all()
        hits = target.requests()
        log = nodes.log("victim")
        records = records_by_fire(env, taken_over=True)

    assert "declared dead by a survivor" in log, log
    lost = {k: v for k, v in records.items() if any(s == 5 for _, s, _, _ in v)}
    assert lost, "the survivor should have marked the frozen node's started work lost"
    for key, rows in lost.items():
        assert sorted(t for t, _, _, _ in rows) == ["RECOVERY", "SCHEDULE"], (key, rows)
        assert [e for t, _, e, _ in rows if t == "RECOVERY"] == ["survivor"], (key, rows)
    taken = {k: v for k, v in records.items() if any(f == "victim" for _, _, _, f in v)}
    assert taken, "fires the victim claimed but had not started should have been taken over by the survivor"
    for key, rows in taken.items():
        assert [(t, e) for t, _, e, _ in rows] == [("SCHEDULE", "survivor")], (key, rows)  # one record, no RECOVERY
    # Each (task, second) reached the target at most twice: the victim's call that was in flight when it froze,
    # and the survivor's recovery; fires claimed but not started by the victim reached it exactly once.
    keys = [h.header("Idempotency-Key") for h in hits]
    counts = {k: keys.count(k) for k in set(keys)}
    assert max(counts.values()) <= 2, sorted(counts.items(), key=lambda kv: -kv[1])[:5]
    for task_id, at in taken:
        key = f"djs-{task_id}-{at * 1000}"
        assert counts.get(key) == 1, (key, counts.get(key))
    for key in [k for k, n in counts.items() if n == 2]:
        first_call, second_call = sorted((h for h in hits if h.header("Idempotency-Key") == key),
                                         key=lambda h: h.arrived_wall)
        assert first_call.arrived_wall < frozen_at + 0.5 and second_call.header("X-DJS-Recovery") == "1", key
    # The thawed victim started none of its stale work: nothing due before the freeze reached the target after the
    # thaw (the survivor had recovered all of it seconds earlier).
    stale = [h.header("Idempotency-Key") for h in hits
             if h.arrived_wall > thawed_at and int(h.header("Idempotency-Key").rsplit("-", 1)[1]) / 1000 < frozen_at]
    assert not stale, stale


def test_redis_down_refuses_tokens_with_503_unless_fail_open(tmp_path):
    """The revocation store (Redis) stops: by default every token is refused with 503/5000 (a revoked
    token must never pass); ``auth.revocationFailOpen`` accepts valid tokens instead. Redis back: normal."""
    with services.redis(base_dir=str(tmp_path)) as redis, fresh_database(tmp_path) as db_url:
        env = platform_env(db_url, DJS_REDIS_URL=redis.url)
        prepare_database(env)
        closed = WebProcess(env, tmp_path / "closed.log").start()
        opened = WebProcess({**env, "DJS_AUTH_REVOCATION_FAIL_OPEN": "true"}, tmp_path / "open.log").start()
        try:
            token = httpx.post(closed.url + "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                               timeout=10).json()["data"]["token"]
            auth = {"Authorization": f"Bearer {token}"}
            assert httpx.get(closed.url + "/tasks", headers=auth, timeout=10).status_code == 200

            redis.stop()
            down = httpx.get(closed.url + "/tasks", headers=auth, timeout=10)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == 5000 and "revocation" in down.json()["message"].lower(), down.text
            assert httpx.get(opened.url + "/tasks", headers=auth, timeout=10).status_code == 200

            redis.start()
            assert httpx.get(closed.url + "/tasks", headers=auth, timeout=10).status_code == 200
        finally:
            closed.stop()
            opened.stop()
