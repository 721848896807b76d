"""OpenTelemetry tracing for the web, scheduler and gRPC processes (docs/observability.md).

``setup_tracing(service)`` is called once per process, before the process serves anything: by
``djs_platform/wsgi.py`` (``web``, in each gunicorn worker), by ``manage.py runscheduler``
(``scheduler``) and by ``manage.py rungrpc`` (``grpc``, before its ``grpc.server`` is built). It reads
``settings.TRACING`` (``tracing:`` in configs/config.yaml):

* ``exporter: none`` (default): nothing is installed. Spans are not created at all and task calls
  carry no ``traceparent`` of ours (only an explicit ``ExecutionSpec.traceparent``, if a caller set one).
* ``console`` / ``otlp``: an SDK tracer provider (service name ``<serviceName>-<service>``, parent-based
  ratio sampler) with a batch processor to stdout or to OTLP/HTTP ``otlpEndpoint``, plus the library
  instrumentations of the process: Django (a server span per API request, named ``METHOD route``) for
  ``web``, the gRPC server (a span per call) for ``grpc``, httpx everywhere.

Traces of executions (not from a library): every fire is a root span ``djs.fire`` (task id and type,
trigger, scheduled time, record id, then the outcome) and every call of that fire - the first try,
each retry, each fallback - is a child span ``djs.attempt`` of kind CLIENT. The attempt span's own
context is what the target receives in ``traceparent`` (HTTP header, gRPC metadata), so a target's
server span hangs under the exact attempt that called it. HTTP task calls go through aiohttp, which has
no library instrumentation here, and any httpx call made inside an attempt is kept out of the generic
httpx instrumentation on purpose: the attempt span *is* the call's client span (one span and one
``traceparent`` per call, the same for HTTP and gRPC), and a generic span would record full URLs, whose
query strings may carry a task's tokens.

Tests swap the provider with :func:`use_provider` (an in-memory exporter), which restores the previous
state and removes its instrumentations on exit; the global OpenTelemetry provider is never touched.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterator
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger("djs.tracing")

EXPORTERS = ("none", "console", "otlp")
SERVICES = ("web", "scheduler", "grpc")
FIRE_SPAN = "djs.fire"
ATTEMPT_SPAN = "djs.attempt"
_TEXT_LIMIT = 256  # error texts on spans are bounded like everything else we export
_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass
class _State:
    provider: Any = None                      # an SDK TracerProvider, or None = tracing off
    tracer: trace.Tracer | None = None
    service: str | None = None
    instrumentors: tuple[Any, ...] = ()


_state = _State()
_lock = threading.Lock()
_setup_done = False


def enabled() -> bool:
    return _state.tracer is not None


def tracer() -> trace.Tracer | None:
    """The DJS tracer, or None while tracing is off."""
    return _state.tracer


# --- setup ---------------------------------------------------------------------------------------

def _settings_conf() -> dict[str, Any]:
    from django.conf import settings

    return dict(getattr(settings, "TRACING", {}) or {})


def validate(conf: dict[str, Any]) -> dict[str, Any]:
    """Normalised tracing settings; ValueError names the bad key."""
    exporter = str(conf.get("exporter") or "none").strip().lower()
    if exporter not in EXPORTERS:
        raise ValueError(f"tracing.exporter must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
    try:
        ratio = float(conf.get("sampleRatio", 1.0))
    except (TypeError, ValueError):
        raise ValueError(f"tracing.sampleRatio must be a number, not {conf.get('sampleRatio')!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"tracing.sampleRatio must be between 0 and 1, not {ratio}")
    endpoint = str(conf.get("otlpEndpoint") or "http://127.0.0.1:4318/v1/traces")
    if exporter == "otlp" and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError(f"tracing.otlpEndpoint must be an http(s) URL, not {endpoint!r}")
    return {"exporter": exporter, "otlpEndpoint": endpoint, "serviceName": str(conf.get("serviceName") or "djs"),
            "sampleRatio": ratio}


def build_provider(service: str, conf: dict[str, Any]):
    """An SDK tracer provider for ``service`` with the configured exporter (None for ``none``)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if service not in SERVICES:
        raise ValueError(f"unknown DJS service {service!r} (one of {', '.join(SERVICES)})")
    conf = validate(conf)
    if conf["exporter"] == "none":
        return None
    resource = Resource.create({
        "service.name": f"{conf['serviceName']}-{service}",
        "service.namespace": conf["serviceName"],
        "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
    })
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(conf["sampleRatio"])))
    if conf["exporter"] == "console":
        exporter = ConsoleSpanExporter(service_name=f"{conf['serviceName']}-{service}", out=sys.stdout)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=conf["otlpEndpoint"], timeout=10)
    # Batching: exporting never runs on the scheduler's event loop or in a request.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def setup_tracing(service: str, conf: dict[str, Any] | None = None) -> bool:
    """Install tracing for this process from ``settings.TRACING``; idempotent (the first call wins).

    Returns whether tracing is on. Call it before the process builds its servers: the Django
    middleware and the ``grpc.server`` hook are installed here.
    """
    global _setup_done
    with _lock:
        if _setup_done:
            return enabled()
        conf = validate(_settings_conf() if conf is None else conf)
        provider = build_provider(service, conf)
        _setup_done = True
        if provider is None:
            return False
        trace.set_tracer_provider(provider)  # third-party libraries asking the global API get ours
        _activate(provider, service)
    log.info("tracing on: service %s-%s, exporter %s, sample ratio %s", conf["serviceName"], service,
             conf["exporter"], conf["sampleRatio"])
    return True


