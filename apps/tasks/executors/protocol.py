"""The shape every executor has: :class:`Executor` ``call(target, ctx)``, the :class:`CallContext` a call
carries from its fire, and the :class:`ExecutorSettings` a node creates its executors with."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from djs_platform.egress import EgressPolicy

from .common import CallResult
from .slots import Slots

if TYPE_CHECKING:
    from djs_platform.conf import ShellSettings

    from .runas import ShellIdentities

T_contra = TypeVar("T_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class CallContext:
    """What one call carries from its fire, whatever the kind: who it is for, the bound, and what the target
    receives besides the request itself (Idempotency-Key, recovery marker, broadcast shard, traceparent)."""

    task_id: int
    idempotency_key: str                 # "djs-<task id>-<scheduled epoch ms>[-s<shard>]", the whole fire's
    timeout: float                       # seconds, this call (from when it holds a worker slot)
    record_id: int = 0                   # names the SHELL log file
    attempt: int = 0                     # 0 the first try, 1.. the retries
    # A re-run of an execution that had started on a node that died (it may have reached the target):
    # HTTP header X-DJS-Recovery: 1, gRPC metadata djs-recovery: 1, SHELL DJS_RECOVERY=1.
    recovery: bool = False
    shard: tuple[int, int] | None = None  # a broadcast shard (index, total): X-DJS-Shard-*, djs-shard-*
    traceparent: str | None = None       # the attempt span's context (or an explicit one), else None


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    """What a node's executors are made from (``job.httpWorkers``, ``job.grpcWorkers``, ``job.shell.*`` and
    who SHELL commands run as, ``security.egress``)."""

    http_workers: int
    grpc_workers: int
    egress: EgressPolicy
    shell: ShellSettings
    shell_identities: ShellIdentities


class Executor(Protocol[T_contra]):
    """One kind of task's executor (``EXECUTORS_BY_KIND`` in apps/tasks/executors/base.py). ``call`` is one
    bounded call to one concrete target (a registry name was resolved before it); it never raises except
    ``CancelledError`` (a kill), and waits for one of ``slots`` first."""

    slots: Slots

    @classmethod
    def for_node(cls, settings: ExecutorSettings) -> Self: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def call(self, target: T_contra, ctx: CallContext) -> CallResult: ...
