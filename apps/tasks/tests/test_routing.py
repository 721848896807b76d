"""Registry names to instances (apps/tasks/routing.py): resolution by department, route strategies, health, and
failover inside one attempt against real loopback targets (what the record and the targets would show)."""
from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from grpc_health.v1 import health_pb2

from apps.executors.registry import Instance
from apps.tasks import routing
from apps.tasks.executors import ExecutionPlan, Executors, execute
from djs_platform.egress import EgressPolicy
from tests.targets import GrpcTarget, free_port


def instance(address: str, *, name: str = "billing", kind: str = "http", department: int = 1, weight: int = 1,
             executor_id: int = 0) -> Instance:
    return Instance(executor_id=executor_id, department_id=department, name=name, kind=kind, address=address,
                    weight=weight, source="self")


def router(instances: list[Instance], parents: dict[int, int | None] | None = None, **kw) -> routing.Router:
    async def load():
        return list(instances), dict(parents or {1: None})
    return routing.Router(load, **kw)


def spec(url: str, *, strategy: str = routing.ROUND_ROBIN, department: int = 1, **kw) -> ExecutionPlan:
    values = dict(task_id=7, task_type="HTTP", url=url, http_method="POST", headers={}, body="{}",
                  fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                  fallback_grpc_service=None, fallback_grpc_method=None, timeout=5, max_retry=0,
                  retry_interval=0, idempotency_key="djs-7-1700000000000", department_id=department,
                  route_strategy=strategy)
    values.update(kw)
    return ExecutionPlan.of(**values)


def executors() -> Executors:
    return Executors(http_workers=4, grpc_workers=4,
                     egress=EgressPolicy(allow_cidrs=["127.0.0.0/8", "::1/128"]))


def run(specs: list[ExecutionPlan], the_router: routing.Router):
    async def main():
        async with executors() as ex:
            return [await execute(s, ex, the_router) for s in specs]
    return asyncio.run(main())


def refused() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --- names --------------------------------------------------------------------------------------------------------

def test_a_target_names_the_registry_only_in_the_name_forms():
    assert routing.named_grpc("orders.Billing") == routing.NamedTarget("grpc", "orders.Billing")
    assert routing.named_grpc("10.0.0.5:50051/orders.Billing") is None
    assert routing.named_grpc("orders/Billing") is None
    assert routing.named_grpc("nohost") is None  # a bare word is a forgotten address, not a service name
    target = routing.named_http("executor://billing-http/run/now?x=1")
    assert target == routing.NamedTarget("http", "billing-http", "/run/now?x=1")
    assert target.address("http://10.0.0.5:8080/") == "http://10.0.0.5:8080/run/now?x=1"
    assert routing.named_http("executor://billing?x=1").address("http://h:1") == "http://h:1?x=1"
    assert routing.named_http("https://billing/run") is None
    assert routing.NamedTarget("grpc", "orders.Billing").address("[::1]:50051") == "[::1]:50051/orders.Billing"
    assert routing.executor_url_problem("executor://bad name/x")
    assert routing.executor_url_problem("executor:///x")
    assert routing.executor_url_problem("executor://billing/x") is None


# --- strategies ---------------------------------------------------------------------------------------------------

def picks(strategy: str, instances: list[Instance], n: int, *, task_id: int = 1, in_flight=None, seed=1) -> list[str]:
    rotation, rng = routing.SmoothRoundRobin(), random.Random(seed)
    return [routing.order_instances(strategy, ("k",), instances, task_id=task_id, rotation=rotation,
                                    in_flight=in_flight or {}, rng=rng)[0].address for _ in range(n)]


def test_round_robin_is_smooth_and_weighted():
    weighted = [instance("a", weight=5, executor_id=1), instance("b", executor_id=2), instance("c", executor_id=3)]
    assert "".join(picks(routing.ROUND_ROBIN, weighted, 7)) == "aabacaa"  # nginx's smooth sequence
    even = [instance(x, executor_id=i) for i, x in enumerate("xyz")]
    assert Counter(picks(routing.ROUND_ROBIN, even, 30)) == {"x": 10, "y": 10, "z": 10}


def test_random_follows_the_weights():
    weighted = [instance("heavy", weight=9, executor_id=1), instance("light", weight=1, executor_id=2)]
    counts = Counter(picks(routing.RANDOM, weighted, 2000))
    assert 1650 < counts["heavy"] < 1950 and counts["heavy"] + counts["light"] == 2000


def test_first_takes_the_first_registered_instance():
    assert set(picks(routing.FIRST, [instance("b", executor_id=2), instance("a", executor_id=1)], 5)) == {"a"}


