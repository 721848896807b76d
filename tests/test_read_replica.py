"""Read replica (``database.replicaUrl``): records reads go to a healthy replica, everything else to the primary.

The real test starts its own replication pair of private MariaDB servers on loopback (primary with a binary
log, replica with its own server id, read-only), migrates the primary with the replica configured and drives
one long-lived Django process through the replica's states: replicating, SQL thread stopped, replicating
again, delayed by more than ``database.replicaMaxLagSeconds``, and stopped. Rows written on the replica alone
(as its root, bypassing replication) show which server answered a read.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from djs_platform.config import BASE_DIR
from djs_platform.dbrouter import ReadReplicaRouter, replica_verdict
from tests.platform import manage, platform_env

sys.path.insert(0, str(BASE_DIR / "scripts"))
import services  # noqa: E402  (scripts/services.py)

#: The app user's grants on the replica, as docs/operations.md tells operators to give them.
READER = ("djs_read", "read-pw")
REPLICATOR = ("djs_repl", "repl-pw")


@pytest.mark.parametrize("status, max_lag, healthy, reason", [
    ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 0}, 5, True, "lag 0"),
    ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 5}, 5, True, "lag 5"),
    ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 6}, 5, False, "6 s > 5 s"),
    ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "No", "Seconds_Behind_Master": None}, 5, False, "SQL thread"),
    ({"Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 0}, 5, False,
     "IO thread"),
    ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": None}, 5, False, "unknown"),
    ({"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Seconds_Behind_Source": 2}, 1, False, "2 s > 1 s"),
    ({"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Seconds_Behind_Source": 1}, 1, True, "lag 1"),
    (None, 5, False, "not a replica"),
])
def test_replica_serves_reads_only_while_replicating_within_the_lag_limit(status, max_lag, healthy, reason):
    assert replica_verdict(status, max_lag)[0] is healthy
    assert reason in replica_verdict(status, max_lag)[1]


def test_router_writes_and_migrates_only_on_the_primary():
    from apps.records.models import record_model
    from apps.tasks.models import Task

    router = ReadReplicaRouter()
    record = record_model(2026, 1)(task_name="x")
    record._state.db = "replica"  # loaded from the replica: saving it still writes the primary
    assert router.db_for_write(type(record), instance=record) == "default"
    assert router.db_for_read(Task) == "default"
    assert router.allow_migrate("default", "records") and router.allow_migrate("default", "tasks")
    assert not router.allow_migrate("replica", "records") and not router.allow_migrate("replica", "tasks")


# --------------------------------------------------------------------------- the real replication pair

#: Runs in its own process with the primary and the replica configured; answers one JSON line per command.
DRIVER = textwrap.dedent("""
    import json, os, sys, time, traceback
    import django
    from djs_platform.startup import prepare
    prepare()
    django.setup()
    from datetime import datetime, timedelta, timezone
    from django.apps import apps
    from django.core.cache import cache
    from django.db import router, transaction
    from apps.accounts.models import Role, User
    from apps.departments.models import Department
    from apps.records.models import ensure_record_table, record_model
    from apps.tasks.models import Task
    from djs_platform.dbrouter import primary_reads

    Record = record_model(2026, 1)
    health = router.routers[0].health

    def seed(_):
        ensure_record_table(2026, 1)
        hq = Department.objects.filter(parent__isnull=True).order_by("id").first()
        Task.objects.create(name="primary-task", department=hq, task_type="HTTP", cron_expression="0 0 * * * *",
                            timezone="UTC", url="http://127.0.0.1:9/")
        User.objects.create(username="reader", real_name="primary-user", department=hq,
                            role=Role.objects.get(name="admin"), password="!")
        return write("from-primary-1")

    def write(name):
        n = Record.objects.using("default").count()
        record = Record.objects.create(task_id=1000 + n, task_name=name, department_id=1, task_type="HTTP",
                                       trigger_type="MANUAL", status=1,
                                       scheduled_time=datetime(2026, 1, 15, tzinfo=timezone.utc) + timedelta(seconds=n))
        return {"id": record.pk, "db": record._state.db}

    def touch(name):
        record = Record.objects.get(task_name=name)
        loaded_from = record._state.db
        record.response = "touched"
        record.save(update_fields=["response"])
        return {"loaded_from": loaded_from, "saved_to": record._state.db}

    def probe(_):
        found = list(Record.objects.all())  # each instance remembers the alias its query ran on
        out = {"records_db": sorted({r._state.db for r in found}), "records": sorted(r.task_name for r in found),
               "reason": health.reason, "checks": health.checks,
               # every other model of the app (the rollups) is routed like the month tables
               "records_app_db": sorted({router.db_for_read(m) for m in apps.get_app_config("records").get_models()})}
        with transaction.atomic():
            out["atomic"] = sorted(Record.objects.values_list("task_name", flat=True))
        with primary_reads():
            out["pinned"] = sorted(Record.objects.values_list("task_name", flat=True))
        out["other_db"], out["other"] = [], {}
        for label, qs, field in [("task", Task.objects.filter(url="http://127.0.0.1:9/"), "name"),
                                 ("user", User.objects.filter(username="reader"), "real_name"),
                                 ("department", Department.objects.filter(parent__isnull=True), "name"),
                                 ("role", Role.objects.filter(name="admin"), "description")]:
            found = list(qs)
            out["other_db"] += [r._state.db for r in found]
            out["other"][label] = [getattr(r, field) for r in found]
        out["other_db"].append(router.db_for_read(cache.cache_model_class))  # token revocation, throttles
        out["other_db"] = sorted(set(out["other_db"]))
        return out

    def burst(_):
        checks, calls, start = health.checks, 0, time.monotonic()
        while time.monotonic() - start < 1.5:
            router.db_for_read(Record)
            calls += 1
        return {"calls": calls, "checks": health.checks - checks, "seconds": time.monotonic() - start}

    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        try:
            answer = {"ok": globals()[command](arg)}
        except Exception:
            answer = {"error": traceback.format_exc()}
        print(json.dumps(answer), flush=True)
