"""Build, start and stop the DJS gRPC server (``manage.py rungrpc``; tests run it in-process).

A synchronous ``grpc.server`` with a thread pool: Django's ORM is synchronous, and each handler thread keeps
its own database connection (closed when stale by :class:`rpc.interceptors.DatabaseInterceptor`). Served:
the DJS services (SERVICE_NAMES), ``grpc.health.v1.Health`` (overall ``""`` and per service) and server reflection.
"""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import replace
from typing import Any

import grpc
from django.conf import settings
from django.db import connections
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from djs_platform.conf import RpcSettings
from rpc.checks import InputInterceptor
from rpc.interceptors import AuthInterceptor, DatabaseInterceptor, ErrorInterceptor, LoggingInterceptor
from rpc.servicers import SERVICE_NAMES, add_servicers

log = logging.getLogger("djs.rpc")

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
#: Outermost first: a call is logged, its errors mapped, its connections tidied, authenticated, then its request
#: message checked (rpc.checks: undecodable or hostile input is INVALID_ARGUMENT).
INTERCEPTORS = (LoggingInterceptor, ErrorInterceptor, DatabaseInterceptor, AuthInterceptor, InputInterceptor)


def rpc_settings(**overrides: Any) -> RpcSettings:
    """``settings.DJS_RPC`` with the overrides that are not None (``manage.py rungrpc --host/--port/...``)."""
    return replace(settings.DJS_RPC, **{k: v for k, v in overrides.items() if v is not None})


def server_options(config: RpcSettings) -> list[tuple[str, int]]:
    """The ``grpc.server`` options of ``rpc.*``."""
    keepalive_ms = max(1000, int(config.keepalive_time * 1000))
    return [
        # A port already in use must fail loudly, not be shared with another server.
        ("grpc.so_reuseport", 0),
        ("grpc.max_concurrent_streams", config.max_concurrent_streams),
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", max(1000, int(config.keepalive_timeout * 1000))),
        # Clients may keep idle connections alive with pings as frequent as ours.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", keepalive_ms),
    ]



class RpcServer:
    """One server: ``start()`` binds and serves (``port`` is the bound port, useful with port 0),
    ``stop(grace)`` reports NOT_SERVING, lets running calls finish within ``grace`` seconds and stops."""

    def __init__(self, config: RpcSettings | None = None,
                 extra_handlers: Iterable[grpc.GenericRpcHandler] = ()):
        self.config = config or settings.DJS_RPC
        self.extra_handlers = tuple(extra_handlers)
        self.port: int | None = None
        self.server: grpc.Server | None = None
        self.health: health.HealthServicer | None = None
        self._executor: futures.ThreadPoolExecutor | None = None

    @property
    def target(self) -> str:
        """``host:port`` for a client channel (loopback when listening on every address)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(self.config.host, self.config.host)
        host = f"[{host.strip('[]')}]" if ":" in host else host
        return f"{host}:{self.port}"

    def start(self) -> "RpcServer":
        self._executor = futures.ThreadPoolExecutor(max_workers=self.config.max_workers,
                                                    thread_name_prefix="djs-grpc")
        server = grpc.server(self._executor, interceptors=[cls() for cls in INTERCEPTORS],
                             options=server_options(self.config), handlers=self.extra_handlers or None)
        add_servicers(server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        reflection.enable_server_reflection((*SERVICE_NAMES, HEALTH_SERVICE, reflection.SERVICE_NAME), server)
        try:
            port = server.add_insecure_port(self.config.address)
        except RuntimeError as exc:  # grpcio raises when the address cannot be bound
            port, problem = 0, f": {exc}"
        else:
            problem = ""
        if not port:
            server.stop(None)
            self._executor.shutdown(wait=False)
            raise RuntimeError(f"gRPC cannot listen on {self.config.address}{problem}")
        server.start()
        self.server, self.port = server, port
        return self

    def stop(self, grace: float = 10.0) -> None:
        """Graceful: new calls are refused, running calls get ``grace`` seconds, then the rest is cancelled."""
        if self.server is None:
            return
        if self.health is not None:
            self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self.server = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        connections.close_all()

    def __enter__(self) -> "RpcServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop(grace=1.0)


def serve(config: RpcSettings | None = None, grace: float = 10.0,
          on_ready: Callable[[RpcServer], None] | None = None, stop_event: threading.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop_event``), then stop gracefully. Blocks."""
    stop_event = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: stop_event.set())
    server = RpcServer(config).start()
    log.info("gRPC serving %s on %s (%d workers)", ", ".join(SERVICE_NAMES), server.config.address,
             server.config.max_workers)
    if on_ready is not None:
        on_ready(server)
    stop_event.wait()
    log.info("gRPC stopping: finishing running calls (grace %.0fs)", grace)
    server.stop(grace)
    log.info("gRPC stopped")
