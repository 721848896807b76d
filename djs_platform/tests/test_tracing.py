"""OpenTelemetry tracing: API server spans, a trace per fire with a span per attempt, traceparent at real
targets, exporters. Spans go to the SDK's in-memory exporter through ``tracing.use_provider``."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import datetime, timezone

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from apps.tasks.executors import ExecutionPlan, Executors, execute
from apps.tasks.executors.spans import ATTEMPT_SPAN, FIRE_SPAN, attempt_span, fire_span
from conftest import LOOPBACK_EGRESS, Api
from djs_platform import tracing
from djs_platform.conf import TracingSettings
from djs_platform.config import load_config
from djs_platform.egress import EgressPolicy
from tests.targets import GrpcTarget, HttpTarget, Respond

UTC = timezone.utc


def parse_traceparent(value: str | None) -> tuple[int, int]:
    assert value, "the target received no traceparent"
    version, trace_id, span_id, flags = value.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16 and len(flags) == 2, value
    return int(trace_id, 16), int(span_id, 16)


@pytest.fixture
def traced():
    """``traced(service)`` -> an in-memory exporter receiving every span until the test ends."""
    stack = []

    def start(service: str) -> InMemorySpanExporter:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        ctx = tracing.use_provider(provider, service)
        ctx.__enter__()
        stack.append(ctx)
        return exporter

    yield start
    while stack:
        stack.pop().__exit__(None, None, None)
    assert not tracing.enabled(), "use_provider left tracing on"


def wait_for_spans(exporter: InMemorySpanExporter, predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate(exporter.get_finished_spans())
        if found:
            return found
        time.sleep(0.05)
    names = [s.name for s in exporter.get_finished_spans()]
    raise AssertionError(f"expected spans did not arrive in {timeout}s; got {names}")


def attempts_of(spans, fire) -> list:
    children = [s for s in spans if s.name == ATTEMPT_SPAN and s.parent is not None
                and s.parent.span_id == fire.context.span_id]
    return sorted(children, key=lambda s: s.start_time)


# --- API -----------------------------------------------------------------------------------------

def test_api_requests_are_server_spans_named_by_route(org, traced):
    exporter = traced("web")
    api = Api(org.admin)  # built after instrumenting: its handler loads the tracing middleware
    api.get("tasks").expect(0)
    api.get("users/987654321").expect(4004)
    assert api.client.get("/v1/metrics").status_code == 200
    assert api.client.get("/v1/health").status_code == 200

    spans = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"GET v1/tasks", "GET v1/users/<int:pk>"}, "scrapes and probes are not traced"
    tasks, user = by_name["GET v1/tasks"], by_name["GET v1/users/<int:pk>"]
    assert tasks.attributes["http.route"] == "v1/tasks"
    status_of = lambda s: s.attributes.get("http.status_code", s.attributes.get("http.response.status_code"))  # noqa: E731
    assert status_of(tasks) == 200 and status_of(user) == 404
    assert tasks.resource is not None and tasks.context.trace_id != user.context.trace_id


def test_an_incoming_traceparent_continues_the_callers_trace(org, traced):
    exporter = traced("web")
    caller_trace, caller_span = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7
    api = Api(org.admin)
    resp = api.client.get("/v1/tasks", HTTP_TRACEPARENT=f"00-{caller_trace:032x}-{caller_span:016x}-01")
    assert resp.status_code == 200
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert span.context.trace_id == caller_trace and span.parent.span_id == caller_span


# --- fires run by a real scheduler node ----------------------------------------------------------

@pytest.fixture
def node(node_factory):
    return node_factory


def one_shot_task(**fields):
    from apps.departments.models import Department
    from apps.tasks.models import Task

    first = datetime.fromtimestamp(int(time.time()) + 2, UTC)
    values = dict(name="traced", department=Department.objects.filter(parent__isnull=True).first(),
                  task_type="HTTP", cron_expression="* * * * * *", timezone="UTC", http_method="GET",
                  status=2, timeout=5, next_execute_time=first)  # status 2: fires once
    values.update(fields)
    return Task.objects.create(**values)


def test_a_fire_is_a_trace_whose_attempt_context_reaches_the_target(transactional_db, traced, node):
    exporter = traced("scheduler")
    with HttpTarget() as target:
        task = one_shot_task(url=target.url("/traced") + "?token=secret-in-query")
        worker = node()
        (hit,) = target.wait_for(1, "/traced", timeout=10)
        fire = wait_for_spans(exporter, lambda spans: [s for s in spans if s.name == FIRE_SPAN])[0]

    spans = exporter.get_finished_spans()
    assert fire.parent is None, "a fire starts its own trace"
    assert fire.attributes["djs.task.id"] == task.pk and fire.attributes["djs.task.type"] == "HTTP"
    assert fire.attributes["djs.trigger"] == "SCHEDULE" and fire.attributes["djs.node"] == worker.name
    assert fire.attributes["djs.scheduled_time"] == task.next_execute_time.isoformat()
    assert fire.attributes["djs.record.id"] > 0 and fire.attributes["djs.status"] == "success"
    assert fire.status.status_code != StatusCode.ERROR

    (attempt,) = attempts_of(spans, fire)
    assert attempt.kind == SpanKind.CLIENT and attempt.context.trace_id == fire.context.trace_id
    assert attempt.attributes["djs.attempt"] == 0 and attempt.attributes["djs.fallback"] is False
    assert attempt.attributes["http.response.status_code"] == 200
    assert attempt.attributes["url.path"] == "/traced"
    assert not any("secret" in str(v) for s in spans for v in s.attributes.values()), "query strings stay out"

    trace_id, parent_id = parse_traceparent(hit.header("traceparent"))
    assert trace_id == fire.context.trace_id, "the target is in the fire's trace"
    assert parent_id == attempt.context.span_id, "the target's parent is the attempt that called it"


def test_retries_and_fallbacks_are_one_attempt_span_each(transactional_db, traced, node):
    exporter = traced("scheduler")
    with HttpTarget() as target:
        target.on("/primary", status=500)
        target.on("/fallback", Respond(status=503), Respond(status=200))
        one_shot_task(url=target.url("/primary"), fallback_url=target.url("/fallback"), max_retry=1,
                      retry_interval=0)
        node()
        target.wait_for(2, "/fallback", timeout=10)
        fire = wait_for_spans(exporter, lambda spans: [s for s in spans if s.name == FIRE_SPAN])[0]
        hits = sorted(target.requests(), key=lambda r: r.arrived)

    attempts = attempts_of(exporter.get_finished_spans(), fire)
    assert [(a.attributes["djs.attempt"], a.attributes["djs.target"], a.attributes["http.response.status_code"])
            for a in attempts] == [(0, "primary", 500), (0, "fallback", 503), (1, "primary", 500),
                                   (1, "fallback", 200)]
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR] * 3 + [StatusCode.UNSET]
    assert fire.attributes["djs.status"] == "success" and fire.attributes["djs.retry_times"] == 1
    assert fire.attributes["djs.used_fallback"] is True

    assert [h.path for h in hits] == ["/primary", "/fallback", "/primary", "/fallback"]
    received = [parse_traceparent(h.header("traceparent")) for h in hits]
    assert {t for t, _ in received} == {fire.context.trace_id}
    assert [p for _, p in received] == [a.context.span_id for a in attempts], "each call carries its own span"


def test_a_failed_fire_is_an_error_span(transactional_db, traced, node):
    exporter = traced("scheduler")
    with HttpTarget() as target:
        target.on("/down", status=500)
        one_shot_task(url=target.url("/down"))
        node()
        fire = wait_for_spans(exporter, lambda spans: [s for s in spans if s.name == FIRE_SPAN])[0]
    assert fire.attributes["djs.status"] == "failed" and fire.attributes["djs.status_code"] == 500
    assert fire.status.status_code == StatusCode.ERROR and "500" in fire.status.description


# --- executors directly: the HTTP executor (aiohttp), gRPC with an instrumented server ------------------

def run_traced(spec: ExecutionPlan):
    async def main():
        async with Executors(http_workers=2, grpc_workers=2,
                             egress=EgressPolicy.of(LOOPBACK_EGRESS)) as executors:
            with fire_span(task_id=spec.task_id, task_type=spec.task_type, trigger="MANUAL",
                                   scheduled=datetime.now(UTC), record_id=1):
                return await execute(spec, executors)

    return asyncio.run(main())


def http_spec(url: str, **over) -> ExecutionPlan:
    values = dict(task_id=7, task_type="HTTP", url=url, http_method="POST", headers={"traceparent": "forged"},
                  body="{}", fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                  fallback_grpc_service=None, fallback_grpc_method=None, timeout=5, max_retry=0,
                  retry_interval=0, idempotency_key="djs-7-1000")
    values.update(over)
    return ExecutionPlan.of(**values)


def test_task_calls_are_not_doubled_by_the_generic_httpx_instrumentation(traced):
    exporter = traced("scheduler")  # httpx is instrumented in every traced process
    with HttpTarget() as target:
        # The instrumentation is live: an ordinary httpx client call becomes a client span.
        assert httpx.get(target.url("/plain")).status_code == 200
        assert [s.name for s in exporter.get_finished_spans()] == ["GET"]
        exporter.clear()

        outcome = run_traced(http_spec(target.url("/task")))
        (hit,) = target.requests("/task")

    assert outcome.success
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == [ATTEMPT_SPAN, FIRE_SPAN], "no second client span"
    (attempt,) = [s for s in spans if s.name == ATTEMPT_SPAN]
    assert attempt.attributes["http.request.method"] == "POST"
    assert parse_traceparent(hit.header("traceparent")) == (attempt.context.trace_id, attempt.context.span_id)


def test_grpc_attempt_context_reaches_an_instrumented_grpc_server(traced):
    exporter = traced("grpc")  # gRPC servers built from here on get the server interceptor
    with GrpcTarget() as target:
        spec = http_spec(None, task_type="GRPC", http_method="GET", headers={}, body=None,
                         grpc_service=target.service_target, grpc_method="Echo",
                         grpc_params=json.dumps({"message": "hi"}))
        outcome = run_traced(spec)
        (call,) = target.calls("Echo")

    assert outcome.success, outcome.error
    spans = exporter.get_finished_spans()
    (attempt,) = [s for s in spans if s.name == ATTEMPT_SPAN]
    assert attempt.attributes["rpc.service"] == "djs.test.Target" and attempt.attributes["rpc.method"] == "Echo"
    assert attempt.attributes["rpc.grpc.status_code"] == 0
    assert parse_traceparent(call.metadata["traceparent"]) == (attempt.context.trace_id, attempt.context.span_id)
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "/djs.test.Target/Echo"]
    assert server.context.trace_id == attempt.context.trace_id and server.parent.span_id == attempt.context.span_id


def test_with_tracing_off_nothing_is_created_and_an_explicit_traceparent_passes(traced):
    assert not tracing.enabled()
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with HttpTarget() as target:
        outcome = run_traced(http_spec(target.url("/off"), traceparent=given))
        (hit,) = target.requests("/off")
    assert outcome.success and hit.header("traceparent") == given


# --- configuration and exporters ---------------------------------------------------------------------

def _tracing(**changes) -> TracingSettings:
    """``tracing.*`` as configs/config.yaml ships it (exporter none), but for ``changes``."""
    return replace(TracingSettings.from_config(load_config(environ={})), **changes)


def test_invalid_tracing_settings_are_refused():
    with pytest.raises(ImproperlyConfigured, match="exporter"):
        TracingSettings.from_config(load_config(environ={"DJS_TRACING_EXPORTER": "jaeger"}))
    with pytest.raises(ImproperlyConfigured, match="sampleRatio"):
        _tracing(exporter="console", sample_ratio=2)
    with pytest.raises(ImproperlyConfigured, match="otlpEndpoint"):
        _tracing(exporter="otlp", otlp_endpoint="127.0.0.1:4318")
    assert tracing.build_provider("web", _tracing(exporter="none")) is None
    with pytest.raises(ValueError, match="service"):
        tracing.build_provider("worker", _tracing(exporter="console"))


def test_setup_is_idempotent_and_none_installs_nothing(monkeypatch):
    monkeypatch.setattr(tracing, "_setup_done", False)
    assert tracing.setup_tracing("web", _tracing(exporter="none")) is False
    assert tracing.setup_tracing("web", _tracing(exporter="console")) is False, "the first call wins"
    assert not tracing.enabled()


def test_otlp_exporter_sends_spans_to_the_configured_endpoint():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    with HttpTarget() as collector:
        provider = tracing.build_provider("scheduler", _tracing(exporter="otlp", service_name="djs-test",
                                                                otlp_endpoint=collector.url("/v1/traces")))
        with provider.get_tracer("test").start_as_current_span("probe"):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
        (post,) = collector.requests("/v1/traces")

    assert post.method == "POST" and post.header("content-type") == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(post.body)
    (resource_spans,) = request.resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "djs-test-scheduler"
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["probe"]


def test_console_exporter_prints_spans(capsys):
    provider = tracing.build_provider("web", _tracing(exporter="console", sample_ratio=1))
    with provider.get_tracer("test").start_as_current_span("printed"):
        pass
    provider.force_flush(10_000)
    provider.shutdown()
    out = capsys.readouterr().out
    assert '"name": "printed"' in out and "djs-web" in out


def test_sample_ratio_zero_records_nothing_but_still_propagates():
    provider = tracing.build_provider("scheduler", _tracing(exporter="console", sample_ratio=0))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracing.use_provider(provider):
        with fire_span(task_id=1, task_type="HTTP", trigger="SCHEDULE", scheduled=datetime.now(UTC),
                               record_id=1):
            plan = http_spec("http://127.0.0.1:1/x")
            with attempt_span(task_id=plan.task_id, task_type=plan.task_type, attempt=0, role="primary",
                                    target=plan.primary) as traced:
                sent = traced.traceparent
    provider.shutdown()
    assert exporter.get_finished_spans() == ()
    assert sent and int(sent.rsplit("-", 1)[1], 16) & 1 == 0, "an unsampled trace still tells the target: flag off"
