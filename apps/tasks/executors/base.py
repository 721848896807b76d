"""One execution of a task: attempts, fallback, retries, timeouts (DESIGN.md section 6).

:func:`execute` is a coroutine on the scheduler's event loop. Killing an execution is
``asyncio.Task.cancel()``: ``CancelledError`` propagates out of whatever the execution is awaiting
(a request, a gRPC call, the retry sleep, a worker slot) and every client-side resource it opened is
closed on the way out. Nothing here touches Django models; the node plans the fire into an
:class:`ExecutionPlan` (its targets built once from the task row) and stores the :class:`ExecutionOutcome`.

Plan of one execution (``max_retry`` = R)::

    attempt 0:  primary  -> success? done : fallback (if set, at once) -> success? done
    wait retry_interval
    attempt 1:  primary  -> ...                                         (up to attempt R)

``timeout`` bounds each call (primary and fallback separately), measured from when the call gets a
worker slot (``job.httpWorkers`` / ``job.grpcWorkers``): time spent queued for a slot is not counted.
A failure that no retry can change (invalid task configuration, egress policy denial) on every
target of an attempt ends the execution early instead of waiting out the retries.

Dispatch is by kind: :data:`EXECUTORS_BY_KIND` holds one :class:`~.protocol.Executor` per kind of task, each
with the same ``call(target, ctx)``; a target's ``kind`` picks its executor.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self


from apps.tasks import routing
from apps.tasks.routing import Router
from djs_platform.conf import ShellSettings
from djs_platform.config import config
from djs_platform.egress import EgressPolicy

from . import spans
from .common import ERROR_LIMIT, CallResult, bound_error
from .grpc import GrpcExecutor
from .http import HttpExecutor
from .protocol import CallContext, Executor, ExecutorSettings
from .runas import ShellIdentities
from .shell import ShellExecutor
from .targets import FALLBACK, PRIMARY, Call, Target, calls_of

#: The executor of each kind of task (not to be confused with the executor *registry* of target instances,
#: apps/executors). A node makes one of each (``for_node``) and hands each call to its target kind's one.
EXECUTORS_BY_KIND: dict[str, type[Executor[Any]]] = {
    "HTTP": HttpExecutor, "GRPC": GrpcExecutor, "SHELL": ShellExecutor}


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """One fire as the node planned it (no Django models): its calls, bounds and identity."""

    task_id: int
    task_type: str                       # "HTTP" | "GRPC" | "SHELL"
    calls: tuple[Call, ...]              # one attempt: primary, then fallback if any (targets.calls_of)
    timeout: float                       # seconds, per call
    max_retry: int                       # retries after the first attempt
    retry_interval: float                # seconds between attempts
    idempotency_key: str                 # "djs-<task id>-<scheduled epoch ms>", same for the whole fire
    record_id: int = 0                   # names the SHELL log file
    department_id: int = 0               # where a registry name resolves first (then the department's ancestors)
    route_strategy: str = routing.DEFAULT_STRATEGY  # which registered instance gets a call to a name
    recovery: bool = False               # re-run of a started fire whose node died (CallContext.recovery)
    # A broadcast shard (index, total); ``pinned`` its instance: the primary target's calls go there, not
    # through the route strategy.
    shard: tuple[int, int] | None = None
    pinned: str | None = None
    traceparent: str | None = None       # sent when tracing is off (a caller's own trace context)

    @classmethod
    def of(cls, *, task_id: int, task_type: str, timeout: float, max_retry: int, retry_interval: float,
           idempotency_key: str, record_id: int = 0, department_id: int = 0,
           department_path: tuple[int, ...] = (), route_strategy: str = routing.DEFAULT_STRATEGY,
           recovery: bool = False, shard: tuple[int, int] | None = None, pinned: str | None = None,
           traceparent: str | None = None,
           **columns: Any) -> ExecutionPlan:
        """A plan from the task's columns as keywords (``url``, ``http_method``, ``fallback_url``, ``grpc_*``,
        ``shell_*``; the others are ignored); ``department_path``: the task's department and its ancestors
        (SHELL run-as)."""
        return cls.from_row(columns, task_id=task_id, task_type=task_type, timeout=timeout,
                            max_retry=max_retry, retry_interval=retry_interval,
                            idempotency_key=idempotency_key, record_id=record_id, department_id=department_id,
                            department_path=department_path,
                            route_strategy=route_strategy, recovery=recovery, shard=shard, pinned=pinned,
                            traceparent=traceparent)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, task_id: int, task_type: str, timeout: float, max_retry: int,
                 retry_interval: float, idempotency_key: str, department_path: tuple[int, ...] = (),
                 **fields: Any) -> ExecutionPlan:
        return cls(task_id=task_id, task_type=task_type, calls=calls_of(task_type, row, department_path),
                   timeout=timeout, max_retry=max_retry, retry_interval=retry_interval,
                   idempotency_key=idempotency_key, **fields)

    @property
    def primary(self) -> Target | None:
        return self.calls[0][1] if self.calls else None

    @property
    def has_fallback(self) -> bool:
        return len(self.calls) > 1

    def target(self, *, fallback: bool) -> Target | None:
        """The primary or the fallback target (a name of the registry is not resolved yet)."""
        wanted = FALLBACK if fallback else PRIMARY
        return next((target for role, target in self.calls if role == wanted), None)

    def context(self, attempt: int, traceparent: str | None) -> CallContext:
        return CallContext(task_id=self.task_id, idempotency_key=self.idempotency_key, timeout=self.timeout,
                           record_id=self.record_id, attempt=attempt, recovery=self.recovery,
                           shard=self.shard, traceparent=traceparent or self.traceparent)



@dataclass
class AttemptResult:
    """One call: ``attempt`` 0 is the first try, 1.. the retries; ``target`` primary or fallback."""

    attempt: int
    target: str                          # "primary" | "fallback"
    address: str | None                  # the URL or grpc service called
    success: bool
    status_code: int | None
    error: str | None
    cost_ms: int
    started_at: float                    # epoch seconds
    response_truncated: bool = False
    instance: str | None = None          # the registered instance called (a name's target), else None


@dataclass
class ExecutionOutcome:
    """What the execution record keeps.

    ``status_code``/``response`` come from the *deciding call*: the call that succeeded, or, when all
    failed, the last call made. ``used_fallback`` is True exactly when that deciding call went to
    the fallback target (so on success it means "the fallback answered"). ``error`` is None on
    success; on failure it names every call of the last attempt (``primary: HTTP 500; fallback:
    connection failed: ...``). ``retry_times`` counts attempts after the first. ``cost_ms`` is the
    wall time of the whole execution including retry waits. HTTP status codes are HTTP's; gRPC ones
    are the numeric ``grpc.StatusCode`` (0 = OK).
    """

    success: bool
    status_code: int | None
    response: str | None
    error: str | None
    cost_ms: int
    retry_times: int
    used_fallback: bool
    attempts: list[AttemptResult] = field(default_factory=list)
    response_truncated: bool = False
    instance: str | None = None          # the deciding call's registered instance, if the target was a name


class Executors:
    """The executors of one scheduler process, one per kind (:data:`EXECUTORS_BY_KIND`): HTTP pool, gRPC
    channels, SHELL processes, each with its worker limit.

    Create once per process (per event loop), ``await start()`` inside the loop, ``await close()`` on
    shutdown. Calls beyond ``http_workers``/``grpc_workers`` wait for a slot.
    """

    def __init__(self, http_workers: int, grpc_workers: int, egress: EgressPolicy,
                 shell: ShellSettings | None = None, shell_identities: ShellIdentities | None = None):
        """``shell`` None: SHELL calls are refused (``job.shell.*`` with ``enabled`` off), read from the
        configuration itself, not Django's settings, so a process without them (bench/limits.py) can call."""
        self.egress = egress
        settings = ExecutorSettings(http_workers=http_workers, grpc_workers=grpc_workers, egress=egress,
                                    shell=shell or replace(ShellSettings.from_config(config), enabled=False),
                                    shell_identities=shell_identities or ShellIdentities())
        self.by_kind: dict[str, Executor[Any]] = {
            kind: implementation.for_node(settings) for kind, implementation in EXECUTORS_BY_KIND.items()}

    @property
    def http(self) -> HttpExecutor:
        """The HTTP executor (alert webhooks send through it too)."""
        return self.by_kind["HTTP"]  # type: ignore[return-value]

    @property
    def grpc(self) -> GrpcExecutor:
        return self.by_kind["GRPC"]  # type: ignore[return-value]

    @property
    def shell(self) -> ShellExecutor:
        return self.by_kind["SHELL"]  # type: ignore[return-value]

    @property
    def queued(self) -> int:
        """Calls waiting for a worker slot (every kind)."""
        return sum(executor.slots.waiting for executor in self.by_kind.values())

    async def start(self) -> None:
        for executor in self.by_kind.values():
            await executor.start()

    async def close(self) -> None:
        for executor in self.by_kind.values():
            await executor.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def probe(self, kind: str, address: str, name: str) -> bool:
        """Health check of one registered instance (the router's checker): gRPC health, or TCP for HTTP."""
        executor = self.by_kind.get(kind.upper())
        return await executor.probe(address, name) if executor is not None else False  # type: ignore[attr-defined]

    async def call(self, target: Target, ctx: CallContext) -> CallResult:
        """One call to one concrete target, by the executor of its kind."""
        return await self.by_kind[target.kind].call(target, ctx)