def _instrument(provider, service: str | None) -> tuple[Any, ...]:
    done: list[Any] = []
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    httpx_instrumentor = HTTPXClientInstrumentor()
    httpx_instrumentor.instrument(tracer_provider=provider)
    done.append(httpx_instrumentor)
    if service == "web":
        from django.conf import settings
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        django_instrumentor = DjangoInstrumentor()
        prefix = settings.CONTEXT_PATH.rstrip("/")
        # Scrapes and probes are not traced: they would drown the traces people look for.
        django_instrumentor.instrument(tracer_provider=provider,
                                       excluded_urls=f"{prefix}/metrics$,{prefix}/health$")
        done.append(django_instrumentor)
    if service == "grpc":
        from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer, GrpcInstrumentorServer
        from opentelemetry.instrumentation.grpc import filters

        not_health = filters.negate(filters.service_prefix("grpc.health"))
        for instrumentor in (GrpcInstrumentorServer(filter_=not_health), GrpcAioInstrumentorServer(filter_=not_health)):
            instrumentor.instrument(tracer_provider=provider)
            done.append(instrumentor)
    return tuple(done)


def _activate(provider, service: str | None) -> None:
    instrumentors = _instrument(provider, service)
    _state.provider, _state.service, _state.instrumentors = provider, service, instrumentors
    _state.tracer = provider.get_tracer("djs")


@contextmanager
def use_provider(provider, service: str | None = None) -> Iterator[Any]:
    """Tests and embedding: trace to ``provider`` inside the block, with the instrumentations of
    ``service`` (``web``: Django; ``grpc``: gRPC servers built inside the block; always httpx). The
    previous state comes back on exit and the instrumentations are removed."""
    with _lock:
        previous = _State(_state.provider, _state.tracer, _state.service, _state.instrumentors)
        for instrumentor in previous.instrumentors:  # one owner at a time
            instrumentor.uninstrument()
        _activate(provider, service)
    try:
        yield provider
    finally:
        with _lock:
            for instrumentor in _state.instrumentors:
                instrumentor.uninstrument()
            _state.provider, _state.tracer, _state.service, _state.instrumentors = (
                previous.provider, previous.tracer, previous.service, ())
            if previous.provider is not None:
                _state.instrumentors = _instrument(previous.provider, previous.service)


# --- executions ----------------------------------------------------------------------------------

