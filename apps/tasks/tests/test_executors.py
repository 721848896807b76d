"""HTTP and gRPC executors against real loopback targets (tests/targets.py): what a record would show."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import tracemalloc

import grpc
import pytest

from apps.tasks.executors import EXECUTORS_BY_KIND, RESPONSE_LIMIT, ExecutionPlan, Executors, execute, targets
from apps.tasks.executors.slots import Slots
from djs_platform.config import BASE_DIR
from djs_platform.egress import EgressPolicy
from tests.targets import GrpcTarget, Respond, free_port

KEY = "djs-42-1700000000000"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def spec(**kw) -> ExecutionPlan:
    values = dict(task_id=42, task_type="HTTP", url=None, http_method="GET", headers={}, body=None,
                  fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                  fallback_grpc_service=None, fallback_grpc_method=None, timeout=5, max_retry=0,
                  retry_interval=0, idempotency_key=KEY)
    values.update(kw)
    return ExecutionPlan.of(**values)


def grpc_spec(service: str, method: str = "Echo", params: str | None = '{"message": "hi"}', **kw) -> ExecutionPlan:
    return spec(task_type="GRPC", grpc_service=service, grpc_method=method, grpc_params=params, **kw)


def executors(http_workers: int = 4, grpc_workers: int = 4) -> Executors:
    return Executors(http_workers=http_workers, grpc_workers=grpc_workers,
                     egress=EgressPolicy(allow_cidrs=["127.0.0.0/8", "::1/128"]))


def run(*specs: ExecutionPlan, http_workers: int = 4):
    """Execute the specs concurrently on one Executors; returns the outcome(s)."""
    async def main():
        async with executors(http_workers=http_workers) as ex:
            return await asyncio.gather(*(execute(s, ex) for s in specs))
    outcomes = asyncio.run(main())
    return outcomes[0] if len(outcomes) == 1 else outcomes


@pytest.fixture(scope="module")
def grpc_target():
    with GrpcTarget() as server:
        yield server


# --- HTTP ----------------------------------------------------------------------------------------

def test_http_2xx_is_success_and_sends_task_method_headers_body_and_ours(http_target):
    http_target.on("/ok", status=201, body='{"done": true}')
    outcome = run(spec(url=http_target.url("/ok"), http_method="post", headers={"X-Team": "ops"},
                       body='{"run": 1}', traceparent=TRACEPARENT))
    assert outcome.success and outcome.error is None
    assert (outcome.status_code, outcome.response) == (201, '{"done": true}')
    assert (outcome.retry_times, outcome.used_fallback, len(outcome.attempts)) == (0, False, 1)
    request = http_target.requests("/ok")[-1]
    assert (request.method, request.body) == ("POST", b'{"run": 1}')
    assert request.header("X-Team") == "ops"
    assert request.header("Idempotency-Key") == KEY
    assert request.header("traceparent") == TRACEPARENT
    assert request.header("User-Agent") == "DJS/1.0"
    assert request.header("Content-Type") == "application/json"


def test_http_task_cannot_override_idempotency_key(http_target):
    http_target.on("/own-key", status=200)
    run(spec(url=http_target.url("/own-key"), headers={"idempotency-key": "mine", "Content-Type": "text/csv"},
             body="a,b"))
    request = http_target.requests("/own-key")[-1]
    assert request.header("Idempotency-Key") == KEY
    assert request.header("Content-Type") == "text/csv"


@pytest.mark.parametrize("status", [302, 404, 500, 503])
def test_http_non_2xx_is_failure_with_status_recorded(http_target, status):
    http_target.on(f"/status-{status}", status=status, body="nope")
    outcome = run(spec(url=http_target.url(f"/status-{status}")))
    assert not outcome.success
    assert outcome.status_code == status
    assert f"HTTP {status}" in outcome.error


def test_http_failure_is_retried_after_the_interval_then_reported(http_target):
    http_target.on("/always-500", status=500)
    outcome = run(spec(url=http_target.url("/always-500"), max_retry=2, retry_interval=0.3))
    hits = http_target.wait_for(3, "/always-500")
    assert not outcome.success and outcome.status_code == 500
    assert outcome.retry_times == 2 and len(outcome.attempts) == 3
    assert [a.attempt for a in outcome.attempts] == [0, 1, 2]
    gaps = [b.arrived - a.arrived for a, b in zip(hits, hits[1:], strict=False)]
    assert all(gap >= 0.27 for gap in gaps), gaps
    assert outcome.cost_ms >= 540


def test_http_retry_that_succeeds_ends_the_execution(http_target):
    http_target.on("/flaky", Respond(status=503), Respond(status=200, body="second time lucky"))
    outcome = run(spec(url=http_target.url("/flaky"), max_retry=5, retry_interval=0.05))
    assert outcome.success and outcome.response == "second time lucky"
    assert outcome.retry_times == 1
    assert http_target.hits("/flaky") == 2


def test_http_fallback_answers_at_once_when_primary_fails(http_target):
    http_target.on("/primary-down", status=500)
    http_target.on("/fallback-up", status=200, body="from fallback")
    started = time.monotonic()
    outcome = run(spec(url=http_target.url("/primary-down"), fallback_url=http_target.url("/fallback-up"),
                       max_retry=3, retry_interval=5))
    assert time.monotonic() - started < 2  # no retry wait before the fallback
    assert outcome.success and outcome.used_fallback
    assert (outcome.status_code, outcome.response, outcome.retry_times) == (200, "from fallback", 0)
    assert [a.target for a in outcome.attempts] == ["primary", "fallback"]
    assert outcome.attempts[0].status_code == 500


def test_http_fallback_is_not_called_when_primary_succeeds(http_target):
    http_target.on("/primary-fine", status=200)
    http_target.on("/fallback-unused", status=200)
    outcome = run(spec(url=http_target.url("/primary-fine"), fallback_url=http_target.url("/fallback-unused")))
    assert outcome.success and not outcome.used_fallback
    assert http_target.hits("/fallback-unused") == 0


def test_http_both_failing_reports_both_and_retries_both_with_one_idempotency_key(http_target):
    http_target.on("/both-primary", status=500)
    http_target.on("/both-fallback", status=503)
    outcome = run(spec(url=http_target.url("/both-primary"), fallback_url=http_target.url("/both-fallback"),
                       max_retry=2, retry_interval=0.05))
    assert not outcome.success and outcome.used_fallback  # the deciding (last) call was the fallback
    assert outcome.status_code == 503 and outcome.retry_times == 2
    assert outcome.error == "primary: HTTP 500 Internal Server Error; fallback: HTTP 503 Service Unavailable"
    assert [a.target for a in outcome.attempts] == ["primary", "fallback"] * 3
    keys = {r.header("Idempotency-Key")
            for r in http_target.requests("/both-primary") + http_target.requests("/both-fallback")}
    assert keys == {KEY}
    assert http_target.hits("/both-primary") == http_target.hits("/both-fallback") == 3


def test_http_timeout_bounds_each_attempt(http_target):
    http_target.on("/slow", delay=10)
    started = time.monotonic()
    outcome = run(spec(url=http_target.url("/slow"), timeout=0.4, max_retry=1, retry_interval=0))
    elapsed = time.monotonic() - started
    assert not outcome.success and outcome.status_code is None
    assert outcome.error == "timed out after 0.4s"
    assert outcome.retry_times == 1 and http_target.hits("/slow") == 2
    assert 0.75 <= elapsed < 3, elapsed
    assert all(350 <= a.cost_ms < 1500 for a in outcome.attempts), outcome.attempts


def test_http_timeout_also_bounds_a_body_that_stalls_after_the_headers(http_target):
    http_target.on("/stuck-body", stream_bytes=10_000, chunk_size=100, hang_after_bytes=500)
    started = time.monotonic()
    outcome = run(spec(url=http_target.url("/stuck-body"), timeout=0.5))
    assert outcome.error == "timed out after 0.5s"
    assert time.monotonic() - started < 2


def test_http_bounded_capture_of_a_one_gigabyte_body(http_target):
    http_target.on("/huge", stream_bytes=1 << 30)
    tracemalloc.start()
    try:
        started = time.monotonic()
        outcome = run(spec(url=http_target.url("/huge"), timeout=20))
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.success and outcome.status_code == 200
    assert len(outcome.response) == RESPONSE_LIMIT and set(outcome.response) == {"x"}
    assert outcome.response_truncated
    assert elapsed < 5, elapsed
    assert peak < 32 * 1024 * 1024, peak
    # The executor hung up early: the target could write little more than the socket buffers hold.
    assert http_target.streamed("/huge")[0] < 64 * 1024 * 1024


def test_http_connection_reset_is_a_clear_failure(http_target):
    http_target.on("/reset", reset=True)
    http_target.on("/reset-mid-body", reset_after_bytes=1000)
    before, mid = run(spec(url=http_target.url("/reset")), spec(url=http_target.url("/reset-mid-body")))
    assert not before.success and before.status_code is None
    assert "connection reset or closed by the target" in before.error
    assert not mid.success and mid.status_code == 200
    assert mid.error.startswith("reading the response failed: connection reset or closed by the target")
    assert mid.response == "x" * 1000  # what arrived before the reset is kept


def test_http_connection_refused_is_a_clear_failure():
    outcome = run(spec(url=f"http://127.0.0.1:{free_port()}/nobody-home"))
    assert not outcome.success and outcome.error.startswith("connection failed")


def test_http_redirects_are_followed_up_to_five_hops(http_target):
    http_target.on("/hop-final", status=200, body="landed")
    for i in range(5):
        http_target.on(f"/hop-{i}", redirect=http_target.url(f"/hop-{i + 1}" if i < 4 else "/hop-final"))
    http_target.on("/loop", redirect=http_target.url("/loop"))
    followed, looping = run(spec(url=http_target.url("/hop-0"), http_method="GET"), spec(url=http_target.url("/loop")))
    assert followed.success and followed.response == "landed"
    assert http_target.requests("/hop-final")[-1].header("Idempotency-Key") == KEY
    assert not looping.success and looping.error == "too many redirects (more than 5)"
    assert http_target.hits("/loop") == 6


@pytest.mark.parametrize("config, message", [
    (dict(url="ftp://127.0.0.1/file"), "URL must be absolute http(s)://"),
    (dict(url="not a url"), "URL must be absolute http(s)://"),
    (dict(url="http://127.0.0.1/", http_method="BREW"), "unsupported HTTP method 'BREW'"),
    (dict(url=None), "the task has no URL"),
    (dict(url="http://127.0.0.1/", headers={"X-Bad": "a\nb"}), "invalid value for header 'X-Bad'"),
    (dict(url="http://127.0.0.1/", headers={"Bad Name": "x"}), "invalid header name 'Bad Name'"),
])
def test_http_misconfigured_task_fails_at_once_without_retry_waits(config, message):
    started = time.monotonic()
    outcome = run(spec(max_retry=3, retry_interval=10, **config))
    assert not outcome.success and message in outcome.error
    assert outcome.retry_times == 0 and time.monotonic() - started < 2


def test_http_workers_limit_concurrent_calls(http_target):
    http_target.on("/limited", delay=0.3)
    started = time.monotonic()
    outcomes = run(*(spec(url=http_target.url("/limited")) for _ in range(5)), http_workers=2)
    elapsed = time.monotonic() - started
    arrivals = sorted(r.arrived for r in http_target.requests("/limited"))
    assert all(o.success for o in outcomes)
    assert elapsed >= 0.85, elapsed  # 3 waves of 0.3 s
    assert arrivals[2] - arrivals[0] >= 0.25 and arrivals[4] - arrivals[2] >= 0.25, arrivals


def test_http_kill_mid_request_propagates_within_a_second_and_frees_the_worker(http_target):
    http_target.on("/hang", hang=True)

    async def main():
        async with executors(http_workers=1) as ex:
            task = asyncio.create_task(execute(spec(url=http_target.url("/hang"), timeout=30, max_retry=3), ex))
            await asyncio.to_thread(http_target.wait_for, 1, "/hang")
            killed_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            took = time.monotonic() - killed_at
            assert ex.http.in_use == 0
            http_target.on("/after-kill", status=200)
            after = await execute(spec(url=http_target.url("/after-kill")), ex)  # the only worker is free again
            return took, after

    took, after = asyncio.run(main())
    assert took < 1, took
    assert after.success
    assert http_target.hits("/hang") == 1


def test_http_kill_during_retry_sleep_propagates_within_a_second(http_target):
    http_target.on("/fail-then-wait", status=500)

    async def main():
        async with executors() as ex:
            task = asyncio.create_task(execute(spec(url=http_target.url("/fail-then-wait"), max_retry=3,
                                                    retry_interval=30), ex))
            await asyncio.to_thread(http_target.wait_for, 1, "/fail-then-wait")
            await asyncio.sleep(0.1)
            killed_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.monotonic() - killed_at

    assert asyncio.run(main()) < 1
    assert http_target.hits("/fail-then-wait") == 1


def test_http_cookies_do_not_leak_between_tasks(http_target):
    http_target.on("/set-cookie", status=200, headers={"Set-Cookie": "session=tenant-a; Path=/"})
    http_target.on("/other-task", status=200)

    async def main():
        async with executors() as ex:
            await execute(spec(url=http_target.url("/set-cookie")), ex)
            await execute(spec(url=http_target.url("/other-task")), ex)

    asyncio.run(main())
    assert http_target.requests("/other-task")[-1].header("Cookie") is None


@pytest.mark.parametrize("value", ["", "direct", " Direct "])
def test_djs_http_transport_unset_or_direct_is_the_one_transport(monkeypatch, value):
    monkeypatch.setenv("DJS_HTTP_TRANSPORT", value)
    executors()  # no error: the one HTTP transport (aiohttp) was called "direct"


@pytest.mark.parametrize("value, message", [
    ("native", "DJS_HTTP_TRANSPORT=native: the 'native' HTTP transport was removed"),
    ("aiohttp", "DJS_HTTP_TRANSPORT=aiohttp: the 'aiohttp' HTTP transport was removed"),
    ("curl", "DJS_HTTP_TRANSPORT='curl' is not an HTTP transport"),
])
def test_djs_http_transport_naming_a_removed_or_unknown_transport_stops_the_executors(monkeypatch, value, message):
    """A node configured for a removed transport must not start on another one without anybody noticing."""
    monkeypatch.setenv("DJS_HTTP_TRANSPORT", value)
    with pytest.raises(ValueError) as caught:
        executors()
    assert message in str(caught.value) and "Unset DJS_HTTP_TRANSPORT" in str(caught.value)


def test_unknown_task_type_is_a_failure_not_a_crash():
    outcome = run(spec(task_type="FTP"))
    assert not outcome.success and "unsupported task type 'FTP' (executors handle HTTP, GRPC, SHELL)" in outcome.error


# --- gRPC ----------------------------------------------------------------------------------------

def test_grpc_success_turns_params_into_the_request_and_the_reply_into_json(grpc_target):
    params = {"message": "hello", "tags": ["a", "b"], "labels": {"env": "prod"}, "mood": "MOOD_HAPPY",
              "payload": {"kind": "report", "size": 12}}
    outcome = run(grpc_spec(grpc_target.service_target, params=json.dumps(params), traceparent=TRACEPARENT))
    assert outcome.success and outcome.error is None
    assert outcome.status_code == 0
    reply = json.loads(outcome.response)
    assert reply["message"] == "hello" and reply["idempotency_key"] == KEY
    assert reply["tags"] == ["a", "b"] and reply["labels"] == {"env": "prod"} and reply["mood"] == "MOOD_HAPPY"
    assert reply["payload"] == {"kind": "report", "size": 12}
    assert isinstance(reply["count"], int) and reply["served_at"].endswith("Z")
    call = grpc_target.calls("Echo")[-1]
    assert call.metadata["idempotency-key"] == KEY and call.metadata["traceparent"] == TRACEPARENT
    assert call.request["payload"] == {"kind": "report", "size": "12"}


def test_grpc_empty_params_send_an_empty_request(grpc_target):
    outcome = run(grpc_spec(grpc_target.service_target, params=None))
    assert outcome.success and json.loads(outcome.response)["message"] == ""


def test_grpc_non_ok_status_is_recorded(grpc_target):
    outcome = run(grpc_spec(grpc_target.service_target,
                            params='{"message": "x", "fail_code": 7, "fail_message": "no entry"}'))
    assert not outcome.success
    assert outcome.status_code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert outcome.error == "gRPC PERMISSION_DENIED: no entry"


@pytest.mark.parametrize("service, method, params, message", [
    (None, "Nope", "{}", "method 'Nope' not found in service djs.test.Target (it has: Echo, EchoBackup, Watch)"),
    ("djs.test.Missing", "Echo", "{}", "service djs.test.Missing not found on the target"),
    (None, "Echo", '{"mesage": "typo"}', 'grpc_params do not match djs.test.EchoRequest'),
    (None, "Echo", '{"delay_ms": "soon"}', 'grpc_params do not match djs.test.EchoRequest'),
    (None, "Watch", "{}", "method djs.test.Target/Watch is streaming; only unary methods can be scheduled"),
    (None, "Echo", "[1, 2]", "grpc_params must be a JSON object"),
    (None, "Echo", "{oops", "grpc_params is not valid JSON"),
    (None, "", "{}", "invalid gRPC method name ''"),
])
def test_grpc_schema_mistakes_are_clear_errors(grpc_target, service, method, params, message):
    service_target = grpc_target.service_target if service is None else f"{grpc_target.address}/{service}"
    outcome = run(grpc_spec(service_target, method=method, params=params))
    assert not outcome.success
    assert message in outcome.error, outcome.error


@pytest.mark.parametrize("service", ["127.0.0.1:50051", "127.0.0.1/djs.test.Target", "127.0.0.1:99999/x.Y",
                                     "127.0.0.1:1/bad service", None])
def test_grpc_malformed_service_fails_at_once(service):
    outcome = run(grpc_spec(service, max_retry=2, retry_interval=10))
    assert not outcome.success and outcome.retry_times == 0
    assert "grpc_service" in outcome.error or "invalid gRPC service name" in outcome.error


def test_grpc_fallback_target_and_method_are_used_when_primary_fails(grpc_target):
    with GrpcTarget() as broken:
        broken.set_fail(grpc.StatusCode.UNAVAILABLE, "maintenance")
        started = time.monotonic()
        outcome = run(grpc_spec(broken.service_target, fallback_grpc_service=grpc_target.service_target,
                                fallback_grpc_method="EchoBackup", max_retry=2, retry_interval=5))
        assert time.monotonic() - started < 3
        assert broken.calls("Echo")[0].metadata["idempotency-key"] == KEY
    assert outcome.success and outcome.used_fallback and outcome.retry_times == 0
    assert json.loads(outcome.response)["method"] == "EchoBackup"
    assert outcome.attempts[0].error == "gRPC UNAVAILABLE: maintenance"
    assert grpc_target.calls("EchoBackup")[-1].metadata["idempotency-key"] == KEY


def test_grpc_unreachable_primary_falls_back_with_the_same_method(grpc_target):
    outcome = run(grpc_spec(f"127.0.0.1:{free_port()}/djs.test.Target",
                            fallback_grpc_service=grpc_target.service_target))
    assert outcome.success and outcome.used_fallback
    assert outcome.attempts[0].error.startswith("gRPC UNAVAILABLE")
    assert json.loads(outcome.response)["method"] == "Echo"


def test_grpc_retries_use_the_interval_and_one_idempotency_key():
    with GrpcTarget() as failing:
        failing.set_fail(grpc.StatusCode.INTERNAL, "boom")
        outcome = run(grpc_spec(failing.service_target, max_retry=2, retry_interval=0.2))
        calls = failing.calls("Echo")
    assert not outcome.success and outcome.retry_times == 2
    assert outcome.status_code == grpc.StatusCode.INTERNAL.value[0]
    assert len(calls) == 3 and {c.metadata["idempotency-key"] for c in calls} == {KEY}
    assert all(b.arrived - a.arrived >= 0.18 for a, b in zip(calls, calls[1:], strict=False))


def test_grpc_reflection_is_fetched_once_per_target_and_refreshed_after_a_schema_miss():
    with GrpcTarget() as fresh:
        async def main():
            async with executors() as ex:
                for _ in range(3):
                    assert (await execute(grpc_spec(fresh.service_target), ex)).success
                after_three = fresh.reflection_calls()
                missing = await execute(grpc_spec(fresh.service_target, method="Renamed"), ex)
                assert (await execute(grpc_spec(fresh.service_target), ex)).success
                return after_three, missing, fresh.reflection_calls()

        after_three, missing, total = asyncio.run(main())
    assert after_three == 1
    assert "method 'Renamed' not found" in missing.error
    # The miss re-checked a fresh schema once (2) and dropped it, so the next call fetched again (3).
    assert total == 3


def test_grpc_timeout_bounds_each_attempt(grpc_target):
    started = time.monotonic()
    outcome = run(grpc_spec(grpc_target.service_target, params='{"delay_ms": 5000}', timeout=0.5))
    assert time.monotonic() - started < 2.5
    assert not outcome.success and outcome.status_code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    assert "DEADLINE_EXCEEDED" in outcome.error or "timed out" in outcome.error


def test_grpc_target_without_reflection_is_a_clear_error():
    with GrpcTarget(reflection=False) as bare:
        outcome = run(grpc_spec(bare.service_target))
    assert not outcome.success and "does not offer server reflection" in outcome.error


def test_grpc_response_capture_is_bounded(grpc_target):
    outcome = run(grpc_spec(grpc_target.service_target, params=json.dumps({"reply_bytes": 200_000})))
    assert outcome.success and outcome.response_truncated
    assert len(outcome.response.encode()) == RESPONSE_LIMIT


def test_grpc_kill_mid_call_propagates_within_a_second(grpc_target):
    async def main():
        async with executors() as ex:
            before = len(grpc_target.calls("Echo"))
            task = asyncio.create_task(execute(grpc_spec(grpc_target.service_target,
                                                         params='{"message": "kill me", "delay_ms": 20000}',
                                                         timeout=30), ex))
            await asyncio.to_thread(grpc_target.wait_for, before + 1, "Echo")
            killed_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.monotonic() - killed_at, ex.grpc.in_use

    took, in_use = asyncio.run(main())
    assert took < 1 and in_use == 0


# --- worker slots --------------------------------------------------------------------------------

def test_slots_count_calls_holding_and_waiting_and_a_cancelled_waiter_leaves_no_trace():
    async def main():
        slots = Slots(2)
        release = asyncio.Event()

        async def hold() -> None:
            async with slots:
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(3)]
        await asyncio.sleep(0.01)
        counts = [(slots.in_use, slots.waiting)]
        holders[2].cancel()  # killed while waiting for a slot
        await asyncio.sleep(0.01)
        counts.append((slots.in_use, slots.waiting))
        release.set()
        await asyncio.gather(*holders, return_exceptions=True)
        counts.append((slots.in_use, slots.waiting))
        return counts

    assert asyncio.run(main()) == [(2, 1), (2, 0), (0, 0)]


def test_each_kind_of_target_is_called_by_the_executor_of_its_kind():
    """Dispatch is the table, not a chain of task-type tests: every kind a task may have has an executor, and a
    target's kind picks it."""
    assert set(EXECUTORS_BY_KIND) == {"HTTP", "GRPC", "SHELL"}
    ex = executors()
    for target in (targets.HttpTarget(url="http://127.0.0.1/"),
                   targets.GrpcTarget(service="127.0.0.1:1/a.B", method="M"), targets.ShellTarget(command="/bin/true")):
        assert isinstance(ex.by_kind[target.kind], EXECUTORS_BY_KIND[target.kind])


@pytest.mark.single_backend
def test_executors_are_made_without_django_settings_as_bench_limits_makes_them():
    """bench/limits.py times a bare DJS executor in a process whose Django settings would refuse to load (no
    secrets, no dev profile): making ``Executors`` without SHELL settings must not read them (it did once:
    ``make bench-quick`` stopped with "DJS refuses to start with DEBUG off and default secrets")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_") or k.startswith("DJS_TEST_")}
    env["DJANGO_SETTINGS_MODULE"] = "djs_platform.settings"
    code = (
        "import asyncio\n"
        "from apps.tasks.executors import Executors\n"
        "from djs_platform.egress import EgressPolicy\n"
        "async def main():\n"
        "    egress = EgressPolicy(allow_cidrs=['127.0.0.0/8'])\n"
        "    async with Executors(http_workers=2, grpc_workers=1, egress=egress) as e:\n"
        "        print('shell enabled:', e.shell.config.enabled)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "shell enabled: False" in done.stdout, done.stdout
