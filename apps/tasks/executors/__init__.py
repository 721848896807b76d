"""Executors of HTTP and gRPC tasks (see docs/executors.md).

Public API: :class:`ExecutionSpec` (task snapshot), :func:`execute` (one fire to its outcome),
:class:`Executors` (shared clients of a scheduler process), :class:`ExecutionOutcome` and
:class:`AttemptResult` (what gets recorded), and the capture bounds.
"""
from .base import AttemptResult, ExecutionOutcome, ExecutionSpec, Executors, execute
from .common import ERROR_LIMIT, RESPONSE_LIMIT

__all__ = [
    "AttemptResult", "ERROR_LIMIT", "ExecutionOutcome", "ExecutionSpec", "Executors", "RESPONSE_LIMIT",
    "execute",
]
