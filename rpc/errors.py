"""The one mapping from the DJS error vocabulary (:mod:`djs_platform.errors`) to gRPC status codes.

Servicers never build statuses themselves: they (and the services they call) raise ``ApplicationError``s;
:class:`rpc.interceptors.ErrorInterceptor` turns each into an aborted call through :func:`to_status`. The
DJS code travels along as trailing metadata (``djs-code``; ``djs-fields`` holds field errors as JSON), so a
client can tell e.g. a conflict from an unmet precondition without parsing messages.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import grpc

from djs_platform import errors
from djs_platform.envelope import to_application_error
from djs_platform.validation import clean_text

log = logging.getLogger("djs.rpc")

STATUS_BY_CODE: dict[int, grpc.StatusCode] = {
    4001: grpc.StatusCode.INVALID_ARGUMENT,
    4003: grpc.StatusCode.PERMISSION_DENIED,
    4004: grpc.StatusCode.NOT_FOUND,
    4005: grpc.StatusCode.UNIMPLEMENTED,
    4009: grpc.StatusCode.FAILED_PRECONDITION,
    4010: grpc.StatusCode.UNAUTHENTICATED,
    4029: grpc.StatusCode.RESOURCE_EXHAUSTED,
    5000: grpc.StatusCode.INTERNAL,
}


@dataclass(frozen=True)
class RpcStatus:
    code: grpc.StatusCode
    message: str
    trailers: tuple[tuple[str, str], ...] = field(default=())


def status_of(exc: errors.ApplicationError) -> grpc.StatusCode:
    # Subclasses first: a taken name and a dependency outage have statuses of their own.
    if isinstance(exc, errors.AlreadyExists):
        return grpc.StatusCode.ALREADY_EXISTS
    if isinstance(exc, errors.ServiceUnavailable):
        return grpc.StatusCode.UNAVAILABLE
    return STATUS_BY_CODE.get(exc.code, grpc.StatusCode.INTERNAL)


def to_status(exc: BaseException, method: str = "") -> RpcStatus:
    """The status a failed call answers. Unexpected exceptions are logged with their traceback and
    answer INTERNAL with a generic message (nothing internal leaks to the client)."""
    app_exc = to_application_error(exc)
    if app_exc is None:
        log.error("unhandled error in %s", method or "gRPC call", exc_info=exc)
        app_exc = errors.InternalError()
    elif isinstance(app_exc, errors.ServiceUnavailable):
        log.error("dependency unavailable in %s: %s", method or "gRPC call", exc)
    trailers = [("djs-code", str(app_exc.code))]
    if app_exc.fields:
        trailers.append(("djs-fields", json.dumps(errors.text(app_exc.fields), ensure_ascii=True, default=str)))
    if isinstance(app_exc, errors.TooManyRequests) and app_exc.retry_after:
        trailers.append(("retry-after", str(app_exc.retry_after)))
    # A message may echo what the caller sent; grpc must be able to encode it (lone surrogates -> U+FFFD).
    return RpcStatus(status_of(app_exc), clean_text(str(app_exc.message)), tuple(trailers))


def item_message(exc: BaseException, method: str = "") -> str:
    """``"INVALID_ARGUMENT: cron: ..."``: a per-item failure inside a batch answer."""
    status = to_status(exc, method)
    return f"{status.code.name}: {status.message}"
