"""Real HTTP and gRPC target servers on 127.0.0.1 for tests (the things DJS tasks call).

Both are context managers usable from plain (sync) pytest code; each runs in a background thread on
a free loopback port and records everything it receives, thread-safely::

    with HttpTarget() as http:
        http.on("/flaky", Respond(status=500), Respond(status=200))   # 1st hit 500, then 200 forever
        http.on("/big", stream_bytes=1 << 30)                         # a lazily generated 1 GiB body
        ...call http.url("/flaky")...
        http.wait_for(2, "/flaky")
        assert http.requests("/flaky")[0].header("Idempotency-Key") == "djs-1-1000"

    with GrpcTarget() as grpc_target:                                  # djs.test.Target + reflection
        ...call grpc_target.service_target ("127.0.0.1:PORT/djs.test.Target")...
        assert grpc_target.calls("Echo")[0].metadata["idempotency-key"] == "djs-1-1000"

HttpTarget is aiohttp.web on its own event loop (several thousand requests/s on one core);
GrpcTarget is a threaded ``grpc.server`` serving ``tests/protos/target.proto`` with server reflection
and the standard health service.
"""
from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GrpcTarget", "HttpTarget", "OutboundGuard", "ReceivedMail", "RecordedCall", "RecordedRequest", "Respond",
           "SmtpSink", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --- HTTP ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Respond:
    """How the HTTP target answers one request.

    ``stream_bytes`` streams that many ``x`` bytes generated on the fly (nothing is buffered);
    ``reset`` aborts the connection with a TCP RST before answering; ``reset_after_bytes`` sends the
    status line, headers and that many body bytes, then resets; ``hang_after_bytes`` sends that many
    body bytes of a ``stream_bytes`` body and then stalls; ``hang`` never answers (until the
    client goes away or the target stops); ``redirect`` answers ``status`` (302 unless a 3xx is
    given) with ``Location: redirect``; ``echo`` answers 200 with a JSON description of the request.
    """

    status: int = 200
    body: bytes | str = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream_bytes: int | None = None
    chunk_size: int = 64 * 1024
    reset: bool = False
    reset_after_bytes: int | None = None
    hang_after_bytes: int | None = None
    hang: bool = False
    redirect: str | None = None
    echo: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]      # lower-case names
    body: bytes
    arrived: float               # time.monotonic() when the request reached the handler
    arrived_wall: float          # time.time()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class HttpTarget:
    """A real HTTP server on 127.0.0.1 with programmable answers per path (see :class:`Respond`)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port = 0
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._plans: dict[str, list[Respond]] = {}
        self._hits: dict[str, int] = {}
        self._streamed: dict[str, list[int]] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "HttpTarget":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "HttpTarget":
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"http-target-{self.port}",
                                        daemon=True)
        self._thread.start()
        if not self._started.wait(10) or self._error:
            raise RuntimeError(f"HTTP target did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop = self._loop
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = None

    def _run(self, sock: socket.socket) -> None:
        from aiohttp import web

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
            self._runner = runner
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # --- programming -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def on(self, path: str, *responses: Respond, **respond: Any) -> "HttpTarget":
        """Program ``path``: the n-th request gets ``responses[n]``, the last one repeats.
        ``on("/x", status=500)`` is short for ``on("/x", Respond(status=500))``."""
        plan = list(responses) or [Respond(**respond)]
        with self._lock:
            self._plans[path] = plan
            self._hits[path] = 0
        return self

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._streamed.clear()
            self._hits = {k: 0 for k in self._hits}

    # --- observing ---------------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def hits(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def streamed(self, path: str, n: int = 1, timeout: float = 5.0) -> list[int]:
        """Bytes actually written for each finished streamed response (``stream_bytes`` and friends)
        to ``path``, waiting until ``n`` streams ended (the client finished or went away)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._streamed.get(path, [])) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} finished stream(s) on {path}")
                self._lock.wait(left)
            return list(self._streamed[path])

    def wait_for(self, n: int, path: str | None = None, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests (to ``path``) arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [r for r in self._requests if path is None or r.path == path]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} request(s) to {path or 'any path'}, got {len(got)}")
                self._lock.wait(left)

    # --- serving -----------------------------------------------------------------------------

    async def _handle(self, request):
        from aiohttp import web

        arrived, arrived_wall = time.monotonic(), time.time()
        body = await request.read()
        with self._lock:
            plan = self._plans.get(request.path) or [Respond()]
            n = self._hits.get(request.path, 0)
            self._hits[request.path] = n + 1
            respond = plan[min(n, len(plan) - 1)]
            record = RecordedRequest(
                method=request.method, path=request.path, query=request.query_string,
                headers={k.lower(): v for k, v in request.headers.items()}, body=body,
                arrived=arrived, arrived_wall=arrived_wall)
            self._requests.append(record)
            self._lock.notify_all()

        if respond.delay:
            await asyncio.sleep(respond.delay)
        if respond.hang:
            await asyncio.sleep(3600)
        if respond.reset:
            _reset(request)
            raise asyncio.CancelledError  # nothing more to say on a dead connection
        if respond.redirect is not None:
            status = respond.status if 300 <= respond.status < 400 else 302
            return web.Response(status=status, headers={"Location": respond.redirect, **respond.headers})
        if respond.echo:
            return web.json_response({"method": record.method, "path": record.path, "query": record.query,
                                      "headers": record.headers, "body": record.text},
                                     status=respond.status, headers=dict(respond.headers))
        if respond.stream_bytes is not None or respond.reset_after_bytes is not None:
            total = respond.stream_bytes if respond.stream_bytes is not None else respond.reset_after_bytes * 2
            resp = web.StreamResponse(status=respond.status, headers=dict(respond.headers))
            resp.content_length = total
            resp.content_type = "text/plain"
            await resp.prepare(request)
            sent = [0]
            try:
                return await self._stream(request, respond, resp, total, sent)
            finally:
                with self._lock:
                    self._streamed.setdefault(request.path, []).append(sent[0])
                    self._lock.notify_all()
        body_bytes = respond.body.encode() if isinstance(respond.body, str) else respond.body
        return web.Response(status=respond.status, body=body_bytes, headers=dict(respond.headers))

    async def _stream(self, request, respond: Respond, resp, total: int, sent: list[int]):
        """Write ``total`` bytes lazily; ``sent[0]`` tracks progress for :meth:`streamed`."""
        chunk = b"x" * respond.chunk_size
        try:
            while sent[0] < total:
                if respond.hang_after_bytes is not None and sent[0] >= respond.hang_after_bytes:
                    await asyncio.sleep(3600)
                piece = chunk[: min(respond.chunk_size, total - sent[0])]
                if respond.reset_after_bytes is not None and sent[0] + len(piece) > respond.reset_after_bytes:
                    piece = piece[: respond.reset_after_bytes - sent[0]]
                    if piece:
                        await resp.write(piece)
                        sent[0] += len(piece)
                    await asyncio.sleep(0.05)
                    _reset(request)
                    raise asyncio.CancelledError
                await resp.write(piece)
                sent[0] += len(piece)
        except (ConnectionResetError, ConnectionError):
            raise asyncio.CancelledError from None  # the client stopped reading: fine
        await resp.write_eof()
        return resp


