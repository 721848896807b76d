"""Rollups == raw rows with real scheduler processes (DESIGN §14.1, docs/records.md): the multi-process part of
the rollup proof, once, on MariaDB.

A randomized mix of every-second tasks (successes, failures with retries, fallbacks, slow calls under the
forbid policy, children, hanging one-shots that get killed) runs on three ``runscheduler`` processes, while:
one node is SIGSTOPped with calls in flight (the survivors declare it dead and recover its work; when it is
thawed its late results are refused and must add nothing), another is killed with -9 mid-run, a dead node's
records wait in last month's table, and the retention prune drops an old month's raw table while the nodes
write (records.keepMonths 12: the first node drops it when it starts). Afterwards the rollups of every month with raw rows equal a recount of those rows, and the pruned
month's rollups are what they were before its raw rows went. The in-process part (both backends) is
apps/records/tests/test_rollups.py.
"""
from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.platform import (
    Nodes,
    fresh_database,
    prepare_database,
    run_django,
    scheduler_env,
)
from tests.targets import HttpTarget, Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend, pytest.mark.mariadb_only]

NODE_TIMEOUT = 4
KINDS = ("ok", "fail", "fallback", "slow", "parent")


def django_json(env: dict[str, str], code: str):
    return json.loads(run_django(env, code).strip().splitlines()[-1])


def rollups_of_month(env: dict[str, str], year: int, month: int) -> list:
    return django_json(env, f"""
        import json
        from tests.rollup_check import rolled_cells
        counts, costs = rolled_cells({{({year}, {month})}})
        print(json.dumps(sorted([str(k), v] for k, v in list(counts.items()) + list(costs.items()))))
    """)


