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
import re

import httpx

from apps.tasks.egress import EgressDenied, EgressPolicy

from .common import BoundedCapture, CallResult, bound_error, decode_bounded, describe_exception
from .transport import make_http_transport

MAX_REDIRECTS = 5
USER_AGENT = "DJS/1.0"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field-name
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


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
        self._sem: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self._sem = asyncio.Semaphore(self.workers)
        transport = make_http_transport(policy=self.egress, max_connections=max(2 * self.workers, 4),
                                        kind=self.transport_kind)
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False,
            cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @property
    def in_use(self) -> int:
        """Calls currently holding a worker slot."""
        return 0 if self._sem is None else self.workers - self._sem._value  # noqa: SLF001

    def build_request(self, *, url: str, method: str, headers: dict[str, str], body: str | None,
                      idempotency_key: str, traceparent: str | None, timeout: float) -> httpx.Request:
        """The request of one call; raises ``ValueError``/``httpx.HTTPError`` for a bad task config."""
        assert self._client is not None, "HttpExecutor.start() was not awaited"
        method = (method or "GET").strip().upper()
        if method not in METHODS:
            raise ValueError(f"unsupported HTTP method {method!r}")
        if not url:
            raise ValueError("the task has no URL")
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"URL must be absolute http(s)://, got {url!r}")
        for name, value in (headers or {}).items():
            if not _TOKEN.match(str(name)):
                raise ValueError(f"invalid header name {name!r}")
            if _BAD_VALUE.search(str(value)):  # no header injection through CR/LF
                raise ValueError(f"invalid value for header {name!r}: control characters")
        out = httpx.Headers({str(k): str(v) for k, v in (headers or {}).items()})
        for name in ("Idempotency-Key", "traceparent"):
            out.pop(name, None)  # ours, never the task's
        out["Idempotency-Key"] = idempotency_key
        if traceparent:
            out["traceparent"] = traceparent
        content = body.encode("utf-8") if body else None
        if content is not None and "content-type" not in out:
            out["Content-Type"] = _guess_content_type(body or "")
        return self._client.build_request(method, parsed, headers=out, content=content,
                                          timeout=httpx.Timeout(timeout))

    async def call(self, *, url: str, method: str, headers: dict[str, str], body: str | None,
                   idempotency_key: str, traceparent: str | None, timeout: float) -> CallResult:
        """One bounded call. Never raises except ``CancelledError`` (kill)."""
        assert self._sem is not None and self._client is not None, "HttpExecutor.start() was not awaited"
        try:
            request = self.build_request(url=url, method=method, headers=headers, body=body,
                                         idempotency_key=idempotency_key, traceparent=traceparent,
                                         timeout=timeout)
        except (ValueError, TypeError, httpx.HTTPError) as exc:
            return CallResult(False, error=bound_error(f"invalid HTTP request: {exc}"), permanent=True)
        async with self._sem:
            try:
                async with asyncio.timeout(timeout):
                    return await self._send(request)
            except TimeoutError:
                return CallResult(False, error=f"timed out after {timeout:g}s")
            except EgressDenied as exc:
                return CallResult(False, error=bound_error(str(exc)), permanent=True)
            except httpx.UnsupportedProtocol as exc:
                return CallResult(False, error=bound_error(f"unsupported URL: {exc}"), permanent=True)
            except Exception as exc:  # noqa: BLE001 - any transport failure is a failed attempt
                return CallResult(False, error=bound_error(describe_exception(exc)))

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


def _guess_content_type(body: str) -> str:
    """A body without a Content-Type header is sent as JSON when it parses as JSON, else as text."""
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"
