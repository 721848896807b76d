"""``dns:///host:port`` addresses: every A/AAAA answer of ``host``, re-resolved at most every 30 s per process.

:func:`resolve` asks the operating system's resolver (``socket.getaddrinfo``, so ``/etc/hosts`` answers too:
``localhost`` is what that file says) and keeps the answer for :data:`TTL` seconds. A failed lookup keeps the
last good answer (a DNS hiccup must not empty a service that was reachable a moment ago) and is retried after
:data:`FAILURE_TTL` seconds; a name that never resolved answers no address until it does. The egress policy is
not applied here: registration checks every answer when an entry is saved, and the executors check each
address again when they connect.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("djs.executors")

PREFIX = "dns:///"
TTL = 30.0
FAILURE_TTL = 5.0

Lookup = Callable[[str, int], list[str]]


def system_lookup(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` answers for ``host`` (TCP), IPv4 and IPv6, in its order, without repeats."""
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass
class _Answer:
    addresses: tuple[str, ...]
    resolved_at: float   # when ``addresses`` was a fresh answer
    checked_at: float    # when DNS was last asked (a failure moves only this)
    failed: bool = False


class DnsCache:
    """Answers per (host, port), thread-safe; ``lookup`` and ``clock`` are replaceable for tests."""

    def __init__(self, lookup: Lookup = system_lookup, ttl: float = TTL, failure_ttl: float = FAILURE_TTL,
                 clock: Callable[[], float] = time.monotonic):
        self.lookup, self.ttl, self.failure_ttl, self.clock = lookup, ttl, failure_ttl, clock
        self._answers: dict[tuple[str, int], _Answer] = {}
        self._lock = threading.Lock()

    def resolve(self, host: str, port: int) -> tuple[str, ...]:
        key = (host.lower(), port)
        now = self.clock()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and now - cached.checked_at < (self.failure_ttl if cached.failed else self.ttl):
            return cached.addresses
        try:
            addresses = tuple(self.lookup(host, port))
        except OSError as exc:
            kept = cached.addresses if cached is not None else ()
            log.warning("dns:///%s:%d does not resolve (%s); keeping %d earlier address(es)", host, port, exc,
                        len(kept))
            with self._lock:
                self._answers[key] = _Answer(kept, cached.resolved_at if cached else now, now, failed=True)
            return kept
        with self._lock:
            self._answers[key] = _Answer(addresses, now, now)
        return addresses

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


#: The process's cache (every caller shares it, so a name is asked at most every 30 s per process).
CACHE = DnsCache()


def split_dns(address: str) -> tuple[str, int] | None:
    """``dns:///host:port`` -> (host, port) (brackets of an IPv6 literal removed); None for other addresses.
    The address is assumed valid (:mod:`apps.executors.specs` checked it when it was saved)."""
    if not address.startswith(PREFIX):
        return None
    host, _, port = address[len(PREFIX):].rpartition(":")
    return host.strip("[]"), int(port)


def host_port(ip: str, port: int) -> str:
    """``10.0.0.5:50051`` / ``[::1]:50051``."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
