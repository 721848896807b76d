"""Load: many concurrent API clients against gunicorn while a scheduler node keeps firing.

One fresh database of the backend under test, a private Redis (token revocation and cache, as in
production), gunicorn with the production settings (``configs/gunicorn.conf.py``: 2 workers x 8 threads),
one ``runscheduler`` node and a loopback HTTP target that records every fire.

1. Idle: the node runs ``FIRES`` every-second tasks for ``IDLE`` seconds with no API traffic; the lag
   (arrival at the target - scheduled second) of those fires gives the idle p99.
2. Load: ``wrk`` (``tests/soak.lua``) keeps ``CLIENTS`` connections busy for ``SECONDS`` on the console's
   read routes with the admin's token, while the node goes on firing.

Expected: every API answer is a 200 (no 5xx, no socket error, no timeout), every fire of both windows
arrives exactly once at the offered rate, and under load every fire still arrives within its second. The
lag ratio (p99 under load / idle p99) is printed, and for runs of 60 s or more with the scheduler on its own
CPU it must be at most 2; docs/reliability.md keeps the measured figures.

Placement: with two or more CPUs the scheduler side (the node and this process, which hosts the target) runs
on the last CPU and the API side (gunicorn, wrk, the test MariaDB server, Redis) on the others, as in a
deployment that gives scheduler nodes their own CPU (docs/operations.md); ``DJS_TEST_SOAK_SHARED=1`` lets
everything share every core instead.

``make test`` runs the short version (below); ``make soak`` the long one (``DJS_TEST_SOAK_SECONDS=60``,
``DJS_TEST_SOAK_FIRES=300``, 200 clients). Loopback only, bounded in clients and time.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx
import pytest

from djs_platform.config import BASE_DIR
from tests.platform import (ADMIN_PASSWORD, Nodes, WebProcess, create_tasks, fire_report, fresh_database,
                            prepare_database, run_django, scheduler_env)
from tests.targets import HttpTarget

sys.path.insert(0, str(BASE_DIR / "scripts"))
import services  # noqa: E402  (scripts/services.py)

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

SECONDS = int(os.environ.get("DJS_TEST_SOAK_SECONDS") or 12)
FIRES = int(os.environ.get("DJS_TEST_SOAK_FIRES") or 100)
CLIENTS = int(os.environ.get("DJS_TEST_SOAK_CLIENTS") or 200)
IDLE = int(os.environ.get("DJS_TEST_SOAK_IDLE_SECONDS") or max(8, SECONDS // 3))
#: DJS_TEST_SOAK_ASSERT_LAG=1 (`make soak`): assert the lag thresholds, which a loaded 2-core test box breaks
ASSERT_LAG = bool(os.environ.get("DJS_TEST_SOAK_ASSERT_LAG"))
#: DJS_TEST_SOAK_VERBOSE=1: per-second lag of the fires (arrival, and start from the records)
VERBOSE = bool(os.environ.get("DJS_TEST_SOAK_VERBOSE"))
START_LAGS = """
from collections import defaultdict
from apps.records.models import existing_record_tables, record_model
lags = defaultdict(list)
for name in sorted(existing_record_tables(refresh=True)):
    model = record_model(int(name[7:11]), int(name[11:13]))
    for scheduled, started in model.objects.values_list("scheduled_time", "start_time"):
        lags[int(scheduled.timestamp())].append((started - scheduled).total_seconds() * 1000)
for second in sorted(lags):
    print(f"  start {second}: lag min {min(lags[second]):6.1f} max {max(lags[second]):6.1f} ms")
"""


#: The scheduler side (node + the target it calls) on its own core, the API side (gunicorn, wrk, MariaDB,
#: Redis) on the other: a node deployed with a CPU of its own, as docker-compose and docs/operations.md advise.
#: DJS_TEST_SOAK_SHARED=1 lets every process share every core (the co-located worst case).
CPUS = sorted(os.sched_getaffinity(0))
ISOLATE = len(CPUS) >= 2 and not os.environ.get("DJS_TEST_SOAK_SHARED")
SCHEDULER_CPUS, API_CPUS = ({CPUS[-1]}, set(CPUS[:-1])) if ISOLATE else (set(CPUS), set(CPUS))


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for tid in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{tid}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def pin(pid: int, cpus: set[int], descendants: bool = True) -> None:
    """Every thread of ``pid`` (and of its descendants) onto ``cpus``; threads started later inherit it."""
    for proc in process_tree(pid) if descendants else [pid]:
        try:
            threads = os.listdir(f"/proc/{proc}/task")
        except FileNotFoundError:
            continue
        for tid in threads:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except (ProcessLookupError, PermissionError, OSError):
                pass


def listening_pid(port: int) -> int | None:
    """The process listening on a loopback TCP port (the test MariaDB server), from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                for line in fh.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except FileNotFoundError:
            continue
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[").removesuffix("]") in inodes:
                    return int(pid)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None


def read_routes() -> tuple[str, ...]:
    """The console's read routes (records of the current month), one after the other on every connection."""
    now = time.gmtime()
    month = f"year={now.tm_year}&month={now.tm_mon}"
    return ("/v1/tasks?size=20", f"/v1/records?{month}&size=20", "/v1/nodes", "/v1/auth/userinfo",
            "/v1/departments", f"/v1/records/stats?{month}", "/v1/tasks?keyword=t1&size=10", "/v1/permissions")


