"""dns:/// addresses: every answer of the name, asked at most every 30 s per process (apps/executors/dns.py).

The answers are the system resolver's for ``localhost`` (what /etc/hosts says); only the clock is the test's."""
from __future__ import annotations

import socket

from apps.executors import dns, registry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting(lookup):
    calls: list[tuple[str, int]] = []

    def wrapped(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return lookup(host, port)
    return wrapped, calls


def test_localhost_resolves_to_what_etc_hosts_says():
    expected = []
    for info in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM):
        if info[4][0] not in expected:
            expected.append(info[4][0])
    assert "127.0.0.1" in expected
    assert list(dns.DnsCache().resolve("localhost", 80)) == expected


def test_a_name_is_asked_again_only_after_30_seconds():
    clock = Clock()
    lookup, calls = counting(dns.system_lookup)
    cache = dns.DnsCache(lookup=lookup, clock=clock)
    first = cache.resolve("localhost", 50051)
    clock.now += 29.9
    assert cache.resolve("LOCALHOST", 50051) == first and len(calls) == 1
    clock.now += 0.2
    assert cache.resolve("localhost", 50051) == first and len(calls) == 2


def test_a_failed_lookup_keeps_the_last_answer_and_is_retried_sooner():
    clock = Clock()
    answers = {"ok": True}

    def flaky(host: str, port: int) -> list[str]:
        if not answers["ok"]:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return dns.system_lookup(host, port)

    lookup, calls = counting(flaky)
    cache = dns.DnsCache(lookup=lookup, clock=clock)
    good = cache.resolve("localhost", 50051)
    answers["ok"] = False
    clock.now += 31
    assert cache.resolve("localhost", 50051) == good  # kept through the failure
    clock.now += dns.FAILURE_TTL + 0.1
    answers["ok"] = True
    assert cache.resolve("localhost", 50051) == good and len(calls) == 3


def test_a_name_that_never_resolved_has_no_instance():
    cache = dns.DnsCache()
    entry = registry.ExecutorEntry(id=1, department_id=1, name="orders.Billing", kind="grpc",
                                   address="dns:///no-such-host.invalid:50051", weight=1, source="dns")
    assert registry.expand(entry, cache=cache) == []


def test_a_static_entry_is_one_instance_as_it_is():
    entry = registry.ExecutorEntry(id=7, department_id=3, name="billing-http", kind="http",
                                   address="https://93.184.216.34/api", weight=2, source="self")
    assert registry.expand(entry) == [registry.Instance(executor_id=7, department_id=3, name="billing-http",
                                                        kind="http", address="https://93.184.216.34/api", weight=2,
                                                        source="self")]
