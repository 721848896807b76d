"""What one call goes to, per kind of task: :class:`HttpTarget`, :class:`GrpcTarget`, :class:`ShellTarget`.

A fire's targets are built once from its task row (:func:`calls_of`), when the node plans the fire. A target
may name the executor registry (``executor://billing-http/run``, ``orders.Billing``); the router resolves such
a name before each call (apps/tasks/executors/base.py, ``_call``) and the executor receives :meth:`at` of the
picked instance, so an executor only ever sees concrete addresses, each of which then passes the egress
policy.

:func:`calls_of` is also the one place that decides the fallback: the calls of one attempt are the primary,
then the fallback (``fallback_url``, or ``fallback_grpc_service`` with ``fallback_grpc_method`` defaulting to
``grpc_method``) when the task has one, made only after the primary failed. SHELL tasks have no fallback.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from apps.tasks import routing

PRIMARY, FALLBACK = "primary", "fallback"


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """An HTTP request: the URL (or ``executor://name/path``), method, the task's headers and body."""

    kind: ClassVar[str] = "HTTP"
    status_attribute: ClassVar[str] = "http.response.status_code"  # the attempt span's result attribute

    url: str | None
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None

    @property
    def address(self) -> str | None:
        return self.url

    def named(self) -> routing.NamedTarget | None:
        return routing.named_http(self.url)

    def at(self, address: str) -> HttpTarget:
        return replace(self, url=address)

    def span_attributes(self) -> dict[str, Any]:
        """Where the call goes, without credentials or query strings (they may hold a task's tokens)."""
        parts = urlsplit(self.url or "")
        attributes: dict[str, Any] = {"http.request.method": (self.method or "GET").upper(),
                                      "url.scheme": parts.scheme, "server.address": parts.hostname or "",
                                      "url.path": parts.path or "/"}
        if parts.port:
            attributes["server.port"] = parts.port
        return attributes


@dataclass(frozen=True, slots=True)
class GrpcTarget:
    """A unary gRPC call: ``host:port/package.Service`` (or a registry name), the method, JSON params."""

    kind: ClassVar[str] = "GRPC"
    status_attribute: ClassVar[str] = "rpc.grpc.status_code"

    service: str | None
    method: str | None
    params: str | None = None

    @property
    def address(self) -> str | None:
        return self.service

    def named(self) -> routing.NamedTarget | None:
        return routing.named_grpc(self.service)

    def at(self, address: str) -> GrpcTarget:
        return replace(self, service=address)

    def span_attributes(self) -> dict[str, Any]:
        hostport, _, service = (self.service or "").partition("/")
        host, _, port = hostport.rpartition(":")
        attributes: dict[str, Any] = {"rpc.system": "grpc", "rpc.service": service,
                                      "rpc.method": self.method or "", "server.address": host.strip("[]")}
        if port.isdigit():
            attributes["server.port"] = int(port)
        return attributes


@dataclass(frozen=True, slots=True)
class ShellTarget:
    """A local command: argv, working directory, the task's environment, and the task's department with its
    ancestors, nearest first (they pick the user the command runs as: ``job.shell.runAsDepartments``)."""

    kind: ClassVar[str] = "SHELL"
    status_attribute: ClassVar[str] = "process.exit.code"

    command: str | None
    args: tuple[str, ...] = ()
    workdir: str | None = None
    env: Mapping[str, str] | None = None
    departments: tuple[int, ...] = ()

    @property
    def address(self) -> str | None:
        return self.command

    def named(self) -> None:
        return None

    def at(self, address: str) -> ShellTarget:
        return self

    def span_attributes(self) -> dict[str, Any]:
        return {"process.executable.path": self.command or ""}  # not the arguments: they may carry secrets


Target = HttpTarget | GrpcTarget | ShellTarget
Call = tuple[str, Target]  # (PRIMARY or FALLBACK, target)


def _http(row: Mapping[str, Any], departments: tuple[int, ...]) -> tuple[Call, ...]:
    primary = HttpTarget(url=row.get("url"), method=row.get("http_method") or "GET",
                         headers=row.get("headers") or {}, body=row.get("body"))
    fallback = row.get("fallback_url")
    return ((PRIMARY, primary), (FALLBACK, primary.at(fallback))) if fallback else ((PRIMARY, primary),)


def _grpc(row: Mapping[str, Any], departments: tuple[int, ...]) -> tuple[Call, ...]:
    primary = GrpcTarget(service=row.get("grpc_service"), method=row.get("grpc_method"),
                         params=row.get("grpc_params"))
    fallback = row.get("fallback_grpc_service")
    if not fallback:
        return ((PRIMARY, primary),)
    return ((PRIMARY, primary),
            (FALLBACK, GrpcTarget(service=fallback, method=row.get("fallback_grpc_method") or primary.method,
                                  params=primary.params)))


def _shell(row: Mapping[str, Any], departments: tuple[int, ...]) -> tuple[Call, ...]:
    env = row.get("shell_env")
    return ((PRIMARY, ShellTarget(command=row.get("shell_command"), args=tuple(row.get("shell_args") or ()),
                                  workdir=row.get("shell_workdir"), env=dict(env) if env else None,
                                  departments=departments)),)


#: How each kind of task turns its row into the calls of one attempt.
CALLS_BY_KIND: dict[str, Callable[[Mapping[str, Any], tuple[int, ...]], tuple[Call, ...]]] = {
    "HTTP": _http, "GRPC": _grpc, "SHELL": _shell}


def calls_of(kind: str, row: Mapping[str, Any], departments: tuple[int, ...] = ()) -> tuple[Call, ...]:
    """The calls of one attempt of a task of ``kind``, in order: the primary, then the fallback if the task
    has one. ``row`` holds the task's columns (``url``, ``fallback_url``, ``grpc_service``, ``shell_command``,
    ...). An unknown kind has no calls."""
    build = CALLS_BY_KIND.get(kind)
    return build(row, departments) if build is not None else ()