def wrk(url: str, token: str) -> dict:
    cmd = ["taskset", "-c", ",".join(map(str, sorted(API_CPUS))), shutil.which("wrk") or "wrk", "-t2",
           f"-c{CLIENTS}", f"-d{SECONDS}s", "--timeout", "30s",
           "-s", str(BASE_DIR / "tests" / "soak.lua"), "-H", f"Authorization: Bearer {token}", url,
           "--", *read_routes()]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 60)
    assert result.returncode == 0, result.stderr
    out = {"statuses": {}, "raw": result.stdout}
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["STATUS"]:
            out["statuses"][int(parts[1])] = int(parts[2])
        elif parts[:1] == ["ERRORS"]:
            out["errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, parts[1:])))
        elif parts[:1] == ["LATENCY"]:
            out["latency_ms"] = dict(zip(("p50", "p99", "max"), (int(v) / 1000 for v in parts[1:])))
    assert "errors" in out and "latency_ms" in out, result.stdout
    return out


def test_api_load_leaves_the_scheduler_on_time(tmp_path):
    assert shutil.which("wrk"), "wrk (Debian package wrk) is needed: make test installs it as root"
    with (services.redis(base_dir=str(tmp_path)) as redis, fresh_database(tmp_path) as db_url,
          HttpTarget() as target):
        env = scheduler_env(db_url, DJS_REDIS_URL=redis.url, DJS_SERVER_WORKERS="2", DJS_SERVER_THREADS="8")
        prepare_database(env)
        web = WebProcess(env, tmp_path / "web.log").start()
        nodes = Nodes(env, tmp_path)
        database_pid = listening_pid(urlparse(db_url).port or 3306) if db_url.startswith("mysql") else None
        try:
            pin(web.proc.pid, API_CPUS)
            pin(redis.proc.pid, API_CPUS)
            if database_pid:
                pin(database_pid, API_CPUS)
            # the HTTP target's thread runs in this process (its children, gunicorn and Redis, stay where they are)
            pin(os.getpid(), SCHEDULER_CPUS, descendants=False)
            login = httpx.post(web.url + "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                               timeout=10)
            token = login.json()["data"]["token"]
            first = create_tasks(env, FIRES, target.url("/t"), start_in=4)
            pin(nodes.start("node-0").pid, SCHEDULER_CPUS)
            idle_end = first + IDLE
            time.sleep(max(0.0, idle_end + 0.5 - time.time()))
            load_start = time.time()
            api = wrk(web.url.removesuffix("/v1"), token)
            load_end = time.time()
            time.sleep(2)
            assert nodes.procs["node-0"].poll() is None, nodes.log("node-0")
            nodes.stop_all()
            if VERBOSE:  # when each fire started, from the records (start lag vs delivery lag)
                print(run_django(env, START_LAGS))
        finally:
            web.stop()
            pin(os.getpid(), set(CPUS), descendants=False)
            if database_pid:
                pin(database_pid, set(CPUS))  # the test MariaDB server is shared with the other tests
        hits = target.requests()

    def scheduled(hit) -> float:
        return int(hit.header("Idempotency-Key").rsplit("-", 1)[1]) / 1000

    idle = fire_report([h for h in hits if scheduled(h) < idle_end], FIRES, first, idle_end + 1)
    # the load window: fires scheduled from the first whole second after wrk started to the last before
    # it stopped (the first fraction of a second of the load has the connections still opening)
    start, end = int(load_start) + 1, int(load_end)
    loaded = fire_report([h for h in hits if start <= scheduled(h) < end], FIRES, start, end + 1)
    report = {"clients": CLIENTS, "seconds": SECONDS, "fires_per_s": FIRES, "idle": idle, "load": loaded,
              "cpus": {"scheduler": sorted(SCHEDULER_CPUS), "api": sorted(API_CPUS)},
              "api": {k: v for k, v in api.items() if k != "raw"}}
    report["lag_p99_ratio"] = round(loaded["lag_p99_ms"] / max(idle["lag_p99_ms"], 0.1), 2)
    print(report)
    if VERBOSE:
        by_second: dict[int, list[float]] = {}
        for h in hits:
            by_second.setdefault(int(scheduled(h)), []).append(h.arrived_wall - scheduled(h))
        for second, lags in sorted(by_second.items()):
            print(f"  {second - int(first):3d}s {'load' if start <= second < end else 'idle':4s} "
                  f"lag min {min(lags) * 1000:6.1f} max {max(lags) * 1000:6.1f} ms")

    requests = sum(api["statuses"].values())
    assert requests > 0 and set(api["statuses"]) == {200}, api["raw"]
    assert not any(api["errors"].values()), api["raw"]
    for window in (idle, loaded):
        assert window["duplicates"] == 0 and window["missed"] == 0, report
        assert window["executions_per_s"] == FIRES, report
    # The lag thresholds belong to `make soak` (DJS_TEST_SOAK_ASSERT_LAG=1, 60 s): under load every fire still runs
    # within its own second (before the next fire of its task is due), and the reliability target, lag p99 under
    # load <= 2x idle with the scheduler on its own CPU (measured 0.9-1.1x). The short run of `make test` prints
    # both and asserts what does not depend on the machine's load: every API answer, no duplicate, no miss.
    # With every process sharing every core the ratio is not met (1.6-3.0x), see docs/reliability.md "Load".
    if ASSERT_LAG:
        assert loaded["lag_max_ms"] < 1000, report
        if ISOLATE:
            assert report["lag_p99_ratio"] <= 2.0, report