async def execute(plan: ExecutionPlan, executors: Executors,
                  router: Router | None = None) -> ExecutionOutcome:
    """Run one fire of a task to its final outcome. Raises only ``CancelledError`` (kill).

    A target that names the executor registry is resolved by ``router`` before each call (no router: the call
    fails "no executor registry on this node"); route strategy ``failover`` tries the next live instance within
    the same call when a connection cannot be established."""
    if not plan.timeout or plan.timeout <= 0:
        return ExecutionOutcome(success=False, status_code=None, response=None, cost_ms=0, retry_times=0,
                                error="invalid task: timeout must be positive", used_fallback=False)
    if not plan.calls:
        return ExecutionOutcome(success=False, status_code=None, response=None, cost_ms=0, retry_times=0,
                                used_fallback=False,
                                error=f"unsupported task type {plan.task_type!r} "
                                      f"(executors handle {', '.join(EXECUTORS_BY_KIND)})")
    started = time.monotonic()
    attempts: list[AttemptResult] = []
    max_retry = max(0, int(plan.max_retry))
    deciding: tuple[AttemptResult, CallResult] | None = None
    last_round: list[AttemptResult] = []

    for attempt in range(max_retry + 1):
        if attempt:
            await asyncio.sleep(max(0.0, plan.retry_interval))
        last_round = []
        permanent = True
        for role, target in plan.calls:
            call_started = time.monotonic()
            wall = time.time()
            # A "djs.attempt" span per call; the target receives that span's context as traceparent.
            with spans.attempt_span(task_id=plan.task_id, task_type=plan.task_type, attempt=attempt,
                                    role=role, target=target) as traced:
                ctx = plan.context(attempt, traced.traceparent)
                address, instance, result = await _call(plan, role, target, ctx, executors, router)
                traced.done(result.success, result.status_code, result.error)
            record = AttemptResult(
                attempt=attempt, target=role, address=address,
                success=result.success, status_code=result.status_code, error=result.error,
                cost_ms=_ms(time.monotonic() - call_started), started_at=wall,
                response_truncated=result.response_truncated, instance=instance)
            attempts.append(record)
            last_round.append(record)
            deciding = (record, result)
            if result.success:
                return _outcome(started, attempts, record, result, attempt)
            permanent = permanent and result.permanent
        if permanent:
            break

    assert deciding is not None
    record, result = deciding
    outcome = _outcome(started, attempts, record, result, attempts[-1].attempt)
    if len(last_round) > 1:
        outcome.error = bound_error("; ".join(f"{r.target}: {r.error}" for r in last_round), ERROR_LIMIT)
    return outcome


