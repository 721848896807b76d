"""HTTP executor: one call of an HTTP task (or alert webhook) to one URL, through the process-wide aiohttp session.

Success is a 2xx final status. Redirects are followed by hand (at most :data:`MAX_REDIRECTS`, with httpx's
method and header rules) so that a redirect's body is never read and every hop passes the egress policy
before anything is dialled (host names again, with their resolved addresses, in the session's resolver:
:mod:`.transport`). The response body is read incrementally and reading stops at
:data:`~.common.RESPONSE_LIMIT` bytes; the connection is then closed, so a target streaming gigabytes costs
one buffer, not the whole body. httpx is used here for URL parsing and joining only.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import httpx
from yarl import URL

from apps.tasks.httprules import (
    CONTROL_CHARACTERS,
    HEADER_NAME,
    HTTP_METHODS,
    OWN_HEADERS,
    RECOVERY_HEADER,
    SHARD_INDEX_HEADER,
    SHARD_TOTAL_HEADER,
)
from djs_platform.egress import EgressDenied, EgressPolicy, parse_ip

from .common import (
    BoundedCapture,
    CallResult,
    bound_error,
    decode_bounded,
    describe_exception,
    never_connected,
)
from .protocol import CallContext, ExecutorSettings
from .slots import Slots
from .targets import HttpTarget
from .transport import check_transport_variable, make_aiohttp_session

MAX_REDIRECTS = 5
USER_AGENT = "DJS/1.0"
# The method and header rules are apps/tasks/httprules.py's, the ones a task is saved with. RECOVERY_HEADER is
# sent (value "1") on a re-run of an execution that had started on a node that died: the first call may have
# reached the target; the Idempotency-Key is the same (docs/scheduling.md "Crash and recovery").


class HttpExecutor:
    """Holds the shared aiohttp session and the ``job.httpWorkers`` slots of one process.

    :meth:`call` is the executor protocol's (an HTTP task's target and its fire's context); :meth:`send` the
    same request in keywords, for senders that are not tasks (alert webhooks)."""

    def __init__(self, workers: int, egress: EgressPolicy):
        if workers < 1:
            raise ValueError("job.httpWorkers must be at least 1")
        check_transport_variable()  # DJS_HTTP_TRANSPORT=aiohttp|native: removed, refuse to start
        self.workers = workers
        self.egress = egress
        self._session = None  # aiohttp.ClientSession, made in start() (inside the running loop)
        self._prepared: dict[tuple, tuple[str, httpx.URL, dict[str, str], bytes | None]] = {}
        self._hop_checked: dict[tuple[str, str], None] = {}
        self._wire_urls: dict[str, URL] = {}  # a hop's URL as aiohttp takes it, by its text (built once per URL)
        self.slots = Slots(workers)

    @classmethod
    def for_node(cls, settings: ExecutorSettings) -> HttpExecutor:
        return cls(settings.http_workers, settings.egress)

    async def start(self) -> None:
        self.slots = Slots(self.workers)
        self._session = make_aiohttp_session(self.egress, max_connections=max(2 * self.workers, 4))

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def in_use(self) -> int:
        """Calls currently holding a worker slot."""
        return self.slots.in_use

    def prepare(self, *, url: str, method: str, headers: Mapping[str, str], body: str | None,
                idempotency_key: str, traceparent: str | None,
                recovery: bool = False,
                shard: tuple[int, int] | None = None) -> tuple[str, httpx.URL, dict[str, str], bytes | None]:
        """Validate one call: (method, URL, headers, body); raises ``ValueError``/``httpx.HTTPError`` for a
        bad task configuration. The validated task part is cached (a task fires the same request again
        and again); only our per-fire headers are added each time."""
        try:
            key = (url, method, tuple((headers or {}).items()), body)
            cached = self._prepared.get(key)
        except TypeError:  # unhashable header values: validate without the cache
            key, cached = None, None
        if cached is None:
            cached = _validate(url=url, method=method, headers=headers, body=body)
            if key is not None:
                if len(self._prepared) >= PREPARED_CACHE:
                    self._prepared.clear()
                self._prepared[key] = cached
        method, parsed, base, content = cached
        out = dict(base)
        out["Idempotency-Key"] = idempotency_key
        if recovery:
            out[RECOVERY_HEADER] = "1"
        if shard is not None:
            out[SHARD_INDEX_HEADER], out[SHARD_TOTAL_HEADER] = str(shard[0]), str(shard[1])
        if traceparent:
            out["traceparent"] = traceparent
        return method, parsed, out, content

    async def call(self, target: HttpTarget, ctx: CallContext) -> CallResult:
        """One bounded call of an HTTP task to its (resolved) target. Never raises except ``CancelledError``."""
        return await self.send(url=target.url or "", method=target.method, headers=target.headers,
                               body=target.body, idempotency_key=ctx.idempotency_key,
                               traceparent=ctx.traceparent, timeout=ctx.timeout, recovery=ctx.recovery,
                               shard=ctx.shard)

    async def probe(self, address: str, name: str) -> bool:
        """The router's health check of one registered instance."""
        return await self.reachable(address)

    async def send(self, *, url: str, method: str, headers: Mapping[str, str], body: str | None,
                   idempotency_key: str, traceparent: str | None, timeout: float,
                   recovery: bool = False, shard: tuple[int, int] | None = None) -> CallResult:
        """One bounded request. Never raises except ``CancelledError`` (kill)."""
        assert self._session is not None, "HttpExecutor.start() was not awaited"
        try:
            prepared = self.prepare(url=url, method=method, headers=headers, body=body,
                                    idempotency_key=idempotency_key, traceparent=traceparent,
                                    recovery=recovery, shard=shard)
        except (ValueError, TypeError, httpx.HTTPError) as exc:
            return CallResult(False, error=bound_error(f"invalid HTTP request: {exc}"), permanent=True)
        async with self.slots:
            try:
                async with asyncio.timeout(timeout):
                    return await self._send(*prepared)
            except TimeoutError:
                return CallResult(False, error=f"timed out after {timeout:g}s")
            except EgressDenied as exc:
                return CallResult(False, error=bound_error(str(exc)), permanent=True)
            except httpx.UnsupportedProtocol as exc:
                return CallResult(False, error=bound_error(f"unsupported URL: {exc}"), permanent=True)
            except Exception as exc:  # noqa: BLE001 - any transport failure is a failed attempt
                return CallResult(False, error=bound_error(describe_exception(exc)), unreachable=never_connected(exc))

    async def reachable(self, base_url: str, timeout: float = 2.0) -> bool:
        """The health check of an HTTP executor instance: a TCP connection to its (egress-checked) address
        comes up. Nothing is sent."""
        try:
            url = URL(base_url)
            host, port = url.host or "", url.port or (443 if url.scheme == "https" else 80)
            addresses = await self.egress.resolve_checked(host, port)
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(addresses[0], port)
            writer.close()
            await writer.wait_closed()
            return True
        except Exception:  # noqa: BLE001 - refused, unreachable, denied, timed out: not healthy
            return False

    def _check_hop(self, url: httpx.URL) -> None:
        """Egress rules a hop's URL must pass before anything is dialled (names are checked again, with
        their resolved addresses, by the session's resolver)."""
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"only http and https URLs are allowed, not {url.scheme!r}")
        key = (url.scheme, url.host)
        if key in self._hop_checked:  # passed before: the policy of a process does not change
            return
        self.egress.check_host(url.host)
        literal = parse_ip(url.host)
        if literal is not None:
            self.egress.check_address(literal, url.host)
        if len(self._hop_checked) >= PREPARED_CACHE:
            self._hop_checked.clear()
        self._hop_checked[key] = None

    def _wire_url(self, url: httpx.URL) -> URL:
        text = str(url)
        wire = self._wire_urls.get(text)
        if wire is None:
            if len(self._wire_urls) >= PREPARED_CACHE:
                self._wire_urls.clear()
            wire = self._wire_urls[text] = URL(text, encoded=True)
        return wire

    async def _send(self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None) -> CallResult:
        """Send and follow redirects by hand (httpx's method/header rules, each hop checked before it is
        dialled, a redirect's body never read), then read the body up to the capture bound."""
        assert self._session is not None
        headers = {"User-Agent": USER_AGENT, **headers} if not any(
            k.lower() == "user-agent" for k in headers) else headers
        hops = 0
        while True:
            self._check_hop(url)
            response = await self._session.request(method, self._wire_url(url), headers=headers, data=content,
                                                   allow_redirects=False)
            try:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location is not None:
                    if hops >= MAX_REDIRECTS:
                        return CallResult(False, status_code=response.status,
                                          error=f"too many redirects (more than {MAX_REDIRECTS})")
                    hops += 1
                    method, url, headers, content = _redirect(response.status, method, url, headers, content,
                                                              location)
                    continue
                capture = BoundedCapture()
                try:
                    async for chunk in response.content.iter_any():
                        if capture.feed(chunk):
                            break
                except Exception as exc:  # noqa: BLE001 - the body broke off: keep status and what arrived
                    return CallResult(False, status_code=response.status,
                                      response=decode_bounded(capture.value(), response.charset),
                                      error=bound_error(f"reading the response failed: {describe_exception(exc)}"))
                text = decode_bounded(capture.value(), response.charset)
                ok = 200 <= response.status < 300
                return CallResult(ok, status_code=response.status, response=text,
                                  error=None if ok else f"HTTP {response.status} {response.reason or ''}".strip(),
                                  response_truncated=capture.truncated)
            finally:
                if response.content.at_eof():
                    response.release()   # connection back to the pool
                else:
                    response.close()     # an unread (redirect, truncated) body: drop the connection


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
PREPARED_CACHE = 10_000   # validated (url, method, headers, body) kept per process


