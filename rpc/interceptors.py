"""Server interceptors: logging, error mapping, database connection hygiene and authentication.

Installed outermost first (:data:`rpc.server.INTERCEPTORS`)::

    Logging -> Errors -> Database -> Auth -> servicer

* :class:`AuthInterceptor` requires ``authorization: Bearer <access token>`` (or ``Bearer djs_pat_...``, a personal
  API token, issue 19) on every call except
  ``auth.AuthService`` Authenticate, ValidateToken and RefreshToken (their token travels in the request, as the
  seed's client sends it; DESIGN §8, §14.4) and the health and reflection services, checks it exactly like the REST
  API does (signature, expiry, revocation, active user) and hands the servicer an :class:`Actor` with
  ``via="grpc"`` through a context variable (:func:`current_actor`).
* :class:`DatabaseInterceptor` calls ``close_old_connections()`` before and after every handler, as Django's
  request cycle does, so a handler thread never reuses a broken or expired connection.
* :class:`ErrorInterceptor` turns every exception into a gRPC status through :mod:`rpc.errors`.
* :class:`LoggingInterceptor` logs method, status, duration and user of each call and counts it in the
  Prometheus metrics ``djs_grpc_requests_total{method, code}`` and ``djs_grpc_request_duration_seconds``.

Only unary-unary handlers are wrapped (all DJS methods are unary); the streaming reflection service and
the health service's ``Watch`` pass through untouched.
"""
from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import grpc
from django.db import close_old_connections
from django.utils import translation
from django.utils.translation import gettext

from djs_platform import errors, metrics
from djs_platform.actor import Actor, client_ip
from djs_platform.middleware import pick_language
from djs_platform.tokens import authenticate_bearer
from rpc.errors import to_status

log = logging.getLogger("djs.rpc")

Behavior = Callable[[Any, grpc.ServicerContext], Any]

#: Methods callable without a token: logging in, the two whose token is in the request (checked by the servicer,
#: rate-limited per address), and the standard health and reflection services. Metadata sent to them is ignored.
PUBLIC_METHODS = frozenset({"/auth.AuthService/Authenticate", "/auth.AuthService/ValidateToken",
                            "/auth.AuthService/RefreshToken"})
PUBLIC_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                   "/grpc.reflection.v1.ServerReflection/")

_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("djs_rpc_actor", default=None)
# Per-call facts the logging interceptor reports (the user is known only after authentication, further in).
_call_info: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("djs_rpc_call", default=None)


def current_actor() -> Actor:
    """The authenticated caller of the call being served (set by :class:`AuthInterceptor`)."""
    actor = _actor.get()
    if actor is None:  # a servicer reached without the interceptor: refuse rather than act as nobody
        raise errors.Unauthenticated(gettext("not authenticated"))
    return actor


def is_public(method: str) -> bool:
    return method in PUBLIC_METHODS or method.startswith(PUBLIC_SERVICES)


def metadata(context: grpc.ServicerContext) -> dict[str, str]:
    """Invocation metadata as a dict (last value wins); binary (``-bin``) entries are left out."""
    return {key.lower(): value for key, value in (context.invocation_metadata() or ())
            if isinstance(value, str)}


def peer_address(context: grpc.ServicerContext) -> str:
    """``ipv4:10.0.0.5:53211`` / ``ipv6:[::1]:53211`` (possibly %-encoded) -> the bare address."""
    peer = unquote(context.peer() or "")
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return ""


def client_address(context: grpc.ServicerContext) -> str:
    """The caller's address; ``x-forwarded-for`` is believed only from a trusted proxy, as in REST."""
    meta = metadata(context)
    shim = SimpleNamespace(META={"REMOTE_ADDR": peer_address(context),
                                 "HTTP_X_FORWARDED_FOR": meta.get("x-forwarded-for", "")})
    return client_ip(shim)


def user_agent(context: grpc.ServicerContext) -> str:
    return metadata(context).get("user-agent", "")[:255]


def _wrap_unary(handler: grpc.RpcMethodHandler | None,
                wrap: Callable[[Behavior], Behavior]) -> grpc.RpcMethodHandler | None:
    if handler is None or handler.request_streaming or handler.response_streaming or handler.unary_unary is None:
        return handler
    return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary),
                                               request_deserializer=handler.request_deserializer,
                                               response_serializer=handler.response_serializer)