""")


class Driver:
    """The long-lived Django process above, one JSON answer per command."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER], env=env, cwd=BASE_DIR, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)

    def __call__(self, command: str, arg: str = "") -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{command} {arg}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"driver exited ({self.proc.poll()}):\n{self.log_path.read_text()[-4000:]}"
        answer = json.loads(line)
        assert "error" not in answer, answer["error"]
        return answer["ok"]

    def probe_until(self, wanted: Callable[[dict], bool], what: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            seen = self("probe")
            if wanted(seen):
                return seen
            assert time.monotonic() < deadline, f"no {what} within {timeout} s; last probe: {seen}"
            time.sleep(0.2)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def scalar(server: services.MariaDBServer, sql: str, *, check: bool = True) -> str:
    """One value, as root over the server's socket (``check=False``: "" when the statement fails)."""
    return server.sql(sql, check=check).stdout.strip()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


@pytest.fixture
def replication_pair() -> Iterator[tuple[services.MariaDBServer, services.MariaDBServer]]:
    """Primary (binary log, server id 1) and replica (server id 2, read-only) replicating from the primary's
    position after provisioning; the replica carries the least-privileged app user the docs describe."""
    with ExitStack() as stack:
        primary = stack.enter_context(services.mariadb(server_args=[
            "--log-bin=primary-bin", "--server-id=1", "--binlog-format=ROW"]))
        replica = stack.enter_context(services.mariadb(server_args=[
            "--server-id=2", "--read-only=1", "--relay-log=replica-relay"]))
        primary.sql(f"CREATE USER '{REPLICATOR[0]}'@'127.0.0.1' IDENTIFIED BY '{REPLICATOR[1]}';"
                    f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATOR[0]}'@'127.0.0.1';")
        log_file, log_pos = scalar(primary, "SHOW MASTER STATUS").split()[:2]
        replica.sql(
            f"CREATE USER '{READER[0]}'@'127.0.0.1' IDENTIFIED BY '{READER[1]}';"
            f"GRANT SELECT ON djs.* TO '{READER[0]}'@'127.0.0.1';"
            f"GRANT SLAVE MONITOR ON *.* TO '{READER[0]}'@'127.0.0.1';"
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='{REPLICATOR[0]}', "
            f"MASTER_PASSWORD='{REPLICATOR[1]}', MASTER_LOG_FILE='{log_file}', MASTER_LOG_POS={log_pos}, "
            "MASTER_CONNECT_RETRY=1;"
            "START SLAVE;")
        yield primary, replica


@pytest.mark.processes
@pytest.mark.mariadb_only
@pytest.mark.single_backend
def test_records_reads_use_the_replica_only_while_it_replicates_within_the_lag_limit(replication_pair, tmp_path):
    primary, replica = replication_pair
    env = platform_env(primary.url, DJS_DATABASE_REPLICA_URL=f"mysql://{READER[0]}:{READER[1]}@127.0.0.1:"
                                                                f"{replica.port}/djs",
                       DJS_DATABASE_REPLICA_MAX_LAG_SECONDS="1")
    manage(env, "migrate", "--noinput", "-v0")  # with the replica configured: only the primary is migrated
    driver = Driver(env, tmp_path / "driver.log")
    try:
        # Written through the router: the primary has it, the replica gets it (and the schema) by replication.
        assert driver("seed")["db"] == "default"
        wait_for(lambda: scalar(replica, "SELECT COUNT(*) FROM djs.record_202601 WHERE task_name='from-primary-1'",
                                check=False) == "1"
                 and scalar(replica, "SELECT COUNT(*) FROM djs.user WHERE username='reader'", check=False) == "1",
                 "replication of the seed rows")
        # Rows only the replica has (its root bypasses read_only; the replica has no binary log to pass them on).
        replica.sql("""
            INSERT INTO djs.record_202601 (id, task_id, task_name, department_id, task_type, trigger_type,
                scheduled_time, status, retry_times, used_fallback, create_time, update_time)
            VALUES (900001, 900001, 'replica-only', 1, 'HTTP', 'MANUAL', '2026-01-20 00:00:00', 1, 0, 0, NOW(), NOW());
            UPDATE djs.task SET name = 'replica-only' WHERE url = 'http://127.0.0.1:9/';
            UPDATE djs.user SET real_name = 'replica-only' WHERE username = 'reader';
            UPDATE djs.department SET name = 'replica-only' WHERE parent_id IS NULL;
            UPDATE djs.role SET description = 'replica-only' WHERE name = 'admin';
        """)
        assert scalar(primary, "SELECT COUNT(*) FROM djs.record_202601 WHERE task_name='replica-only'") == "0"

        # 1. Replicating: records reads come from the replica; everything else, and reads inside a
        #    transaction or a primary_reads() block, from the primary.
        seen = driver.probe_until(lambda p: p["records_db"] == ["replica"], "records read from the replica")
        assert seen["records"] == ["from-primary-1", "replica-only"], seen
        assert seen["records_app_db"] == ["replica"], seen
        assert seen["atomic"] == seen["pinned"] == ["from-primary-1"], seen
        assert seen["other_db"] == ["default"], seen
        assert "replica-only" not in json.dumps(seen["other"]), seen
        assert seen["other"]["task"] == ["primary-task"] and seen["other"]["user"] == ["primary-user"], seen
        # A record loaded from the replica and saved is written to the primary.
        assert driver("touch", "from-primary-1") == {"loaded_from": "replica", "saved_to": "default"}
        assert scalar(primary, "SELECT response FROM djs.record_202601 WHERE task_name='from-primary-1'") == "touched"
        # The replica is asked at most once a second, however many reads are routed.
        burst = driver("burst")
        assert burst["calls"] > 1000 and 1 <= burst["checks"] <= burst["seconds"] + 1, burst

        # 2. SQL thread stopped: the replica falls behind; reads go to the primary and see the new row.
        replica.sql("STOP SLAVE SQL_THREAD")
        assert driver("write", "from-primary-2")["db"] == "default"
        seen = driver.probe_until(lambda p: p["records_db"] == ["default"], "fallback to the primary")
        assert seen["records"] == ["from-primary-1", "from-primary-2"], seen
        assert "SQL thread not running" in seen["reason"], seen
        assert scalar(replica, "SELECT COUNT(*) FROM djs.record_202601 WHERE task_name='from-primary-2'") == "0"

        # 3. Replicating again: the replica caught up and serves records reads again.
        replica.sql("START SLAVE SQL_THREAD")
        seen = driver.probe_until(lambda p: p["records_db"] == ["replica"] and "from-primary-2" in p["records"],
                                  "return to the caught-up replica")
        assert seen["records"] == ["from-primary-1", "from-primary-2", "replica-only"], seen

        # 4. Replicating but behind: a delayed replica (MASTER_DELAY) reports the lag of the rows it holds
        #    back; past database.replicaMaxLagSeconds (1 s) it is skipped although both threads run.
        replica.sql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=30; START SLAVE;")
        driver.probe_until(lambda p: p["records_db"] == ["replica"], "replication restarted with a delay")
        driver("write", "from-primary-3")
        seen = driver.probe_until(lambda p: p["records_db"] == ["default"], "fallback on lag")
        assert "from-primary-3" in seen["records"] and "replica-only" not in seen["records"], seen
        assert "replication lag" in seen["reason"] and "> 1 s" in seen["reason"], seen
        replica.sql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE;")
        seen = driver.probe_until(lambda p: p["records_db"] == ["replica"] and "from-primary-3" in p["records"],
                                  "return after the lag")
        assert "from-primary-3" in seen["records"] and "replica-only" in seen["records"], seen

        # 5. Replica server gone: reads keep working, from the primary.
        replica.stop()
        time.sleep(1.1)  # the last healthy verdict expires
        seen = driver("probe")
        assert seen["records_db"] == ["default"], seen
        assert seen["records"] == ["from-primary-1", "from-primary-2", "from-primary-3"], seen
        assert "health check failed" in seen["reason"], seen
        assert seen["records_app_db"] == ["default"], seen
        assert seen["other_db"] == ["default"], seen
    finally:
        driver.close()