@contextmanager
def fire_span(*, task_id: int, task_type: str, trigger: str, scheduled: datetime, record_id: int,
              node: str | None = None) -> Iterator[Any]:
    """A new trace for one fire (root span ``djs.fire``); yields the span, or None when tracing is off."""
    current = _state.tracer
    if current is None:
        yield None
        return
    attributes = {"djs.task.id": task_id, "djs.task.type": task_type, "djs.trigger": str(trigger),
                  "djs.scheduled_time": scheduled.isoformat(), "djs.record.id": record_id}
    if node:
        attributes["djs.node"] = node
    # An empty parent context: a fire starts its own trace whatever the caller's context holds.
    with current.start_as_current_span(FIRE_SPAN, context=otel_context.Context(), kind=SpanKind.INTERNAL,
                                       attributes=attributes) as span:
        yield span


def fire_finished(status: str, result: dict[str, Any]) -> None:
    """The outcome of the fire on the current ``djs.fire`` span (no-op when tracing is off)."""
    if _state.tracer is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("djs.status", status)
    for key in ("status_code", "retry_times", "used_fallback", "cost_time"):
        if result.get(key) is not None:
            span.set_attribute(f"djs.{key}", result[key])
    if status in ("failed", "killed", "lost"):
        span.set_status(Status(StatusCode.ERROR, _bound(result.get("error") or status)))


class AttemptTrace:
    """One call of an execution: ``spec`` carries the attempt's own ``traceparent``; :meth:`done`
    records the outcome. With tracing off, ``spec`` is the caller's spec unchanged."""

    __slots__ = ("spec", "span")

    def __init__(self, spec: Any, span: Any = None):
        self.spec = spec
        self.span = span

    def done(self, address: str | None, success: bool, status_code: int | None, error: str | None) -> None:
        span = self.span
        if span is None or not span.is_recording():
            return
        span.set_attribute("djs.success", success)
        if status_code is not None:
            key = "rpc.grpc.status_code" if self.spec.task_type == "GRPC" else "http.response.status_code"
            span.set_attribute(key, status_code)
        if not success:
            span.set_status(Status(StatusCode.ERROR, _bound(error or "failed")))


@contextmanager
def attempt_span(spec: Any, *, attempt: int, fallback: bool) -> Iterator[AttemptTrace]:
    """Span ``djs.attempt`` (child of the current fire span) around one call to the primary or the
    fallback target of ``spec`` (an ``ExecutionSpec``)."""
    current = _state.tracer
    if current is None:
        yield AttemptTrace(spec)
        return
    attributes: dict[str, Any] = {"djs.task.id": spec.task_id, "djs.task.type": spec.task_type,
                                  "djs.attempt": attempt, "djs.fallback": fallback,
                                  "djs.target": "fallback" if fallback else "primary"}
    attributes.update(_target_attributes(spec, fallback))
    from opentelemetry.instrumentation.utils import suppress_http_instrumentation

    with current.start_as_current_span(ATTEMPT_SPAN, kind=SpanKind.CLIENT, attributes=attributes) as span:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        traceparent = carrier.get("traceparent")
        traced = AttemptTrace(replace(spec, traceparent=traceparent) if traceparent else spec, span)
        try:
            with suppress_http_instrumentation():  # this span is the call's client span (module doc)
                yield traced
        except asyncio.CancelledError:
            if span.is_recording():
                span.set_status(Status(StatusCode.ERROR, "cancelled (killed or shutting down)"))
            raise


def _target_attributes(spec: Any, fallback: bool) -> dict[str, Any]:
    """Where the call goes, without credentials or query strings (they may hold a task's tokens)."""
    try:
        if spec.task_type == "GRPC":
            address = (spec.fallback_grpc_service if fallback else spec.grpc_service) or ""
            method = (spec.fallback_grpc_method or spec.grpc_method) if fallback else spec.grpc_method
            hostport, _, service = address.partition("/")
            host, _, port = hostport.rpartition(":")
            attributes: dict[str, Any] = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method or "",
                                          "server.address": host.strip("[]")}
            if port.isdigit():
                attributes["server.port"] = int(port)
            return attributes
        parts = urlsplit((spec.fallback_url if fallback else spec.url) or "")
        attributes = {"http.request.method": (spec.http_method or "GET").upper(), "url.scheme": parts.scheme,
                      "server.address": parts.hostname or "", "url.path": parts.path or "/"}
        if parts.port:
            attributes["server.port"] = parts.port
        return attributes
    except ValueError:  # a malformed target: the call itself will say why
        return {}


def _bound(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT]