def test_rollups_equal_raw_rows_after_a_randomized_run_with_a_frozen_a_killed_node_and_a_prune(tmp_path):
    seed = int(os.environ.get("DJS_TEST_SEED") or random.SystemRandom().randrange(1 << 30))
    rng = random.Random(seed)
    context = f"(seed {seed}; rerun with DJS_TEST_SEED={seed})"
    with fresh_database(tmp_path) as db_url, HttpTarget() as target:
        env = scheduler_env(db_url, DJS_JOB_NODE_TIMEOUT=str(NODE_TIMEOUT), DJS_JOB_HEARTBEAT_INTERVAL="1",
                            DJS_JOB_LOOKAHEAD="2", DJS_RECORDS_KEEP_MONTHS="12")
        prepare_database(env)
        plan = [(kind, rng.choice([0, 1, 2]), rng.randrange(20, 400)) for kind in KINDS
                for _ in range(rng.randint(2, 4))]
        for i, (kind, _, cost) in enumerate(plan):
            ok = Respond(body="ok", delay=cost / 1000)
            if kind in ("ok", "parent"):
                target.on(f"/t/{i}", ok)
            elif kind == "fail":
                target.on(f"/t/{i}", *[Respond(status=500) if rng.random() < 0.6 else ok for _ in range(300)])
            elif kind == "fallback":
                target.on(f"/t/{i}", status=503)
            else:
                target.on(f"/t/{i}", Respond(delay=1.5))
        target.on("/fallback", Respond(body="fallback"))
        target.on("/child", Respond(body="child"))
        target.on("/hang", Respond(hang=True))
        first = int(time.time()) + 4
        meta = django_json(env, f"""
            import json
            from datetime import datetime, timedelta, timezone
            from apps.departments.models import Department
            from apps.records.models import RecordStatus, ensure_record_table, month_of, record_model
            from apps.tasks.models import SchedulerNode, Task, TaskChild
            from tests.factories import add_record

            hq = Department.objects.filter(parent__isnull=True).order_by("id").first()
            dept = Department.objects.create(name="ops", parent=hq)
            first = datetime.fromtimestamp({first}, timezone.utc)
            now = datetime.now(timezone.utc)

            def task(name, url, **fields):
                values = dict(department=dept if len(name) % 2 else hq, task_type="HTTP",
                              cron_expression="* * * * * *", timezone="UTC", url=url, http_method="GET",
                              status=1, timeout=30, next_execute_time=first)
                values.update(fields)
                return Task.objects.create(name=name, **values)

            child = task("child", "{target.url('/child')}", cron_expression="0 0 1 1 *",
                         next_execute_time=now + timedelta(days=400))
            for i, (kind, retries, _) in enumerate({plan!r}):
                extra = {{}}
                if kind == "fallback":
                    extra["fallback_url"] = "{target.url('/fallback')}"
                if kind == "slow":
                    extra["concurrency_policy"] = "forbid"
                made = task(f"{{kind}}-{{i}}", "{target.url('/t')}/" + str(i), max_retry=retries,
                            retry_interval=0, **extra)
                if kind == "parent":
                    TaskChild.objects.create(parent=made, child=child, position=0)
            hang = [task(f"hang-{{i}}", "{target.url('/hang')}", status=2, cron_expression="0 0 1 1 *",
                         timeout=60, max_retry=1).pk for i in range(3)]

            # A node that died last month left running records in last month's table.
            local = first.astimezone(timezone.utc)
            last_month = (local.replace(day=1) - timedelta(days=1)).replace(hour=12, minute=0, second=0,
                                                                            microsecond=0)
            ghost_at = now - timedelta(minutes=5)
            SchedulerNode.objects.create(name="ghost", host="h", pid=1, started_at=ghost_at,
                                         heartbeat_at=ghost_at, status="up")
            ghost_task = task("ghost-work", "{target.url('/child')}", status=0, next_execute_time=None,
                              max_retry=1)
            ensure_record_table(*month_of(last_month))
            for s in range(3):
                at = last_month + timedelta(seconds=s)
                record_model(*month_of(at)).objects.create(
                    task_id=ghost_task.pk, task_name=ghost_task.name, department_id=ghost_task.department_id,
                    task_type="HTTP", trigger_type="SCHEDULE", scheduled_time=at, start_time=at,
                    status=RecordStatus.RUNNING, executor="ghost")

            # History older than records.keepMonths (12): the first node's retention drops its raw table.
            old = (local.replace(day=1) - timedelta(days=420)).replace(day=10, hour=8)
            for s, status in enumerate([1, 1, 2, 5, 4, 3, 1]):
                add_record(task_id=ghost_task.pk, task_name=ghost_task.name, department_id=dept.pk,
                           scheduled_time=old + timedelta(minutes=s), status=status, cost_time=10 * s + 5)
            print(json.dumps({{"hang": hang, "old": [old.year, old.month],
                              "last": [last_month.year, last_month.month]}}))
        """)
        old_year, old_month = meta["old"]
        old_rollups = rollups_of_month(env, old_year, old_month)
        assert old_rollups, "the old month's history should be in the rollups"

        nodes = Nodes(env, tmp_path)
        nodes.start("frozen")  # alone at first: it holds every call in flight when it is stopped
        time.sleep(max(0.0, first + 3.5 - time.time()))
        # A process slow to boot on a loaded box may not fire yet (stopped before it registered, nobody would declare
        # it dead): it is the only node, so the target's first call is its own; it runs a while before the stop.
        calls = target.wait_for(1, timeout=30)
        time.sleep(max(0.0, min(call.arrived for call in calls) + 1.5 - time.monotonic()))
        nodes.fault("frozen")
        os.killpg(nodes.procs["frozen"].pid, signal.SIGSTOP)
        frozen_at = time.time()
        nodes.start("survivor")
        nodes.start("killed")
        time.sleep(3.5)
        run_django(env, f"""
            from django.db.models import F
            from apps.tasks.models import Task
            Task.objects.filter(pk__in={meta['hang']!r}).update(kill_seq=F("kill_seq") + 1)
        """)
        time.sleep(1.0)
        # Kill it while it holds work (a process slow to boot on a loaded box may not have claimed yet).
        for _ in range(15):
            holding = django_json(env, """
                import json
                from apps.records.models import RecordStatus, existing_record_tables, record_model
                print(json.dumps(sum(record_model(int(n[7:11]), int(n[11:13])).objects.filter(
                    executor="killed", status=RecordStatus.RUNNING).count() for n in existing_record_tables(refresh=True))))
            """)
            if holding:
                break
            time.sleep(0.5)
        assert holding, f"the node to kill never held work {context}"
        nodes.kill9("killed")
        time.sleep(max(0.0, frozen_at + NODE_TIMEOUT + 6 - time.time()))
        os.killpg(nodes.procs["frozen"].pid, signal.SIGCONT)
        time.sleep(4)
        # Stop scheduling, cancel whatever still hangs, and let every running record finish.
        drained = django_json(env, """
            import json, time
            from django.db.models import F
            from apps.records.models import RecordStatus, existing_record_tables, record_model
            from apps.tasks.models import Task
            Task.objects.update(status=0, next_execute_time=None)
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline:
                Task.objects.update(kill_seq=F("kill_seq") + 1)
                running = sum(record_model(int(n[7:11]), int(n[11:13])).objects.filter(
                    status=RecordStatus.RUNNING).count() for n in existing_record_tables(refresh=True))
                if not running:
                    break
                time.sleep(1)
            print(json.dumps(running))
        """)
        frozen_log = (tmp_path / "frozen.log").read_text(errors="replace")
        nodes.stop_all()
        kinds = django_json(env, """
            import json
            from collections import Counter
            from apps.records.models import existing_record_tables, record_model
            seen = Counter()
            for n in existing_record_tables(refresh=True):
                for status, trigger, executor, taken in record_model(int(n[7:11]), int(n[11:13])).objects.values_list(
                        "status", "trigger_type", "executor", "taken_over_from"):
                    seen[f"{status}/{trigger}/{executor}"] += 1
                    if taken:
                        seen[f"taken/{taken}"] += 1
            print(json.dumps(seen))
        """)
        diff, months = django_json(env, """
            import json
            from tests.rollup_check import mismatch, months_with_raw_rows
            print(json.dumps([mismatch(), sorted(months_with_raw_rows())], default=str))
        """)
        after_prune = rollups_of_month(env, old_year, old_month)

    assert drained == 0, f"records still running after the drain {context}"
    assert not diff, (diff, context)
    assert [old_year, old_month] not in months, f"the nodes' retention should have dropped the old month {context}"
    assert meta["last"] in months
    # The run produced what this test is about.
    assert "declared dead by a survivor" in frozen_log, frozen_log
    assert "result(s) not stored" in frozen_log, f"the thawed node's late flush was never refused {context}"

    def seen(status: int, trigger: str | None = None, executor: str | None = None) -> int:
        return sum(n for key, n in kinds.items() if key.split("/")[0] == str(status)
                   and trigger in (None, key.split("/")[1]) and executor in (None, key.split("/")[2]))

    # The dead nodes' work was recovered: started runs lost (and re-run), never-started ones taken over (the
    # node killed -9 may hold only the latter at that instant).
    assert seen(5, executor="frozen") and seen(5, executor="ghost"), (kinds, context)
    assert seen(5, executor="killed") or kinds.get("taken/killed"), (kinds, context)
    assert seen(1, "RECOVERY") and seen(1, "CHILD") and seen(2) and seen(4) and seen(3), (kinds, context)
    assert after_prune == old_rollups, f"the pruned month's rollups changed {context}"