def test_consistent_hash_keeps_each_task_on_one_instance_and_moves_only_the_departed_share():
    four = [instance(f"i{n}", executor_id=n) for n in range(4)]
    placement = {task: picks(routing.CONSISTENT_HASH, four, 3, task_id=task) for task in range(200)}
    assert all(len(set(p)) == 1 for p in placement.values())  # the same instance every time
    before = {task: p[0] for task, p in placement.items()}
    assert len(set(before.values())) == 4  # and the tasks spread over all four
    after = {task: picks(routing.CONSISTENT_HASH, four[:3], 1, task_id=task)[0] for task in range(200)}
    moved = {task for task in before if before[task] != after[task]}
    assert moved == {task for task in before if before[task] == "i3"}


def test_least_busy_picks_the_instance_with_the_fewest_calls_in_flight():
    three = [instance(x, executor_id=i) for i, x in enumerate("abc")]
    assert set(picks(routing.LEAST_BUSY, three, 4, in_flight={"a": 3, "b": 1, "c": 2})) == {"b"}
    assert Counter(picks(routing.LEAST_BUSY, three, 30)) == {"a": 10, "b": 10, "c": 10}  # ties: round robin


# --- resolution and health ----------------------------------------------------------------------------------------

def test_names_resolve_in_the_tasks_department_then_its_ancestors_never_a_sibling():
    # 1 is the top, 2 and 3 its children (siblings), 4 below 2.
    tree = {1: None, 2: 1, 3: 1, 4: 2}
    the_router = router([instance("http://top", department=1), instance("http://two", department=2),
                         instance("http://three", department=3, name="only-in-3")], tree)
    target = routing.named_http("executor://billing/x")

    async def resolve(department: int, name: routing.NamedTarget = target):
        try:
            return [p.instance for p in await the_router.route(name, department, routing.FIRST, 1)]
        except routing.NoLiveExecutor as exc:
            return str(exc)
    assert asyncio.run(resolve(4)) == ["http://two"]      # nearest ancestor with the name
    assert asyncio.run(resolve(2)) == ["http://two"]      # own department first
    assert asyncio.run(resolve(3)) == ["http://top"]      # a sibling's entry is not inherited
    only_in_3 = routing.named_http("executor://only-in-3/x")
    assert asyncio.run(resolve(2, only_in_3)) == "no live executor for only-in-3"
    assert asyncio.run(resolve(3, only_in_3)) == ["http://three"]


def test_an_instance_is_skipped_after_three_connection_failures_until_a_check_passes():
    healthy = {"http://a": False}

    async def check(kind, address, name):
        return healthy.get(address, True)
    the_router = router([instance("http://a", executor_id=1), instance("http://b", executor_id=2)], check=check)
    target = routing.named_http("executor://billing/x")

    async def scenario():
        seen = []
        for _ in range(3):  # "a" fails to connect three times (it is first for the FIRST strategy)
            pick = (await the_router.route(target, 1, routing.FIRST, 1))[0]
            the_router.begin(pick)
            the_router.end(pick, unreachable=pick.instance == "http://a")
            seen.append(pick.instance)
        skipped = [p.instance for p in await the_router.route(target, 1, routing.FIRST, 1)]
        still_down = await the_router.check_health()
        healthy["http://a"] = True
        back = await the_router.check_health()
        again = [p.instance for p in await the_router.route(target, 1, routing.FIRST, 1)]
        return seen, skipped, still_down, back, again
    seen, skipped, still_down, back, again = asyncio.run(scenario())
    assert seen == ["http://a"] * 3
    assert skipped == ["http://b"]
    assert still_down == {"http://a": False}
    assert back == {"http://a": True}
    assert again == ["http://a", "http://b"]


def test_a_name_with_no_live_instance_fails_the_call_and_retries_apply():
    outcome, = run([spec("executor://billing/run", max_retry=1)], router([]))
    assert not outcome.success and outcome.error == "no live executor for billing"
    assert [a.attempt for a in outcome.attempts] == [0, 1] and outcome.instance is None


# --- calls through the router against real targets ------------------------------------------------------------------

def test_http_round_robin_spreads_calls_and_records_the_instance(http_target):
    http_target.on("/run", status=200, body="ok")
    base = http_target.base_url
    # Two registrations of the same server under different addresses: 127.0.0.1 and localhost.
    port = base.rsplit(":", 1)[1]
    the_router = router([instance(f"http://127.0.0.1:{port}", executor_id=1),
                         instance(f"http://localhost:{port}", executor_id=2)])
    outcomes = run([spec("executor://billing/run?x=1") for _ in range(6)], the_router)
    assert all(o.success for o in outcomes)
    assert Counter(o.instance for o in outcomes) == {f"http://127.0.0.1:{port}": 3, f"http://localhost:{port}": 3}
    assert [(r.path, r.query) for r in http_target.requests("/run")] == [("/run", "x=1")] * 6
    assert {r.header("Idempotency-Key") for r in http_target.requests("/run")} == {"djs-7-1700000000000"}


