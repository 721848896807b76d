"""The one place that chooses how HTTP tasks reach the network.

The executor speaks the ``httpx.AsyncClient`` API; underneath, :func:`make_http_transport` picks the
transport. Measured on the 2-core reference machine (docs/executors.md), httpx over aiohttp
(``httpx-aiohttp``) is 2.5-9x faster than httpx's native pool and does not degrade with concurrency,
so it is the default. ``native`` stays available (``DJS_HTTP_TRANSPORT=native``) as the escape hatch
if aiohttp ever misbehaves; both enforce the egress policy the same way:

* every request (the first and each redirect hop, because httpx calls the transport once per hop)
  passes :class:`EgressTransport`, which rejects denied host names and IP literals before anything
  is dialled;
* host names are resolved *and* checked by the policy, and the connection goes to a checked
  address: for aiohttp through a connector resolver (:class:`PolicyResolver`, with aiohttp's DNS
  cache off so every new connection is checked), for native httpx by dialling the checked IP with
  the original ``Host`` header and TLS server name. DNS therefore cannot change between check and
  connect.
"""
from __future__ import annotations

import os
import socket
from typing import Any

import httpx

from djs_platform.egress import EgressPolicy, parse_ip

TRANSPORTS = ("direct", "aiohttp", "native")
DEFAULT_TRANSPORT = "direct"


def transport_kind() -> str:
    kind = os.environ.get("DJS_HTTP_TRANSPORT", DEFAULT_TRANSPORT).strip().lower() or DEFAULT_TRANSPORT
    if kind not in TRANSPORTS:
        raise ValueError(f"DJS_HTTP_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {kind!r}")
    return kind


def make_http_transport(
    *,
    policy: EgressPolicy,
    max_connections: int,
    keepalive_expiry: float = 30.0,
    kind: str | None = None,
) -> httpx.AsyncBaseTransport:
    """Build the shared transport of one scheduler process (call inside the running event loop)."""
    kind = kind or transport_kind()
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                          keepalive_expiry=keepalive_expiry)
    if kind == "aiohttp":
        return EgressTransport(_aiohttp_transport(policy, limits), policy, pin_addresses=False)
    if kind == "native":
        return EgressTransport(httpx.AsyncHTTPTransport(limits=limits, trust_env=False), policy,
                               pin_addresses=True)
    raise ValueError(f"unknown HTTP transport {kind!r}")


def _aiohttp_transport(policy: EgressPolicy, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    from httpx_aiohttp import AiohttpTransport

    session = make_aiohttp_session(policy, max_connections=limits.max_connections or 100,
                                   keepalive_expiry=limits.keepalive_expiry, auto_decompress=False)
    return AiohttpTransport(client=session)


def make_aiohttp_session(policy: EgressPolicy, *, max_connections: int, keepalive_expiry: float = 30.0,
                         auto_decompress: bool = True):
    """The aiohttp session of one scheduler process: names resolved through the egress policy, no DNS
    cache (every new connection is checked), no proxy from the environment, no cookies."""
    import aiohttp

    connector = aiohttp.TCPConnector(
        resolver=PolicyResolver(policy),
        use_dns_cache=False,  # every new connection asks the policy again
        limit=max_connections,
        limit_per_host=0,
        keepalive_timeout=keepalive_expiry,
        ssl=httpx.create_ssl_context(trust_env=False),
    )
    # trust_env=False: an http_proxy variable must not route task traffic around the policy.
    # DummyCookieJar: the session is shared by every task of every department; no cookie carries over.
    return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=auto_decompress,
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=None))


class PolicyResolver:
    """aiohttp resolver that resolves through the egress policy and returns only checked addresses.

    Raising :class:`~djs_platform.egress.EgressDenied` here aborts the connection before a socket is
    opened. aiohttp skips the resolver for IP literals; :class:`EgressTransport` checks those.
    """

    def __init__(self, policy: EgressPolicy):
        self.policy = policy

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_UNSPEC) -> list[dict[str, Any]]:
        addresses = await self.policy.resolve_checked(host, port)
        results = []
        for address in addresses:
            ip = parse_ip(address)
            fam = socket.AF_INET6 if ip is not None and ip.version == 6 else socket.AF_INET
            if family not in (0, socket.AF_UNSPEC) and fam != family:
                continue
            results.append({"hostname": host, "host": address, "port": port, "family": fam,
                            "proto": 0, "flags": socket.AI_NUMERICHOST})
        if not results:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, f"no usable address for {host}")
        return results

    async def close(self) -> None:
        return None


class EgressTransport(httpx.AsyncBaseTransport):
    """Checks every request (each redirect hop included) against the policy, then delegates.

    With ``pin_addresses`` the host name is resolved and checked here and the request is sent to the
    checked IP (Host header and TLS server name keep the original name); otherwise the inner
    transport's connector does the resolving check at connect time.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: EgressPolicy, *, pin_addresses: bool):
        self.inner = inner
        self.policy = policy
        self.pin_addresses = pin_addresses

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"only http and https URLs are allowed, not {url.scheme!r}")
        host = url.host
        self.policy.check_host(host)
        literal = parse_ip(host)
        if literal is not None:
            self.policy.check_address(literal, host)
        elif self.pin_addresses:
            port = url.port or (443 if url.scheme == "https" else 80)
            address = (await self.policy.resolve_checked(host, port))[0]
            extensions = dict(request.extensions)
            if url.scheme == "https":
                extensions["sni_hostname"] = host
            # A copy, so httpx still sees the original URL when it builds the next redirect hop.
            request = httpx.Request(request.method, url.copy_with(host=address), headers=request.headers,
                                    stream=request.stream, extensions=extensions)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