class AuthInterceptor(grpc.ServerInterceptor):
    """``authorization: Bearer <token>`` -> :class:`Actor` (``via="grpc"``), or UNAUTHENTICATED.

    Revocation is checked on every call (logout, password change, disable, role change take effect at once,
    in every process), and permissions are read from the database per call, as in REST. Personal API tokens
    (``djs_pat_...``) go through the same check as in REST (:func:`djs_platform.tokens.authenticate_bearer`).
    """

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        handler = continuation(handler_call_details)
        if is_public(method):
            return handler

        def wrap(behavior: Behavior) -> Behavior:
            def authenticated(request: Any, context: grpc.ServicerContext) -> Any:
                user, _token = authenticate_bearer(self.bearer_token(context))
                actor = Actor(user=user, ip=client_address(context), user_agent=user_agent(context), via="grpc")
                info = _call_info.get()
                if info is not None:
                    info["user"] = user.username
                token = _actor.set(actor)
                try:
                    return behavior(request, context)
                finally:
                    _actor.reset(token)
            return authenticated

        return _wrap_unary(handler, wrap)

    @staticmethod
    def bearer_token(context: grpc.ServicerContext) -> str:
        header = metadata(context).get("authorization", "")
        if not header:
            raise errors.Unauthenticated(gettext("missing authorization metadata: send 'authorization: Bearer "
                                                 "<token>'"))
        parts = header.split()
        if len(parts) != 2 or parts[0] != "Bearer":
            raise errors.Unauthenticated(gettext("malformed authorization metadata: use 'Bearer <token>'"))
        return parts[1]


class DatabaseInterceptor(grpc.ServerInterceptor):
    """Close unusable or expired connections before and after each handler (Django's request cycle).
    Health and reflection never touch the database and are left alone."""

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(PUBLIC_SERVICES):
            return continuation(handler_call_details)

        def wrap(behavior: Behavior) -> Behavior:
            def with_connections(request: Any, context: grpc.ServicerContext) -> Any:
                close_old_connections()
                try:
                    return behavior(request, context)
                finally:
                    close_old_connections()
            return with_connections

        return _wrap_unary(continuation(handler_call_details), wrap)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Every exception of a handler becomes a status through :func:`rpc.errors.to_status` (one mapping).

    The call runs in the language of its ``accept-language`` metadata, else ``server.language`` (docs/i18n.md),
    so messages and field errors read like REST's; it is activated for this call on this handler thread and
    deactivated after it, never carried over to the next call the thread serves."""

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method

        def wrap(behavior: Behavior) -> Behavior:
            def mapped(request: Any, context: grpc.ServicerContext) -> Any:
                translation.activate(pick_language(metadata(context).get("accept-language")))
                try:
                    return behavior(request, context)
                except Exception as exc:  # noqa: BLE001 - the one place that maps every failure
                    if context.code() not in (None, grpc.StatusCode.OK):
                        raise  # already aborted with an explicit status further in
                    status = to_status(exc, method)
                    context.set_trailing_metadata(status.trailers)
                    context.abort(status.code, status.message)
                finally:
                    translation.deactivate()
            return mapped

        return _wrap_unary(continuation(handler_call_details), wrap)


class LoggingInterceptor(grpc.ServerInterceptor):
    """One line per call: method, status, milliseconds, user (health checks at DEBUG only); and the call's
    metrics. Only registered methods get here, so the ``method`` label stays a bounded set."""

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        level = logging.DEBUG if method.startswith(PUBLIC_SERVICES) else logging.INFO
        label = method.lstrip("/")

        def wrap(behavior: Behavior) -> Behavior:
            def logged(request: Any, context: grpc.ServicerContext) -> Any:
                started = time.monotonic()
                info = {"user": "-"}
                token = _call_info.set(info)
                outcome = "OK"
                try:
                    return behavior(request, context)
                except Exception:
                    code = context.code()
                    outcome = code.name if code is not None else "UNKNOWN"
                    raise
                finally:
                    _call_info.reset(token)
                    elapsed = time.monotonic() - started
                    metrics.grpc_requests.labels(method=label, code=outcome).inc()
                    metrics.grpc_latency.labels(method=label).observe(elapsed)
                    if log.isEnabledFor(level):
                        log.log(level, "grpc %s %s %.1fms user=%s peer=%s", method, outcome, elapsed * 1000,
                                info["user"], peer_address(context))
            return logged

        return _wrap_unary(continuation(handler_call_details), wrap)
