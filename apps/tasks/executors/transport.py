"""The one HTTP client of a scheduler process: an aiohttp session whose connector resolves through the egress policy.

HTTP tasks and alert webhooks go through :class:`~.http.HttpExecutor`, which sends with this session and
enforces the egress policy in two places:

* every request (the first and each redirect hop, which the executor follows by hand) passes the policy's
  host name and IP-literal checks before aiohttp is called;
* host names are resolved *and* checked by the policy in the connector (:class:`PolicyResolver`), with
  aiohttp's DNS cache off, so every new connection dials an address that was checked for it: DNS cannot
  change between check and connect. aiohttp skips the resolver for IP literals; those are checked per hop.

There used to be two more transports (httpx over ``httpx-aiohttp`` and httpx's native pool, chosen with
``DJS_HTTP_TRANSPORT``); docs/executors.md "HTTP transport" records why they were removed. The variable is
still read, only to refuse the removed values at start (:func:`check_transport_variable`).
"""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from djs_platform.egress import EgressPolicy, parse_ip

TRANSPORT_VARIABLE = "DJS_HTTP_TRANSPORT"
#: Values of DJS_HTTP_TRANSPORT that name the one transport there is: unset, empty, or its old name.
ACCEPTED_VALUES = frozenset({"", "direct"})
REMOVED_TRANSPORTS = frozenset({"aiohttp", "native"})


def check_transport_variable(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a ``DJS_HTTP_TRANSPORT`` that asks for something DJS no longer has (``ValueError``).

    Called when an HTTP executor is created (scheduler node start, an alert delivery), so a node
    configured for a removed transport does not start instead of silently running on another one.
    """
    raw = (os.environ if environ is None else environ).get(TRANSPORT_VARIABLE, "")
    value = raw.strip().lower()
    if value in ACCEPTED_VALUES:
        return
    if value in REMOVED_TRANSPORTS:
        raise ValueError(
            f"{TRANSPORT_VARIABLE}={raw.strip()}: the {value!r} HTTP transport was removed; DJS has one HTTP "
            f"transport (aiohttp, formerly 'direct'). Unset {TRANSPORT_VARIABLE} (docs/executors.md, HTTP transport).")
    raise ValueError(
        f"{TRANSPORT_VARIABLE}={raw.strip()!r} is not an HTTP transport: DJS has one (aiohttp, formerly 'direct'). "
        f"Unset {TRANSPORT_VARIABLE} (docs/executors.md, HTTP transport).")


def make_aiohttp_session(policy: EgressPolicy, *, max_connections: int, keepalive_expiry: float = 30.0):
    """The aiohttp session of one scheduler process (call inside the running event loop): names resolved
    through the egress policy, no DNS cache (every new connection is checked), no proxy from the
    environment, no cookies."""
    import aiohttp
    import httpx

    connector = aiohttp.TCPConnector(
        resolver=PolicyResolver(policy),
        use_dns_cache=False,  # every new connection asks the policy again
        limit=max_connections,
        limit_per_host=0,
        keepalive_timeout=keepalive_expiry,
        ssl=httpx.create_ssl_context(trust_env=False),  # certifi's CA bundle, not SSL_CERT_FILE from the environment
    )
    # trust_env=False: an http_proxy variable must not route task traffic around the policy.
    # DummyCookieJar: the session is shared by every task of every department; no cookie carries over.
    return aiohttp.ClientSession(connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=None))


class PolicyResolver:
    """aiohttp resolver that resolves through the egress policy and returns only checked addresses.

    Raising :class:`~djs_platform.egress.EgressDenied` here aborts the connection before a socket is
    opened. aiohttp skips the resolver for IP literals; the executor checks those on every hop.
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