def test_http_failover_tries_the_next_instance_when_no_connection_comes_up(http_target):
    http_target.on("/run", status=200, body="ok")
    down = refused()
    the_router = router([instance(down, executor_id=1), instance(http_target.base_url, executor_id=2)])
    failover, plain = run([spec("executor://billing/run", strategy=routing.FAILOVER),
                           spec("executor://billing/run", strategy=routing.FIRST)], the_router)
    assert failover.success and failover.instance == http_target.base_url
    assert len(failover.attempts) == 1  # the same attempt: no retry was spent
    assert not plain.success and plain.error.startswith("connection failed") and plain.instance == down
    assert http_target.hits("/run") == 1


def test_http_failover_never_repeats_a_call_that_reached_the_target(http_target):
    http_target.on("/run", reset=True)  # the request arrives, then the connection is reset: maybe processed
    other = refused()
    the_router = router([instance(http_target.base_url, executor_id=1), instance(other, executor_id=2)])
    outcome, = run([spec("executor://billing/run", strategy=routing.FAILOVER)], the_router)
    assert not outcome.success and "connection reset or closed" in outcome.error
    assert outcome.instance == http_target.base_url and http_target.hits("/run") == 1


def test_grpc_name_routes_to_registered_instances_and_fails_over():
    with GrpcTarget() as target:
        the_router = router([instance(f"127.0.0.1:{free_port()}", name="djs.test.Target", kind="grpc", executor_id=1),
                             instance(target.address, name="djs.test.Target", kind="grpc", executor_id=2)])
        grpc_call = spec(None, task_type="GRPC", grpc_service="djs.test.Target", grpc_method="Echo",
                         grpc_params='{"message": "hi"}', strategy=routing.FAILOVER)
        outcome, = run([grpc_call], the_router)
        assert outcome.success and outcome.instance == target.address, outcome.error
        assert target.calls("Echo")[0].metadata["idempotency-key"] == "djs-7-1700000000000"


def test_grpc_health_check_follows_the_targets_health_service():
    with GrpcTarget() as target:
        async def probe():
            async with executors() as ex:
                serving = await ex.probe("grpc", target.address, "djs.test.Target")
                target.health.set("djs.test.Target", health_pb2.HealthCheckResponse.NOT_SERVING)
                not_serving = await ex.probe("grpc", target.address, "djs.test.Target")
                unknown_name = await ex.probe("grpc", target.address, "other.Service")  # falls back to ""
                nobody = await ex.probe("grpc", f"127.0.0.1:{free_port()}", "djs.test.Target")
                return serving, not_serving, unknown_name, nobody
        assert asyncio.run(probe()) == (True, False, True, False)


def test_http_health_check_is_a_tcp_connection(http_target):
    async def probe():
        async with executors() as ex:
            return (await ex.probe("http", http_target.base_url, "billing"),
                    await ex.probe("http", refused(), "billing"))
    assert asyncio.run(probe()) == (True, False)


# --- a real node, the registry table, the record ----------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_scheduled_task_calling_a_name_runs_on_a_registered_instance_and_its_record_names_it(
        node_factory, department, http_target):
    from datetime import UTC, datetime, timedelta

    from apps.departments.models import Department
    from apps.executors.models import Executor
    from tests.factories import TaskFactory
    from tests.scheduling import finished, wait_until

    http_target.on("/run", status=200, body="ok")
    child = Department.objects.create(name="routing-child", parent=department)
    sibling = Department.objects.create(name="routing-sibling", parent=department)
    now = datetime.now(UTC)
    # The parent's registration serves the child's task; the sibling's (a refused port) is never used.
    Executor.objects.create(department=department, name="billing", kind="http", address=http_target.base_url,
                            source="self", ttl_seconds=30, last_heartbeat=now)
    Executor.objects.create(department=sibling, name="billing", kind="http", address=refused(),
                            source="self", ttl_seconds=30, last_heartbeat=now)
    at = (now + timedelta(seconds=2)).replace(microsecond=0)
    task = TaskFactory(department=child, url="executor://billing/run?from=child", status=2,
                       cron_expression="0 0 1 1 *", next_execute_time=at, route_strategy="failover")
    node_factory()
    record, = wait_until(finished(task, 1), timeout=15)
    assert record.success and record.instance == http_target.base_url, record.error
    hit, = http_target.requests("/run")
    assert hit.query == "from=child"
    assert hit.header("Idempotency-Key") == f"djs-{task.pk}-{int(at.timestamp() * 1000)}"
