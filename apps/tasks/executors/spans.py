"""The traces of executions (docs/observability.md): a root span ``djs.fire`` per fire, a ``djs.attempt``
child per call.

Every fire is a new trace whose root span ``djs.fire`` carries the task id and type, trigger, scheduled time
and record id, then the outcome. Every call of that fire - the first try, each retry, each fallback - is a
child span ``djs.attempt`` of kind CLIENT whose own context is what the target receives in ``traceparent``
(HTTP header, gRPC metadata, SHELL ``TRACEPARENT``), so a target's server span hangs under the exact attempt
that called it. HTTP task calls go through aiohttp, which has no library instrumentation here, and any httpx
call made inside an attempt is kept out of the generic httpx instrumentation on purpose: the attempt span *is*
the call's client span (one span and one ``traceparent`` per call), and a generic span would record full URLs,
whose query strings may carry a task's tokens.

The tracer comes from :mod:`djs_platform.tracing` (set-up only: provider, exporter, instrumentations); with
tracing off nothing is created and a call carries no ``traceparent`` of ours.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from djs_platform import tracing

from .targets import FALLBACK, Target

FIRE_SPAN = "djs.fire"
ATTEMPT_SPAN = "djs.attempt"
TEXT_LIMIT = 256  # error texts on spans are bounded like everything else we export


@contextmanager
def fire_span(*, task_id: int, task_type: str, trigger: str, scheduled: datetime, record_id: int,
              node: str | None = None) -> Iterator[Any]:
    """A new trace for one fire (root span ``djs.fire``); yields the span, or None when tracing is off."""
    current = tracing.tracer()
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
    if tracing.tracer() is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("djs.status", status)
    for key in ("status_code", "retry_times", "used_fallback", "cost_time"):
        if result.get(key) is not None:
            span.set_attribute(f"djs.{key}", result[key])
    if status in ("failed", "killed", "lost"):
        span.set_status(Status(StatusCode.ERROR, bound(result.get("error") or status)))


class AttemptTrace:
    """One call of an execution: ``traceparent`` is the attempt span's own context for the target (None with
    tracing off); :meth:`done` records the outcome."""

    __slots__ = ("span", "status_attribute", "traceparent")

    def __init__(self, traceparent: str | None = None, span: Any = None, status_attribute: str = ""):
        self.traceparent = traceparent
        self.span = span
        self.status_attribute = status_attribute

    def done(self, success: bool, status_code: int | None, error: str | None) -> None:
        span = self.span
        if span is None or not span.is_recording():
            return
        span.set_attribute("djs.success", success)
        if status_code is not None:
            span.set_attribute(self.status_attribute, status_code)
        if not success:
            span.set_status(Status(StatusCode.ERROR, bound(error or "failed")))


_OFF = AttemptTrace()


@contextmanager
def attempt_span(*, task_id: int, task_type: str, attempt: int, role: str,
                 target: Target) -> Iterator[AttemptTrace]:
    """Span ``djs.attempt`` (child of the current fire span) around one call to ``target``, the attempt's
    primary or fallback (``role``)."""
    current = tracing.tracer()
    if current is None:
        yield _OFF
        return
    attributes: dict[str, Any] = {"djs.task.id": task_id, "djs.task.type": task_type, "djs.attempt": attempt,
                                  "djs.fallback": role == FALLBACK, "djs.target": role}
    try:
        attributes.update(target.span_attributes())
    except ValueError:  # a malformed target: the call itself will say why
        pass
    with current.start_as_current_span(ATTEMPT_SPAN, kind=SpanKind.CLIENT, attributes=attributes) as span:
        traced = AttemptTrace(tracing.current_traceparent(), span, target.status_attribute)
        try:
            with tracing.suppress_http_instrumentation():  # this span is the call's client span (module doc)
                yield traced
        except asyncio.CancelledError:
            if span.is_recording():
                span.set_status(Status(StatusCode.ERROR, "cancelled (killed or shutting down)"))
            raise


def bound(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT]
