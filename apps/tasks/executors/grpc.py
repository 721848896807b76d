"""gRPC executor: one unary call of a gRPC task, typed at run time through server reflection.

``grpc_service`` is ``host:port/package.Service`` and ``grpc_method`` the method name; ``grpc_params``
is a JSON object. The executor asks the target's reflection service (v1alpha, then v1) for the file
that defines the service and its dependencies, builds request/response classes from them (cached per
target and service, dropped when a call suggests the schema changed), turns the params into the
request with ``json_format.ParseDict`` (an unknown field is an error, not silently ignored) and
stores the response as JSON.

Egress: the host is resolved and every address checked by the policy here, and the channel dials
the checked IPs (``ipv4:1.2.3.4:50051``) with ``grpc.default_authority`` set to the original
``host:port``, so DNS cannot answer differently between the check and the connection. Channels are
plaintext (TLS is a later addition, see docs/executors.md) and cached per authority and address set.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from djs_platform.egress import EgressDenied, EgressPolicy, parse_ip

from .common import (
    RESPONSE_LIMIT,
    BoundedCapture,
    CallResult,
    bound_error,
    decode_bounded,
    describe_exception,
    never_connected,
)
from .protocol import CallContext, ExecutorSettings
from .slots import Slots
from .targets import GrpcTarget

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # largest request/response/reflection message accepted
MAX_REFLECTED_FILES = 256            # a hostile reflection service cannot make us loop forever
REFLECTION_PATHS = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    # v1 has the same messages and field numbers as v1alpha, so the v1alpha classes serve both.
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
)
_SERVICE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_METHOD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TaskConfigError(ValueError):
    """The task's gRPC settings cannot work whatever the target does (no retry helps)."""


class SchemaError(Exception):
    """The target's schema (via reflection) does not fit the task: missing service/method, bad params."""


class _Unimplemented(Exception):
    """The reflection stream ended with UNIMPLEMENTED (reported through a different error)."""


@dataclass(frozen=True)
class GrpcAddress:
    host: str          # as written, IPv6 without brackets
    port: int
    service: str       # package.Service

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_NO_CONNECTION = re.compile(r"failed to connect|connection refused|dns resolution failed|"
                            r"name resolution|handshake|no route to host|network is unreachable", re.IGNORECASE)


def _never_connected(exc: grpc.aio.AioRpcError) -> bool:
    """UNAVAILABLE because no connection came up (gRPC core's "failed to connect to all addresses"): the call's
    request never left this process. A connection that broke during the call ("Socket closed") is not."""
    return exc.code() == grpc.StatusCode.UNAVAILABLE and bool(_NO_CONNECTION.search(exc.details() or ""))


def parse_target(text: str | None) -> GrpcAddress:
    """``host:port/package.Service`` (IPv6 as ``[::1]:50051/...``); raises :class:`TaskConfigError`."""
    if not text or "/" not in text:
        raise TaskConfigError(f"grpc_service must look like host:port/package.Service, got {text!r}")
    address, service = text.strip().split("/", 1)
    service = service.strip("/")
    if not _SERVICE_RE.match(service):
        raise TaskConfigError(f"invalid gRPC service name {service!r}")
    if address.startswith("["):
        host, sep, port_text = address[1:].partition("]:")
    else:
        host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TaskConfigError(f"grpc_service must name host:port, got {address!r}")
    return GrpcAddress(host=host, port=int(port_text), service=service)


def parse_method(name: str | None) -> str:
    name = (name or "").strip().rsplit("/", 1)[-1]
    if not _METHOD_RE.match(name):
        raise TaskConfigError(f"invalid gRPC method name {name!r}")
    return name