def _reset(request) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), the way a crashing server looks."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


# --- gRPC ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordedCall:
    method: str                  # short name: "Echo"
    metadata: dict[str, str]     # invocation metadata, lower-case keys
    request: dict[str, Any]      # the request as a dict (proto field names)
    arrived: float               # time.monotonic()


class GrpcTarget:
    """A real gRPC server on 127.0.0.1 serving ``djs.test.Target`` with reflection and health.

    ``set_fail(code)`` makes every Target call fail with that status until ``set_fail(None)``.
    ``methods_seen()`` lists every method path called (reflection included), so tests can count
    reflection round trips.
    """

    SERVICE = "djs.test.Target"

    def __init__(self, host: str = "127.0.0.1", reflection: bool = True, max_workers: int = 32):
        self.host = host
        self.port = 0
        self.reflection = reflection
        self.max_workers = max_workers
        self._lock = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._methods: list[str] = []
        self._count = 0
        self._fail: tuple[Any, str] | None = None
        self._server = None

    def __enter__(self) -> "GrpcTarget":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def service_target(self) -> str:
        """The ``grpc_service`` value of a task calling this target."""
        return f"{self.address}/{self.SERVICE}"

    def start(self) -> "GrpcTarget":
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
        from grpc_reflection.v1alpha import reflection

        from tests.protos import target_pb2, target_pb2_grpc

        outer = self

        class Recorder(grpc.ServerInterceptor):
            def intercept_service(self, continuation, handler_call_details):
                with outer._lock:
                    outer._methods.append(handler_call_details.method)
                    outer._lock.notify_all()
                return continuation(handler_call_details)

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.max_workers,
                                                        thread_name_prefix="grpc-target"),
                             interceptors=[Recorder()])
        target_pb2_grpc.add_TargetServicer_to_server(_TargetServicer(self, target_pb2), server)
        health_servicer = self.health = health.HealthServicer()  # tests set NOT_SERVING through it
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_servicer.set(self.SERVICE, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        if self.reflection:
            reflection.enable_server_reflection(
                [self.SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
        bind = f"[{self.host}]:0" if ":" in self.host else f"{self.host}:0"
        self.port = server.add_insecure_port(bind)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0.2).wait(5)
            self._server = None

    # --- programming / observing ---------------------------------------------------------------

    def set_fail(self, code, message: str = "forced failure") -> None:
        """Every Target call fails with ``code`` (a ``grpc.StatusCode``); ``None`` restores service."""
        with self._lock:
            self._fail = None if code is None else (code, message)

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def methods_seen(self) -> list[str]:
        with self._lock:
            return list(self._methods)

    def reflection_calls(self) -> int:
        return sum(1 for m in self.methods_seen() if m.startswith("/grpc.reflection."))

    def wait_for(self, n: int, method: str | None = None, timeout: float = 5.0) -> list[RecordedCall]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [c for c in self._calls if method is None or c.method == method]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} call(s) of {method or 'any method'}, got {len(got)}")
                self._lock.wait(left)

    def _record(self, method: str, request, context) -> tuple[int, tuple[Any, str] | None]:
        from google.protobuf import json_format

        metadata = {k.lower(): v for k, v in context.invocation_metadata()
                    if isinstance(v, str)}
        with self._lock:
            self._count += 1
            self._calls.append(RecordedCall(
                method=method, metadata=metadata, arrived=time.monotonic(),
                request=json_format.MessageToDict(request, preserving_proto_field_name=True)))
            self._lock.notify_all()
            return self._count, self._fail


class _TargetServicer:
    """djs.test.Target: Echo/EchoBackup answer (after delay_ms, or fail with fail_code); Watch streams."""

    def __init__(self, target: GrpcTarget, pb2):
        self.target = target
        self.pb2 = pb2

    def _answer(self, method: str, request, context):
        import grpc

        count, forced = self.target._record(method, request, context)
        deadline = time.monotonic() + request.delay_ms / 1000
        while time.monotonic() < deadline and context.is_active():
            time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
        if forced is not None:
            context.abort(forced[0], forced[1])
        if request.fail_code:
            code = next((c for c in grpc.StatusCode if c.value[0] == request.fail_code), grpc.StatusCode.UNKNOWN)
            context.abort(code, request.fail_message or f"asked to fail with {code.name}")
        metadata = dict(context.invocation_metadata())
        reply = self.pb2.EchoReply(
            message=request.message + "x" * max(0, request.reply_bytes - len(request.message)),
            idempotency_key=metadata.get("idempotency-key", ""),
            traceparent=metadata.get("traceparent", ""), count=count, method=method,
            tags=list(request.tags), labels=dict(request.labels), mood=request.mood)
        if request.HasField("payload"):
            reply.payload.CopyFrom(request.payload)
        reply.served_at.GetCurrentTime()
        return reply

    def Echo(self, request, context):  # noqa: N802 - gRPC method name
        return self._answer("Echo", request, context)

    def EchoBackup(self, request, context):  # noqa: N802
        return self._answer("EchoBackup", request, context)

    def Watch(self, request, context):  # noqa: N802
        reply = self._answer("Watch", request, context)
        for _ in range(3):
            yield reply


# --- outbound connection guard -------------------------------------------------------------------

class OutboundGuard:
    """Records every ``socket.connect`` Python code makes while active, and refuses non-loopback ones.

    Built on a ``sys.addaudithook`` hook (installed once per process, inert while no guard is
    active), so it sees asyncio, aiohttp and httpx connections alike; it does not see connections
    made inside C libraries (grpc core, mysqlclient). Egress tests use it to prove that a denied
    address was never dialled, and as a safety net: a broken policy fails the test instead of
    sending a packet off this machine::

        with OutboundGuard() as guard:
            ...
        assert guard.non_loopback == []
    """

    _installed = False
    _active: list["OutboundGuard"] = []
    _lock = threading.Lock()

    def __init__(self):
        self.connects: list[Any] = []
        self.non_loopback: list[Any] = []

    def __enter__(self) -> "OutboundGuard":
        import sys

        with OutboundGuard._lock:
            if not OutboundGuard._installed:
                sys.addaudithook(OutboundGuard._hook)
                OutboundGuard._installed = True
            OutboundGuard._active.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        with OutboundGuard._lock:
            OutboundGuard._active.remove(self)

    def connected_to(self, port: int) -> bool:
        return any(isinstance(a, tuple) and len(a) >= 2 and a[1] == port for a in self.connects)

    @staticmethod
    def _hook(event: str, args: tuple) -> None:
        if event != "socket.connect" or not OutboundGuard._active:
            return
        address = args[1] if len(args) > 1 else None
        loopback = isinstance(address, str) or _is_loopback(address)  # str = AF_UNIX path
        for guard in list(OutboundGuard._active):
            guard.connects.append(address)
            if not loopback:
                guard.non_loopback.append(address)
        if not loopback:
            raise PermissionError(f"test guard: refused outbound connection to {address!r}")


def _is_loopback(address: Any) -> bool:
    import ipaddress

    if not isinstance(address, tuple) or not address:
        return False
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


# --- SMTP ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: Any                 # email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",)) if self.message.is_multipart() else self.message
        return part.get_content()


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts.

    ``refuse`` makes it answer ``550`` to every recipient (a mail server rejecting the alert)."""

    def __init__(self, refuse: bool = False):
        self.refuse = refuse
        self.port = 0
        self._controller = None
        self._lock = threading.Condition()
        self._mails: list[ReceivedMail] = []

    def __enter__(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._controller is not None:
            self._controller.stop()

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return "550 5.7.1 recipient refused by the test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import email
        import email.policy

        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self._lock:
            self._mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
            self._lock.notify_all()
        return "250 Message accepted"

    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._mails) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} mail(s), got {len(self._mails)}")
                self._lock.wait(left)
            return list(self._mails)