def _validate(*, url: str, method: str, headers: Mapping[str, str], body: str | None
              ) -> tuple[str, httpx.URL, dict[str, str], bytes | None]:
    """The task's part of a request, validated: (method, URL, task headers minus ours, body bytes)."""
    method = (method or "GET").strip().upper()
    if method not in HTTP_METHODS:
        raise ValueError(f"unsupported HTTP method {method!r}")
    if not url:
        raise ValueError("the task has no URL")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"URL must be absolute http(s)://, got {url!r}")
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not HEADER_NAME.match(str(name)):
            raise ValueError(f"invalid header name {name!r}")
        if CONTROL_CHARACTERS.search(str(value)):  # no header injection through CR/LF
            raise ValueError(f"invalid value for header {name!r}: control characters")
        if str(name).lower() not in OWN_HEADERS:  # ours, never the task's
            out[str(name)] = str(value)
    content = body.encode("utf-8") if body else None
    if content is not None and not any(k.lower() == "content-type" for k in out):
        out["Content-Type"] = _guess_content_type(body or "")
    return method, parsed, out, content


def _redirect(status: int, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None,
              location: str) -> tuple[str, httpx.URL, dict[str, str], bytes | None]:
    """The next hop of a redirect, with httpx's rules (what httpx's follow_redirects would do): 303 (and
    301/302 after a POST) become GET without a body; Authorization is dropped when the origin changes."""
    target = url.join(location)
    if target.scheme in ("http", "https") and not target.host:
        target = target.copy_with(host=url.host)
    new_method = method
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        new_method = "GET"
    drop = {"cookie"}
    if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
        drop |= {"authorization", "host"}
    if new_method != method:
        drop |= {"content-length", "transfer-encoding"}
        content = None
    out = {k: v for k, v in headers.items() if k.lower() not in drop}
    return new_method, target, out, content


def _guess_content_type(body: str) -> str:
    """A body without a Content-Type header is sent as JSON when it parses as JSON, else as text."""
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"