def parse_params(text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise TaskConfigError(f"grpc_params is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TaskConfigError("grpc_params must be a JSON object")
    return value


@dataclass
class _Schema:
    pool: descriptor_pool.DescriptorPool
    service: ServiceDescriptor


class GrpcExecutor:
    """Channels, reflected schemas and the ``job.grpcWorkers`` slots of one scheduler process."""

    def __init__(self, workers: int, egress: EgressPolicy):
        if workers < 1:
            raise ValueError("job.grpcWorkers must be at least 1")
        self.workers = workers
        self.egress = egress
        self.slots = Slots(workers)
        self._channels: dict[str, tuple[tuple[str, ...], grpc.aio.Channel]] = {}
        self._schemas: dict[tuple[str, str], _Schema] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._closing: set[asyncio.Task] = set()
        self.reflection_fetches = 0  # how often a schema was fetched (observability; cache hits do not count)

    @classmethod
    def for_node(cls, settings: ExecutorSettings) -> GrpcExecutor:
        return cls(settings.grpc_workers, settings.egress)

    async def start(self) -> None:
        self.slots = Slots(self.workers)

    async def close(self) -> None:
        channels = [ch for _, ch in self._channels.values()]
        self._channels.clear()
        self._schemas.clear()
        for channel in channels:
            await channel.close(grace=None)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    @property
    def in_use(self) -> int:
        """Calls currently holding a worker slot."""
        return self.slots.in_use

    def invalidate(self, target: GrpcAddress) -> None:
        """Forget the reflected schema of a target's service (the next call fetches it again)."""
        self._schemas.pop((target.authority, target.service), None)

    async def call(self, target: GrpcTarget, ctx: CallContext) -> CallResult:
        """One bounded unary call to a (resolved) target. Never raises except ``CancelledError`` (kill)."""
        try:
            address = parse_target(target.service)
            method_name = parse_method(target.method)
            payload = parse_params(target.params)
        except TaskConfigError as exc:
            return CallResult(False, error=bound_error(str(exc)), permanent=True)
        metadata: list[tuple[str, str]] = [("idempotency-key", ctx.idempotency_key)]
        if ctx.recovery:
            metadata.append(("djs-recovery", "1"))
        if ctx.shard is not None:
            metadata += [("djs-shard-index", str(ctx.shard[0])), ("djs-shard-total", str(ctx.shard[1]))]
        if ctx.traceparent:
            metadata.append(("traceparent", ctx.traceparent))
        timeout = ctx.timeout
        async with self.slots:
            try:
                async with asyncio.timeout(timeout) as deadline:
                    return await self._call(address, method_name, payload, tuple(metadata), deadline)
            except TimeoutError:
                return CallResult(False, status_code=grpc.StatusCode.DEADLINE_EXCEEDED.value[0],
                                  error=f"timed out after {timeout:g}s")
            except EgressDenied as exc:
                return CallResult(False, error=bound_error(str(exc)), permanent=True)
            except SchemaError as exc:
                self.invalidate(address)
                return CallResult(False, error=bound_error(str(exc)))
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL):
                    self.invalidate(address)  # the schema may have changed under us
                return CallResult(False, status_code=exc.code().value[0],
                                  error=bound_error(f"gRPC {exc.code().name}: {exc.details() or ''}".rstrip(": ")),
                                  unreachable=_never_connected(exc))
            except Exception as exc:  # noqa: BLE001 - never let one task crash the scheduler loop
                return CallResult(False, error=bound_error(describe_exception(exc)), unreachable=never_connected(exc))

    async def probe(self, address: str, name: str) -> bool:
        """The router's health check of one registered instance."""
        return await self.serving(address, name)

    async def serving(self, address: str, service: str, timeout: float = 2.0) -> bool:
        """The health check of a gRPC executor instance (``grpc.health.v1``): SERVING for the service (or, when
        the server does not know that name, for the server as a whole); a server without the health service
        counts as healthy when it answers at all. NOT_SERVING and no connection are unhealthy."""
        try:
            target = parse_target(f"{address}/{service}")
            channel = await self._channel(target)
        except Exception:  # noqa: BLE001 - a bad or denied address is not healthy
            return False
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                    response_deserializer=health_pb2.HealthCheckResponse.FromString)
        for name in (service, ""):
            try:
                answer = await check(health_pb2.HealthCheckRequest(service=name), timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND and name:
                    continue  # the server checks only "" (the whole server)
                return exc.code() == grpc.StatusCode.UNIMPLEMENTED  # answered: reachable, no health service
            except Exception:  # noqa: BLE001
                return False
            return answer.status == health_pb2.HealthCheckResponse.SERVING
        return False

    async def _call(self, target: GrpcAddress, method_name: str, payload: dict[str, Any],
                    metadata: tuple[tuple[str, str], ...], deadline: asyncio.Timeout) -> CallResult:
        channel = await self._channel(target)
        schema, cached = await self._schema(channel, target, deadline)
        method = schema.service.methods_by_name.get(method_name)
        if method is None and cached:
            self.invalidate(target)
            schema, cached = await self._schema(channel, target, deadline)
            method = schema.service.methods_by_name.get(method_name)
        if method is None:
            known = ", ".join(sorted(schema.service.methods_by_name)) or "none"
            raise SchemaError(f"method {method_name!r} not found in service {target.service} "
                              f"(it has: {known})")
        if method.client_streaming or method.server_streaming:
            return CallResult(False, error=f"method {target.service}/{method_name} is streaming; "
                                           "only unary methods can be scheduled", permanent=True)
        request_cls, response_cls = _message_classes(method)
        try:
            request = json_format.ParseDict(payload, request_cls())
        except json_format.ParseError as exc:
            if not cached:
                raise SchemaError(f"grpc_params do not match {method.input_type.full_name}: {exc}") from None
            self.invalidate(target)  # maybe the schema changed: check once against a fresh copy
            schema, _ = await self._schema(channel, target, deadline)
            method = schema.service.methods_by_name.get(method_name)
            if method is None:
                raise SchemaError(f"method {method_name!r} not found in service {target.service}") from None
            request_cls, response_cls = _message_classes(method)
            try:
                request = json_format.ParseDict(payload, request_cls())
            except json_format.ParseError as exc2:
                raise SchemaError(f"grpc_params do not match {method.input_type.full_name}: {exc2}") from None

        stub = channel.unary_unary(f"/{target.service}/{method_name}",
                                   request_serializer=request_cls.SerializeToString,
                                   response_deserializer=response_cls.FromString)
        response = await stub(request, timeout=_remaining(deadline), metadata=metadata)
        as_dict = json_format.MessageToDict(response, preserving_proto_field_name=True,
                                            always_print_fields_with_no_presence=True,
                                            unquote_int64_if_possible=True)
        capture = BoundedCapture(RESPONSE_LIMIT)
        capture.feed(json.dumps(as_dict, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        return CallResult(True, status_code=grpc.StatusCode.OK.value[0],
                          response=decode_bounded(capture.value(), "utf-8"),
                          response_truncated=capture.truncated)

    # --- channels ------------------------------------------------------------------------------

    async def _channel(self, target: GrpcAddress) -> grpc.aio.Channel:
        addresses = await self.egress.resolve_checked(target.host, target.port)
        first = parse_ip(addresses[0])
        version = first.version if first is not None else 4
        picked = tuple(a for a in addresses if (ip := parse_ip(a)) is not None and ip.version == version)
        cached = self._channels.get(target.authority)
        if cached is not None and cached[0] == picked:
            return cached[1]
        if version == 6:
            dial = "ipv6:" + ",".join(f"[{a}]:{target.port}" for a in picked)
        else:
            dial = "ipv4:" + ",".join(f"{a}:{target.port}" for a in picked)
        channel = grpc.aio.insecure_channel(dial, options=[
            ("grpc.default_authority", target.authority),
            ("grpc.enable_http_proxy", 0),  # a proxy variable must not route around the policy
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),      # retries are the task's business, not the channel's
        ])
        self._channels[target.authority] = (picked, channel)
        if cached is not None:  # DNS moved: let calls on the old channel finish, then close it
            task = asyncio.get_running_loop().create_task(cached[1].close(grace=60))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return channel

    # --- reflection ----------------------------------------------------------------------------

    async def _schema(self, channel: grpc.aio.Channel, target: GrpcAddress,
                      deadline: asyncio.Timeout) -> tuple[_Schema, bool]:
        key = (target.authority, target.service)
        schema = self._schemas.get(key)
        if schema is not None:
            return schema, True
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            schema = self._schemas.get(key)
            if schema is not None:
                return schema, True
            schema = await self._reflect(channel, target, deadline)
            self._schemas[key] = schema
            self.reflection_fetches += 1
            return schema, False

    async def _reflect(self, channel: grpc.aio.Channel, target: GrpcAddress,
                       deadline: asyncio.Timeout) -> _Schema:
        last_error: str | None = None
        for path in REFLECTION_PATHS:
            try:
                files = await self._fetch_files(channel, path, target.service, deadline)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    last_error = exc.details()
                    continue
                raise
            except _Unimplemented as exc:
                last_error = str(exc)
                continue
            pool = descriptor_pool.DescriptorPool()
            for proto in _dependency_order(files):
                pool.Add(proto)
            try:
                service = pool.FindServiceByName(target.service)
            except KeyError:
                raise SchemaError(f"service {target.service} not found on {target.authority}") from None
            return _Schema(pool=pool, service=service)
        raise SchemaError(f"{target.authority} does not offer server reflection "
                          f"({last_error or 'UNIMPLEMENTED'}); "
                          "DJS needs it to learn request and response types")

    async def _fetch_files(self, channel: grpc.aio.Channel, path: str, service: str,
                           deadline: asyncio.Timeout) -> dict[str, descriptor_pb2.FileDescriptorProto]:
        rpc = channel.stream_stream(path, request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                    response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        stream = rpc(timeout=_remaining(deadline))
        files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        try:
            pending: list[reflection_pb2.ServerReflectionRequest] = [
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=service)]
            asked: set[str] = set()
            while pending:
                request = pending.pop()
                await stream.write(request)
                response = await stream.read()
                if response is grpc.aio.EOF:
                    raise SchemaError("reflection stream ended early")
                if response.HasField("error_response"):
                    err = response.error_response
                    if request.HasField("file_containing_symbol"):
                        raise SchemaError(f"service {service} not found on the target "
                                          f"(reflection: {err.error_message or err.error_code})")
                    raise SchemaError(f"reflection could not provide {request.file_by_filename}: "
                                      f"{err.error_message or err.error_code}")
                for raw in response.file_descriptor_response.file_descriptor_proto:
                    proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                    files.setdefault(proto.name, proto)
                if len(files) > MAX_REFLECTED_FILES:
                    raise SchemaError("reflection returned too many files")
                for proto in list(files.values()):
                    for dep in proto.dependency:
                        if dep not in files and dep not in asked:
                            asked.add(dep)
                            pending.append(reflection_pb2.ServerReflectionRequest(file_by_filename=dep))
            await stream.done_writing()
        except grpc.aio.AioRpcError as exc:
            # A server without the method answers UNIMPLEMENTED at once; when that races our first
            # write, grpc.aio reports the failed write as INTERNAL instead. A server that has the
            # method always waits for the request, so a first write refused this way means the same.
            if exc.code() == grpc.StatusCode.INTERNAL and not files and not asked:
                raise _Unimplemented("the server closed the call before reading the request") from None
            raise
        finally:
            stream.cancel()
        return files


def _dependency_order(files: dict[str, descriptor_pb2.FileDescriptorProto]) -> list[descriptor_pb2.FileDescriptorProto]:
    ordered: list[descriptor_pb2.FileDescriptorProto] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name not in files or name in path:
            return
        for dep in files[name].dependency:
            visit(dep, path + (name,))
        done.add(name)
        ordered.append(files[name])

    for name in sorted(files):
        visit(name, ())
    return ordered


def _message_classes(method: MethodDescriptor) -> tuple[type, type]:
    return (message_factory.GetMessageClass(method.input_type),
            message_factory.GetMessageClass(method.output_type))


def _remaining(deadline: asyncio.Timeout) -> float | None:
    when = deadline.when()
    if when is None:
        return None
    return max(0.001, when - asyncio.get_running_loop().time())
