"""One execution of a task: attempts, fallback, retries, timeouts (DESIGN.md section 6).

:func:`execute` is a coroutine on the scheduler's event loop. Killing an execution is
``asyncio.Task.cancel()``: ``CancelledError`` propagates out of whatever the execution is awaiting
(a request, a gRPC call, the retry sleep, a queue slot) and every client-side resource it opened is
closed on the way out. Nothing here touches Django models; the caller snapshots the task into an
:class:`ExecutionSpec` at fire time and stores the :class:`ExecutionOutcome`.

Plan of one execution (``max_retry`` = R)::

    attempt 0:  primary  -> success? done : fallback (if set, at once) -> success? done
    wait retry_interval
    attempt 1:  primary  -> ...                                         (up to attempt R)

``timeout`` bounds each call (primary and fallback separately), measured from when the call gets a
worker slot (``job.httpWorkers`` / ``job.grpcWorkers``): time spent queued for a slot is not counted.
A failure that no retry can change (invalid task configuration, egress policy denial) on every
target of an attempt ends the execution early instead of waiting out the retries.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from apps.tasks import routing
from apps.tasks.routing import Router
from djs_platform import tracing
from djs_platform.egress import EgressPolicy

from .common import ERROR_LIMIT, CallResult, bound_error
from .grpc import GrpcExecutor
from .http import HttpExecutor
from .shell import ShellExecutor, ShellSettings

TASK_TYPES = ("HTTP", "GRPC", "SHELL")


@dataclass(frozen=True)
class ExecutionSpec:
    """A snapshot of the task taken at fire time (no Django models)."""

    task_id: int
    task_type: str                       # "HTTP" | "GRPC" | "SHELL"
    url: str | None
    http_method: str
    headers: dict[str, str]
    body: str | None
    fallback_url: str | None
    grpc_service: str | None             # "host:port/package.Service"
    grpc_method: str | None
    grpc_params: str | None              # JSON object text
    fallback_grpc_service: str | None
    fallback_grpc_method: str | None     # defaults to grpc_method
    timeout: float                       # seconds, per call
    max_retry: int                       # retries after the first attempt
    retry_interval: float                # seconds between attempts
    idempotency_key: str                 # "djs-<task id>-<scheduled epoch ms>", same for the whole fire
    traceparent: str | None = None
    record_id: int = 0                   # names the SHELL log file
    shell_command: str | None = None
    shell_args: tuple[str, ...] = ()
    shell_workdir: str | None = None
    shell_env: dict[str, str] | None = None
    department_path: tuple[int, ...] = ()  # SHELL: the task's department and its ancestors, nearest first
    department_id: int = 0               # where a registry name resolves first (then the department's ancestors)
    route_strategy: str = "round_robin"  # which registered instance gets a call to a name (apps/tasks/routing.py)
    # A re-run of an execution that had started on a node that died (it may have reached the target):
    # HTTP header X-DJS-Recovery: 1, gRPC metadata djs-recovery: 1, SHELL DJS_RECOVERY=1.
    recovery: bool = False
    # A broadcast shard (index, total): HTTP headers X-DJS-Shard-Index/-Total, gRPC metadata djs-shard-index/-total;
    # ``pinned`` its instance: the primary target's calls go there, not through the route strategy.
    shard: tuple[int, int] | None = None
    pinned: str | None = None

    @property
    def has_fallback(self) -> bool:
        return bool(self.target(fallback=True))

    def target(self, *, fallback: bool) -> str | None:
        """The primary or fallback target as the task names it (a URL or grpc service, maybe a registry name)."""
        if self.task_type == "GRPC":
            return self.fallback_grpc_service if fallback else self.grpc_service
        if self.task_type == "HTTP":
            return self.fallback_url if fallback else self.url
        return None


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
    """The shared clients of one scheduler process: HTTP pool, gRPC channels, worker limits.

    Create once per process (per event loop), ``await start()`` inside the loop, ``await close()`` on
    shutdown. Calls beyond ``http_workers``/``grpc_workers`` wait for a slot.
    """

    def __init__(self, http_workers: int, grpc_workers: int, egress: EgressPolicy,
                 shell: ShellSettings | None = None):
        self.egress = egress
        self.http = HttpExecutor(http_workers, egress)
        self.grpc = GrpcExecutor(grpc_workers, egress)
        self.shell = ShellExecutor(shell or ShellSettings())
        self._started = False

    @property
    def queued(self) -> int:
        """Calls waiting for a worker slot (HTTP, gRPC and SHELL)."""
        return self.http.queued + self.grpc.queued + self.shell.queued

    async def start(self) -> None:
        await self.http.start()
        await self.grpc.start()
        await self.shell.start()
        self._started = True

    async def close(self) -> None:
        self._started = False
        await self.http.close()
        await self.grpc.close()
        await self.shell.close()

    async def __aenter__(self) -> "Executors":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def probe(self, kind: str, address: str, name: str) -> bool:
        """Health check of one registered instance (the router's checker): gRPC health, or TCP for HTTP."""
        if kind == "grpc":
            return await self.grpc.serving(address, name)
        return await self.http.reachable(address)

    async def call(self, spec: ExecutionSpec, *, fallback: bool, attempt: int = 0,
                   address: str | None = None) -> tuple[str | None, CallResult]:
        """One call to the primary or the fallback target (``address``: the concrete target a registry name
        resolved to); returns (address, result)."""
        if spec.task_type == "SHELL":
            extra = {"DJS_TASK_ID": str(spec.task_id), "DJS_RECORD_ID": str(spec.record_id),
                     "DJS_IDEMPOTENCY_KEY": spec.idempotency_key,
                     "DJS_SCHEDULED_MS": spec.idempotency_key.rsplit("-", 1)[-1]}
            if spec.recovery:
                extra["DJS_RECOVERY"] = "1"
            if spec.traceparent:
                extra["TRACEPARENT"] = spec.traceparent
            return spec.shell_command, await self.shell.call(
                task_id=spec.task_id, record_id=spec.record_id, command=spec.shell_command, args=spec.shell_args,
                workdir=spec.shell_workdir, env=spec.shell_env, timeout=spec.timeout, attempt=attempt,
                extra_env=extra, departments=spec.department_path)
        if spec.task_type == "HTTP":
            url = address or (spec.fallback_url if fallback else spec.url)
            return url, await self.http.call(
                url=url or "", method=spec.http_method, headers=spec.headers, body=spec.body,
                idempotency_key=spec.idempotency_key, traceparent=spec.traceparent, timeout=spec.timeout,
                recovery=spec.recovery, shard=spec.shard)
        if spec.task_type == "GRPC":
            service = address or (spec.fallback_grpc_service if fallback else spec.grpc_service)
            method = (spec.fallback_grpc_method or spec.grpc_method) if fallback else spec.grpc_method
            return service, await self.grpc.call(
                service=service, method=method, params=spec.grpc_params,
                idempotency_key=spec.idempotency_key, traceparent=spec.traceparent, timeout=spec.timeout,
                recovery=spec.recovery, shard=spec.shard)
        return None, CallResult(False, error=f"unsupported task type {spec.task_type!r} "
                                             f"(executors handle {', '.join(TASK_TYPES)})", permanent=True)


async def execute(spec: ExecutionSpec, executors: Executors, router: Router | None = None) -> ExecutionOutcome:
    """Run one fire of a task to its final outcome. Raises only ``CancelledError`` (kill).

    A target that names the executor registry is resolved by ``router`` before each call (no router: the call
    fails "no executor registry on this node"); route strategy ``failover`` tries the next live instance within
    the same call when a connection cannot be established."""
    if not spec.timeout or spec.timeout <= 0:
        return ExecutionOutcome(success=False, status_code=None, response=None, cost_ms=0, retry_times=0,
                                error="invalid task: timeout must be positive", used_fallback=False)
    started = time.monotonic()
    attempts: list[AttemptResult] = []
    max_retry = max(0, int(spec.max_retry))
    deciding: tuple[AttemptResult, CallResult] | None = None
    last_round: list[AttemptResult] = []

    for attempt in range(max_retry + 1):
        if attempt:
            await asyncio.sleep(max(0.0, spec.retry_interval))
        last_round = []
        permanent = True
        for fallback in (False, True):
            if fallback and not spec.has_fallback:
                break
            call_started = time.monotonic()
            wall = time.time()
            # A "djs.attempt" span per call; the target receives that span's context as traceparent.
            with tracing.attempt_span(spec, attempt=attempt, fallback=fallback) as traced:
                address, instance, result = await _call(traced.spec, executors, router, fallback, attempt)
                traced.done(address, result.success, result.status_code, result.error)
            record = AttemptResult(
                attempt=attempt, target="fallback" if fallback else "primary", address=address,
                success=result.success, status_code=result.status_code, error=result.error,
                cost_ms=_ms(time.monotonic() - call_started), started_at=wall,
                response_truncated=result.response_truncated, instance=instance)
            attempts.append(record)
            last_round.append(record)
            deciding = (record, result)
            if result.success:
                return _outcome(spec, started, attempts, record, result, attempt)
            permanent = permanent and result.permanent
        if permanent:
            break

    assert deciding is not None
    record, result = deciding
    outcome = _outcome(spec, started, attempts, record, result, attempts[-1].attempt)
    if len(last_round) > 1:
        outcome.error = bound_error("; ".join(f"{r.target}: {r.error}" for r in last_round), ERROR_LIMIT)
    return outcome


async def _call(spec: ExecutionSpec, executors: Executors, router: Router | None, fallback: bool,
                attempt: int) -> tuple[str | None, str | None, CallResult]:
    """One call to the primary or fallback target: (address called, registered instance or None, result)."""
    named = routing.named(spec.task_type, spec.target(fallback=fallback))
    if named is None:
        address, result = await executors.call(spec, fallback=fallback, attempt=attempt)
        return address, None, result
    if router is None:
        return None, None, CallResult(False, error=f"no executor registry on this node for {named.name}")
    if spec.pinned and not fallback:  # a broadcast shard calls its own instance
        picks = [router.pinned(named, spec.pinned)]
    else:
        try:
            picks = await router.route(named, spec.department_id, spec.route_strategy, spec.task_id)
        except routing.NoLiveExecutor as exc:
            return None, None, CallResult(False, error=str(exc))
    candidates = picks if spec.route_strategy == routing.FAILOVER else picks[:1]
    tried: list[str] = []
    for n, pick in enumerate(candidates):
        router.begin(pick)
        result: CallResult | None = None
        try:
            address, result = await executors.call(spec, fallback=fallback, attempt=attempt, address=pick.address)
        finally:  # a kill (CancelledError) teaches nothing about the instance's health
            router.end(pick, unreachable=None if result is None else result.unreachable,
                       success=result is not None and result.success)
        if result.unreachable and spec.route_strategy == routing.FAILOVER and n < len(candidates) - 1:
            tried.append(pick.instance)
            continue
        if tried and result.error:
            result.error = bound_error(f"{result.error} (after failing over from {', '.join(tried)})", ERROR_LIMIT)
        return address, pick.instance, result
    raise AssertionError("route() answers at least one instance")


def _outcome(spec: ExecutionSpec, started: float, attempts: list[AttemptResult], record: AttemptResult,
             result: CallResult, attempt: int) -> ExecutionOutcome:
    return ExecutionOutcome(
        success=result.success, status_code=result.status_code, response=result.response,
        error=None if result.success else result.error, cost_ms=_ms(time.monotonic() - started),
        retry_times=attempt, used_fallback=record.target == "fallback", attempts=attempts,
        response_truncated=result.response_truncated, instance=record.instance)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))
