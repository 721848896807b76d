"""``manage.py runplatform`` as an operator stops it (docs/security.md finding 14, docs/operations.md).

The reported scenario: SIGTERM to runplatform SIGKILLed the scheduler at 25 s, the same moment the node's
drain (``job.shutdownGrace``, 25 s) gave up. A run longer than the grace stayed ``running`` and the node
``stopping``; after a restart it was recovered and re-run, so the target got the call twice. The supervisor
now waits for the drain (``shutdownGrace`` + 15 s) before it kills anything.

Each component also writes its own log file under ``log.path`` (issue 18): web.log, grpc.log, scheduler.log.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from djs_platform.config import BASE_DIR
from tests.platform import (
    Nodes,
    free_port,
    fresh_database,
    prepare_database,
    record_rows,
    run_django,
    scheduler_env,
)
from tests.targets import HttpTarget, Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]


GRACE = 8  # job.shutdownGrace (25 s by default): shorter, so the drain test waits less


def test_sigterm_lets_the_scheduler_drain_before_the_supervisor_stops_it(tmp_path):
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        target.on("/long", Respond(delay=60, body="late"))  # longer than job.shutdownGrace (8 s here)
        logs = tmp_path / "logs"
        env = scheduler_env(db_url, DJS_SERVER_PORT=str(free_port()), DJS_SERVER_HOST="127.0.0.1",
                            DJS_RPC_PORT=str(free_port()), DJS_JOB_HEARTBEAT_INTERVAL="1",
                            DJS_JOB_NODE_TIMEOUT="4", DJS_JOB_SHUTDOWN_GRACE=str(GRACE), DJS_LOG_PATH=str(logs),
                            DJS_LOG_MAX_AGES="3")  # a typo: each component names it in its log
        prepare_database(env)
        run_django(env, f"""
            from datetime import datetime, timedelta, timezone
            from apps.departments.models import Department
            from apps.tasks.models import Task
            Task.objects.create(name="long", department=Department.objects.filter(parent__isnull=True).first(),
                                task_type="HTTP", cron_expression="0 0 1 1 *", timezone="UTC",
                                url="{target.url('/long')}", http_method="GET", status=2, timeout=120,
                                max_retry=1, next_execute_time=datetime.now(timezone.utc) + timedelta(seconds=3))
        """)
        log = open(tmp_path / "platform.log", "ab")
        platform = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "runplatform"], env=env,
                                    cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            target.wait_for(1, timeout=30)  # the long call is in flight
            os.kill(platform.pid, signal.SIGTERM)
            stopped_at = time.monotonic()
            code = platform.wait(timeout=60)
        finally:
            if platform.poll() is None:
                os.killpg(platform.pid, signal.SIGKILL)
                platform.wait()
        took = time.monotonic() - stopped_at
        output = (tmp_path / "platform.log").read_text(errors="replace")
        assert code == 0, output[-3000:]
        # The node drained for its whole grace and stopped by itself, before the supervisor's own limit (grace + 15 s).
        assert GRACE <= took < GRACE + 15, (took, output[-3000:])
        (record,) = record_rows(env, "status", "trigger_type", "error")
        # Cut at the node's deadline: killed (final, not left running), as the node's shutdown says.
        assert (record["status"], record["error"]) == (3, "cancelled: scheduler node shutting down"), \
            (record, output[-3000:])
        nodes = run_django(env, "from apps.tasks.models import SchedulerNode\n"
                                "print(sorted(SchedulerNode.objects.values_list('status', flat=True)))")
        assert "stopping" not in nodes and "up" not in nodes, nodes
        # log.path: one file per role, with that role's own lines (besides the stderr captured above)
        assert sorted(p.name for p in logs.glob("*.log")) == ["grpc.log", "scheduler.log", "web.log"], output[-3000:]
        web, grpc, scheduler = ((logs / f"{role}.log").read_text() for role in ("web", "grpc", "scheduler"))
        for role, text in (("web", web), ("grpc", grpc), ("scheduler", scheduler)):
            assert f"INFO djs.logs {role} log: {logs / role}.log" in text, text  # Django's loggers reach it
            assert "WARNING djs.config configuration: environment variable DJS_LOG_MAX_AGES matches no " \
                   "configuration key, ignored (did you mean DJS_LOG_MAX_AGE?)" in text, text
        assert "Booting worker with pid" in web and "gRPC serving" not in web, web  # gunicorn's own lines too
        assert re.search(r"^\S+ \S+ \d+ INFO djs\.rpc gRPC serving .* on 127\.0\.0\.1:", grpc, flags=re.M), grpc
        assert "scheduler node" in scheduler and "started" in scheduler and "stopped" in scheduler, scheduler
        assert "cancelled" in scheduler or "draining 1 execution(s)" in scheduler, scheduler

        # A restart does not run the call again: it was not lost, the node ended it.
        restarted = Nodes(env, tmp_path)
        restarted.start("after-restart")
        time.sleep(7)  # past nodeTimeout + a heartbeat: recovery would have happened
        restarted.stop_all()
        assert [h.path for h in target.requests()] == ["/long"]
        assert len(record_rows(env, "id")) == 1
