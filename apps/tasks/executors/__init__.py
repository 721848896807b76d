"""Executors of HTTP, gRPC and SHELL tasks (see docs/executors.md).

Public API: :class:`ExecutionPlan` (one fire as planned: its targets, bounds, identity), :func:`execute` (one
fire to its outcome), :class:`Executors` (the executors of a scheduler process, one per kind:
``EXECUTORS_BY_KIND``), :class:`ExecutionOutcome` and :class:`AttemptResult` (what gets recorded), and the
capture bounds. The targets are in :mod:`.targets`, the executor protocol in :mod:`.protocol`, the fire and
attempt spans in :mod:`.spans`.
"""
from .base import EXECUTORS_BY_KIND, AttemptResult, ExecutionOutcome, ExecutionPlan, Executors, execute
from .common import ERROR_LIMIT, RESPONSE_LIMIT
from .protocol import CallContext, Executor
from .targets import GrpcTarget, HttpTarget, ShellTarget

__all__ = [
    "ERROR_LIMIT", "EXECUTORS_BY_KIND", "RESPONSE_LIMIT", "AttemptResult", "CallContext", "ExecutionOutcome",
    "ExecutionPlan", "Executor", "Executors", "GrpcTarget", "HttpTarget", "ShellTarget",
    "execute",
]
