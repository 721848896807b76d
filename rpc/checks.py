"""The generic input check of every gRPC request (issue 16, findings 3 and 13).

:class:`InputInterceptor` sits innermost (:data:`rpc.server.INTERCEPTORS`), right before the servicer:

* bytes that do not decode as the method's request message answer INVALID_ARGUMENT ("request message could not
  be decoded"). grpcio decodes before any interceptor runs and answers INTERNAL ("Exception deserializing
  request!") when it cannot, so the interceptor hands grpcio a deserializer that turns the failure into a marker
  the wrapped handler raises as :class:`~djs_platform.errors.InvalidArgument`. Authentication runs first (it
  needs only metadata), so a caller without a token still learns nothing but UNAUTHENTICATED.
* every decoded message goes through :func:`djs_platform.validation.check_message`: lone surrogates, NUL in a
  header value, and JSON text fields (``ScheduleTaskRequest.params``) nested deeper than
  ``server.jsonMaxDepth`` answer INVALID_ARGUMENT with the proto field's path in ``djs-fields``.

Health and reflection are left alone (no DJS input).
"""
from __future__ import annotations

from typing import Any

import grpc
from django.utils.translation import gettext as _

from djs_platform import errors, validation
from rpc.interceptors import PUBLIC_SERVICES


class Undecodable:
    """What the tolerant deserializer returns for bytes that are not a message of the method's type."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def tolerant(deserializer):
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and whatever a codec raises
            return Undecodable(type(exc).__name__)
    return decode


class InputInterceptor(grpc.ServerInterceptor):
    """Refuse undecodable and hostile request messages with INVALID_ARGUMENT before a servicer sees them."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if (handler is None or handler_call_details.method.startswith(PUBLIC_SERVICES)
                or handler.request_streaming or handler.response_streaming or handler.unary_unary is None):
            return handler
        behavior = handler.unary_unary

        def checked(request: Any, context: grpc.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                raise errors.InvalidArgument(_("request message could not be decoded (%(reason)s): send the "
                                               "method's request message")
                                             % {"reason": request.reason})
            validation.check_message(request)
            return behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(checked, request_deserializer=tolerant(handler.request_deserializer),
                                                   response_serializer=handler.response_serializer)