async def _call(plan: ExecutionPlan, role: str, target: Target, ctx: CallContext, executors: Executors,
                router: Router | None) -> tuple[str | None, str | None, CallResult]:
    """One call to the primary or fallback target: (address called, registered instance or None, result). A
    registry name is resolved here, before the executor is called."""
    named = target.named()
    if named is None:
        return target.address, None, await executors.call(target, ctx)
    if router is None:
        return None, None, CallResult(False, error=f"no executor registry on this node for {named.name}")
    if plan.pinned and role == PRIMARY:  # a broadcast shard calls its own instance
        picks = [router.pinned(named, plan.pinned)]
    else:
        try:
            picks = await router.route(named, plan.department_id, plan.route_strategy, plan.task_id)
        except routing.NoLiveExecutor as exc:
            return None, None, CallResult(False, error=str(exc))
    candidates = picks if plan.route_strategy == routing.FAILOVER else picks[:1]
    tried: list[str] = []
    for n, pick in enumerate(candidates):
        router.begin(pick)
        result: CallResult | None = None
        try:
            result = await executors.call(target.at(pick.address), ctx)
        finally:  # a kill (CancelledError) teaches nothing about the instance's health
            router.end(pick, unreachable=None if result is None else result.unreachable,
                       success=result is not None and result.success)
        if result.unreachable and plan.route_strategy == routing.FAILOVER and n < len(candidates) - 1:
            tried.append(pick.instance)
            continue
        if tried and result.error:
            result.error = bound_error(f"{result.error} (after failing over from {', '.join(tried)})", ERROR_LIMIT)
        return pick.address, pick.instance, result
    raise AssertionError("route() answers at least one instance")


def _outcome(started: float, attempts: list[AttemptResult], record: AttemptResult, result: CallResult,
             attempt: int) -> ExecutionOutcome:
    return ExecutionOutcome(
        success=result.success, status_code=result.status_code, response=result.response,
        error=None if result.success else result.error, cost_ms=_ms(time.monotonic() - started),
        retry_times=attempt, used_fallback=record.target == FALLBACK, attempts=attempts,
        response_truncated=result.response_truncated, instance=record.instance)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
