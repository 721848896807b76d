"""OpenTelemetry tracing for the web, scheduler and gRPC processes (docs/observability.md).

``setup_tracing(service)`` is called once per process, before the process serves anything: by
``djs_platform/wsgi.py`` (``web``, in each gunicorn worker), by ``manage.py runscheduler``
(``scheduler``) and by ``manage.py rungrpc`` (``grpc``, before its ``grpc.server`` is built). It reads
``settings.DJS_TRACING`` (``tracing:`` in configs/config.yaml; ``djs_platform.conf.TracingSettings``):

* ``exporter: none`` (default): nothing is installed. Spans are not created at all and task calls
  carry no ``traceparent`` of ours (only an explicit one on the execution plan, if a caller set one).
* ``console`` / ``otlp``: an SDK tracer provider (service name ``<serviceName>-<service>``, parent-based
  ratio sampler) with a batch processor to stdout or to OTLP/HTTP ``otlpEndpoint``, plus the library
  instrumentations of the process: Django (a server span per API request, named ``METHOD route``) for
  ``web``, the gRPC server (a span per call) for ``grpc``, httpx everywhere.

The traces of executions (``djs.fire``, ``djs.attempt``) are made beside the executors, in
apps/tasks/executors/spans.py, with :func:`tracer` and the propagation helpers below; this module is the
set-up only (the platform imports no app).

Tests swap the provider with :func:`use_provider` (an in-memory exporter), which restores the previous
state and removes its instrumentations on exit; the global OpenTelemetry provider is never touched.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from djs_platform.conf import TracingSettings

log = logging.getLogger("djs.tracing")

SERVICES = ("web", "scheduler", "grpc")
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

def build_provider(service: str, conf: TracingSettings):
    """An SDK tracer provider for ``service`` with the configured exporter (None for ``none``)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if service not in SERVICES:
        raise ValueError(f"unknown DJS service {service!r} (one of {', '.join(SERVICES)})")
    if conf.exporter == "none":
        return None
    resource = Resource.create({
        "service.name": f"{conf.service_name}-{service}",
        "service.namespace": conf.service_name,
        "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
    })
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(conf.sample_ratio)))
    if conf.exporter == "console":
        exporter = ConsoleSpanExporter(service_name=f"{conf.service_name}-{service}", out=sys.stdout)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter(endpoint=conf.otlp_endpoint, timeout=10)
    # Batching: exporting never runs on the scheduler's event loop or in a request.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def setup_tracing(service: str, conf: TracingSettings | None = None) -> bool:
    """Install tracing for this process from ``settings.DJS_TRACING``; idempotent (the first call wins).

    Returns whether tracing is on. Call it before the process builds its servers: the Django
    middleware and the ``grpc.server`` hook are installed here.
    """
    global _setup_done
    with _lock:
        if _setup_done:
            return enabled()
        if conf is None:
            conf = settings.DJS_TRACING
        provider = build_provider(service, conf)
        _setup_done = True
        if provider is None:
            return False
        trace.set_tracer_provider(provider)  # third-party libraries asking the global API get ours
        _activate(provider, service)
    log.info("tracing on: service %s-%s, exporter %s, sample ratio %s", conf.service_name, service,
             conf.exporter, conf.sample_ratio)
    return True


def _instrument(provider, service: str | None) -> tuple[Any, ...]:
    done: list[Any] = []
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    httpx_instrumentor = HTTPXClientInstrumentor()
    httpx_instrumentor.instrument(tracer_provider=provider)
    done.append(httpx_instrumentor)
    if service == "web":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        django_instrumentor = DjangoInstrumentor()
        prefix = settings.DJS_SERVER.context_path.rstrip("/")
        # Scrapes and probes are not traced: they would drown the traces people look for.
        django_instrumentor.instrument(tracer_provider=provider,
                                       excluded_urls=f"{prefix}/metrics$,{prefix}/health$")
        done.append(django_instrumentor)
    if service == "grpc":
        from opentelemetry.instrumentation.grpc import (
            GrpcAioInstrumentorServer,
            GrpcInstrumentorServer,
            filters,
        )

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


# --- propagation --------------------------------------------------------------------------------

def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (what a call made inside it sends), or None."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def suppress_http_instrumentation() -> Iterator[None]:
    """Inside the block the generic HTTP client instrumentations (httpx) create no spans: the caller's span is
    the call's client span."""
    from opentelemetry.instrumentation.utils import (
        suppress_http_instrumentation as suppress,
    )

    with suppress():
        yield
