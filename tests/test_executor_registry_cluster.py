"""The executor registry across real processes (issue 19, DESIGN §14.3): gunicorn, two ``runscheduler`` nodes,
three HTTP and three gRPC targets on loopback that register themselves with an API token and heartbeat like a
sidecar. What the targets received must show: round robin spreads 30 fires evenly over three instances,
consistent hashing keeps a task on one instance, a stopped gRPC instance costs a failover task no fire, an
instance whose heartbeat stops leaves the rotation within its TTL, a deregistered one gets no new calls, a
broadcast reaches every live instance exactly once per fire with its shard headers (whichever node claimed it),
a name registered in department A is invisible to a task of its sibling B, and a denied address is refused.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack

import httpx
import pytest

from tests.platform import ADMIN_PASSWORD, Nodes, WebProcess, fresh_database, prepare_database, record_rows, \
    scheduler_env
from tests.targets import GrpcTarget, HttpTarget

pytestmark = [pytest.mark.processes, pytest.mark.single_backend, pytest.mark.mariadb_only]
TTL = 3            # seconds a self-registration lives without a heartbeat
RR_TASKS = 10      # every-second round-robin tasks: 30 fires in the first three seconds


def _scheduled_s(key: str) -> int:
    """The scheduled second of an Idempotency-Key ``djs-<task>-<ms>`` (a broadcast shard's ends in ``-s<shard>``)."""
    return int(key.split("-")[2]) // 1000


def _ok(response: httpx.Response) -> dict:
    body = response.json()
    assert body["code"] == 0, (response.request.url, body)
    return body["data"]


def test_registered_instances_share_fires_by_strategy_and_follow_the_registry(tmp_path):
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_database(tmp_path))
        http = [stack.enter_context(HttpTarget()) for _ in range(3)]
        grpc = [stack.enter_context(GrpcTarget()) for _ in range(3)]
        env = scheduler_env(db_url, DJS_JOB_HEARTBEAT_INTERVAL="1")
        prepare_database(env)
        web = stack.enter_context(WebProcess(env, tmp_path / "web.log"))
        admin = stack.enter_context(httpx.Client(base_url=web.url, timeout=10))
        login = _ok(admin.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}))
        admin.headers["Authorization"] = f"Bearer {login['token']}"
        me = _ok(admin.get("/auth/userinfo"))
        top = me["departmentId"]
        a = _ok(admin.post("/departments", json={"name": "registry-a", "parentId": top, "status": 1}))["id"]
        b = _ok(admin.post("/departments", json={"name": "registry-b", "parentId": top, "status": 1}))["id"]

        # The sidecar's credential: a long-lived API token, shown once.
        token = _ok(admin.post(f"/users/{me['id']}/tokens", json={"name": "sidecar"}))["token"]
        assert token.startswith("djs_pat_")
        sidecar = stack.enter_context(httpx.Client(base_url=web.url, timeout=10,
                                                   headers={"Authorization": f"Bearer {token}"}))
        denied = sidecar.post("/executors/register", json={"name": "billing-http", "kind": "http",
                                                           "address": "http://169.254.169.254", "departmentId": a})
        assert denied.json()["code"] == 4001

        entries = {("http", t.base_url): {"name": "billing-http", "kind": "http", "address": t.base_url}
                   for t in http}
        entries |= {("grpc", t.address): {"name": "djs.test.Target", "kind": "grpc", "address": t.address}
                    for t in grpc}
        beating = set(entries)
        stop = threading.Event()

        def heartbeat() -> None:  # what `djsctl executors register --every 1s` does for each instance
            while not stop.is_set():
                for key in list(beating):
                    if key not in beating:  # stopped meanwhile
                        continue
                    sidecar.post("/executors/register", json={**entries[key], "ttlSeconds": TTL, "departmentId": a})
                stop.wait(1.0)
        for key in beating:
            _ok(sidecar.post("/executors/register", json={**entries[key], "ttlSeconds": TTL, "departmentId": a}))
        beater = threading.Thread(target=heartbeat, daemon=True)
        beater.start()
        stack.callback(stop.set)

        first = int(time.time()) + 6
        common = {"cron": "* * * * * *", "status": 1, "timezone": "UTC", "httpMethod": "POST", "body": "{}",
                  "retryCount": 0, "timeout": 5}
        for i in range(RR_TASKS):
            _ok(admin.post("/tasks/http", json={**common, "name": f"rr-{i}", "departmentId": a,
                                                "url": f"executor://billing-http/rr/{i}"}))
        _ok(admin.post("/tasks/http", json={**common, "name": "ch", "departmentId": a,
                                            "url": "executor://billing-http/ch", "routeStrategy": "consistent_hash"}))
        _ok(admin.post("/tasks/http", json={**common, "name": "bc", "departmentId": a,
                                            "url": "executor://billing-http/bc", "routeStrategy": "broadcast"}))
        _ok(admin.post("/tasks/http", json={**common, "name": "sibling", "departmentId": b,
                                            "url": "executor://billing-http/sibling"}))
        _ok(admin.post("/tasks/grpc", json={**{k: v for k, v in common.items() if k not in ("httpMethod", "body")},
                                            "name": "fo", "departmentId": a, "grpcService": "djs.test.Target",
                                            "grpcMethod": "Echo", "grpcParams": {"message": "hi"},
                                            "routeStrategy": "failover"}))
        # Tasks created now fire from their next second on; the windows below start at `first`.
        nodes = Nodes(env, tmp_path)
        nodes.start("node-1")
        nodes.start("node-2")
        stack.callback(nodes.stop_all)

        time.sleep(max(0.0, first + 3.5 - time.time()))
        changed = time.time()
        grpc[0].stop()                                    # an instance dies (its heartbeat stops with it)
        beating.discard(("grpc", grpc[0].address))
        moved = stack.enter_context(GrpcTarget())         # and comes back on another port, registering itself
        entries[("grpc", moved.address)] = {"name": "djs.test.Target", "kind": "grpc", "address": moved.address}
        _ok(sidecar.post("/executors/register", json={**entries[("grpc", moved.address)], "ttlSeconds": TTL,
                                                       "departmentId": a}))
        beating.add(("grpc", moved.address))
        beating.discard(("http", http[0].base_url))       # http[0] stops heartbeating but keeps answering
        beating.discard(("http", http[1].base_url))       # http[1]'s sidecar stops and deregisters (SIGTERM)
        _ok(sidecar.post("/executors/deregister", json={"name": "billing-http", "kind": "http",
                                                         "address": http[1].base_url, "departmentId": a}))
        end = first + 11
        time.sleep(max(0.0, end + 1.5 - time.time()))
        stop.set()
        nodes.stop_all()

        def hits(target: HttpTarget, prefix: str) -> list[int]:
            return [_scheduled_s(r.header("Idempotency-Key")) for r in target.requests()
                    if r.path.startswith(prefix)]

        # Round robin: the 30 fires of the first three seconds, 10 ± 1 per instance.
        window = range(first, first + 3)
        spread = [sum(1 for s in hits(t, "/rr/") if s in window) for t in http]
        assert sum(spread) == 3 * RR_TASKS and max(spread) - min(spread) <= 2, spread
        # Consistent hash: before the registry changed, every fire of the task went to one instance.
        before_change = [(i, s) for i, t in enumerate(http) for s in hits(t, "/ch") if s < changed - 1]
        assert before_change and len({i for i, _ in before_change}) == 1, before_change
        # Deregistered: no call for a second scheduled 2 s after the deregistration (one registry snapshot later).
        assert [s for s in hits(http[1], "/") if s >= changed + 2] == []
        # Heartbeat stopped: out of the rotation once its TTL ran out (plus a snapshot).
        # (its last heartbeat may have left up to a second after `changed`; the node's registry snapshot is up to
        # a second old; a fire is routed when it starts)
        assert [s - changed for s in hits(http[0], "/") if s >= changed + TTL + 3] == []
        settled = range(int(changed) + TTL + 3, end)
        late = Counter(s for s in hits(http[2], "/rr/") if s in settled)
        assert settled and all(late[s] == RR_TASKS for s in settled), late  # the one instance left takes them all
        # Failover: every second of the gRPC task called exactly once, also after an instance died.
        calls = defaultdict(list)
        for index, target in enumerate([*grpc, moved]):
            for call in target.calls("Echo"):
                calls[_scheduled_s(call.metadata["idempotency-key"])].append(index)
        seconds = range(first, end)
        assert [s for s in seconds if len(calls.get(s, [])) != 1] == [], dict(calls)
        assert {i for s in seconds if s >= changed + 1 for i in calls[s]} <= {1, 2, 3}
        assert any(3 in calls[s] for s in seconds), "the instance that came back on another port gets calls"
        # Broadcast: while all three were live, each got every second's fire once, as its own shard of three.
        shards = defaultdict(list)
        for index, target in enumerate(http):
            for r in target.requests():
                if r.path == "/bc":
                    key = r.header("Idempotency-Key")
                    assert key.endswith(f"-s{r.header('X-DJS-Shard-Index')}"), key
                    shards[_scheduled_s(key)].append(
                        (index, int(r.header("X-DJS-Shard-Index")), int(r.header("X-DJS-Shard-Total"))))
        for second in window:
            got = sorted(shards[second])
            assert [i for i, _, _ in got] == [0, 1, 2] and sorted(s for _, s, _ in got) == [0, 1, 2] \
                and {t for _, _, t in got} == {3}, (second, got)
        # ... and once the other two left the registry, the one live instance gets each fire alone (shard 0 of 1).
        assert all(shards[second] == [(2, 0, 1)] for second in settled), {s: shards[s] for s in settled}
        # The sibling department does not inherit A's registrations.
        assert all(hits(t, "/sibling") == [] for t in http)
        rows = record_rows(env, "task_name", "status", "error", "instance", "scheduled_time", "shard", "shard_total",
                           "executor")
        assert len({r["executor"] for r in rows}) == 2, "both nodes claimed fires"
        bc = Counter((r["scheduled_time"], r["shard"]) for r in rows if r["task_name"] == "bc")
        assert bc and set(bc.values()) == {1}  # one record per shard of each fire, whichever node claimed it
        sibling = [r for r in rows if r["task_name"] == "sibling"]
        assert sibling and {r["error"] for r in sibling} == {"no live executor for billing-http"}
        # Records name the instance that answered.
        by_instance = Counter(r["instance"] for r in rows if r["task_name"].startswith("rr-") and r["status"] == 1)
        assert set(by_instance) == {t.base_url for t in http}
