"""HTTP executor: one call of an HTTP task to one URL, through the process-wide httpx client.

Success is a 2xx final status. Redirects are followed by hand (at most :data:`MAX_REDIRECTS`) so that
a redirect's body is never read and every hop passes the egress policy inside the transport. The
response body is read incrementally and reading stops at :data:`~.common.RESPONSE_LIMIT` bytes; the
connection is then closed, so a target streaming gigabytes costs one buffer, not the whole body.
"""
from __future__ import annotations

import asyncio
import http.cookiejar
import json

import httpx
from yarl import URL

from apps.tasks.httprules import (CONTROL_CHARACTERS, HEADER_NAME, HTTP_METHODS, OWN_HEADERS, RECOVERY_HEADER,
                                  SHARD_INDEX_HEADER, SHARD_TOTAL_HEADER)
from djs_platform.egress import EgressDenied, EgressPolicy, parse_ip

from .common import BoundedCapture, CallResult, bound_error, decode_bounded, describe_exception, never_connected
from .transport import make_aiohttp_session, make_http_transport, transport_kind

MAX_REDIRECTS = 5
USER_AGENT = "DJS/1.0"
# The method and header rules are apps/tasks/httprules.py's, the ones a task is saved with. RECOVERY_HEADER is
# sent (value "1") on a re-run of an execution that had started on a node that died: the first call may have
# reached the target; the Idempotency-Key is the same (docs/scheduling.md "Crash and recovery").


class _RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    """The pool is shared by every task of every department: no cookie may carry over."""

    def set_ok(self, cookie, request):  # noqa: D401 - CookiePolicy API
        return False

    def return_ok(self, cookie, request):
        return False


class HttpExecutor:
    """Holds the shared httpx client and the ``job.httpWorkers`` semaphore of one process."""

    def __init__(self, workers: int, egress: EgressPolicy, transport_kind: str | None = None):
        if workers < 1:
            raise ValueError("job.httpWorkers must be at least 1")
        self.workers = workers
        self.egress = egress
        self.transport_kind = transport_kind
        self._client: httpx.AsyncClient | None = None
        self._session = None  # aiohttp.ClientSession of the "direct" transport
        self._prepared: dict[tuple, tuple[str, httpx.URL, dict[str, str], bytes | None]] = {}
        self._hop_checked: dict[tuple[str, str], None] = {}
        self._sem: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self._sem = asyncio.Semaphore(self.workers)
        self.transport_kind = self.transport_kind or transport_kind()
        if self.transport_kind == "direct":
            self._session = make_aiohttp_session(self.egress, max_connections=max(2 * self.workers, 4))
            return
        transport = make_http_transport(policy=self.egress, max_connections=max(2 * self.workers, 4),
                                        kind=self.transport_kind)
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False,
            cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @property
    def queued(self) -> int:
        """Calls waiting for a worker slot."""
        waiters = getattr(self._sem, "_waiters", None)
        return len(waiters) if waiters else 0

    @property
    def in_use(self) -> int:
        """Calls currently holding a worker slot."""
        return 0 if self._sem is None else self.workers - self._sem._value  # noqa: SLF001

    def prepare(self, *, url: str, method: str, headers: dict[str, str], body: str | None,
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

    def build_request(self, *, url: str, method: str, headers: dict[str, str], body: str | None,
                      idempotency_key: str, traceparent: str | None, timeout: float,
                      recovery: bool = False, shard: tuple[int, int] | None = None) -> httpx.Request:
        """The httpx request of one call (httpx-based transports)."""
        method, parsed, out, content = self.prepare(url=url, method=method, headers=headers, body=body,
                                                    idempotency_key=idempotency_key, traceparent=traceparent,
                                                    recovery=recovery, shard=shard)
        if self._client is None:
            return httpx.Request(method, parsed, headers=out, content=content)
        return self._client.build_request(method, parsed, headers=out, content=content,
                                          timeout=httpx.Timeout(timeout))

    async def call(self, *, url: str, method: str, headers: dict[str, str], body: str | None,
                   idempotency_key: str, traceparent: str | None, timeout: float,
                   recovery: bool = False, shard: tuple[int, int] | None = None) -> CallResult:
        """One bounded call. Never raises except ``CancelledError`` (kill)."""
        assert self._sem is not None and (self._client or self._session), "HttpExecutor.start() was not awaited"
        try:
            if self._session is not None:
                prepared = self.prepare(url=url, method=method, headers=headers, body=body,
                                        idempotency_key=idempotency_key, traceparent=traceparent,
                                        recovery=recovery, shard=shard)
            else:
                request = self.build_request(url=url, method=method, headers=headers, body=body,
                                             idempotency_key=idempotency_key, traceparent=traceparent,
                                             timeout=timeout, recovery=recovery, shard=shard)
        except (ValueError, TypeError, httpx.HTTPError) as exc:
            return CallResult(False, error=bound_error(f"invalid HTTP request: {exc}"), permanent=True)
        async with self._sem:
            try:
                async with asyncio.timeout(timeout):
                    if self._session is not None:
                        return await self._send_direct(*prepared)
                    return await self._send(request)
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

    async def _send_direct(self, method: str, url: httpx.URL, headers: dict[str, str],
                           content: bytes | None) -> CallResult:
        """The "direct" transport: aiohttp without the httpx layer, same rules as :meth:`_send`
        (redirects by hand with httpx's method/header rules, each hop checked, bounded body)."""
        assert self._session is not None
        headers = {"User-Agent": USER_AGENT, **headers} if not any(
            k.lower() == "user-agent" for k in headers) else headers
        hops = 0
        while True:
            self._check_hop(url)
            response = await self._session.request(method, URL(str(url), encoded=True), headers=headers,
                                                   data=content, allow_redirects=False)
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

    async def _send(self, request: httpx.Request) -> CallResult:
        assert self._client is not None
        response = await self._client.send(request, stream=True)
        try:
            hops = 0
            while response.next_request is not None:
                next_request = response.next_request
                await response.aclose()  # a redirect's body is never read
                if hops >= MAX_REDIRECTS:
                    return CallResult(False, status_code=response.status_code,
                                      error=f"too many redirects (more than {MAX_REDIRECTS})")
                hops += 1
                response = await self._client.send(next_request, stream=True)
            capture = BoundedCapture()
            try:
                async for chunk in response.aiter_bytes():
                    if capture.feed(chunk):
                        break
            except Exception as exc:  # noqa: BLE001 - the body broke off: keep status and what arrived
                return CallResult(False, status_code=response.status_code,
                                  response=decode_bounded(capture.value(), response.charset_encoding),
                                  error=bound_error(f"reading the response failed: {describe_exception(exc)}"))
        finally:
            await response.aclose()
        text = decode_bounded(capture.value(), response.charset_encoding)
        ok = 200 <= response.status_code < 300
        return CallResult(ok, status_code=response.status_code, response=text,
                          error=None if ok else f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                          response_truncated=capture.truncated)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
PREPARED_CACHE = 10_000   # validated (url, method, headers, body) kept per process


def _validate(*, url: str, method: str, headers: dict[str, str], body: str | None
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
    """The next hop of a redirect, with httpx's rules (so both transports behave the same): 303 (and
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
