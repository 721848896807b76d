"""The read side routing calls (apps/tasks/routing.py): live entries and their concrete instances.

Platform-wide on purpose (no user, no scope): a scheduler node resolves names for the tasks of every department;
which department's entries a task may use (its own, then its ancestors, nearest first) is the router's rule.
:func:`load_entries` is one query (the caller caches its answer for about a second); :func:`expand` turns a
``dns:///`` entry into one :class:`Instance` per A/AAAA answer (:mod:`apps.executors.dns`, 30 s per process)
and any other entry into exactly one.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from apps.executors import dns
from apps.executors.models import Executor, ExecutorKind, ExecutorStatus, is_expired


@dataclass(frozen=True)
class ExecutorEntry:
    """One live registry row."""

    id: int
    department_id: int
    name: str
    kind: str
    address: str
    weight: int
    source: str


@dataclass(frozen=True)
class Instance:
    """One concrete target of an entry."""

    executor_id: int
    department_id: int
    name: str
    kind: str      # "grpc" | "http"
    address: str   # concrete: "host:port" (grpc) or base URL (http); dns entries already expanded
    weight: int
    source: str    # "manual" | "self" | "dns"


def load_entries() -> list[ExecutorEntry]:
    """Every entry with status up and, for source=self, a heartbeat within its TTL (one query)."""
    now = timezone.now()
    rows = Executor.objects.filter(status=ExecutorStatus.UP).order_by("id").values_list(
        "id", "department_id", "name", "kind", "address", "weight", "source", "ttl_seconds", "last_heartbeat")
    return [ExecutorEntry(id=pk, department_id=dept, name=name, kind=kind, address=address, weight=weight,
                          source=source)
            for pk, dept, name, kind, address, weight, source, ttl, beat in rows
            if not is_expired(source, ttl, beat, now)]


def expand(entry: ExecutorEntry, cache: dns.DnsCache | None = None) -> list[Instance]:
    """The entry's instances: one per A/AAAA answer of a ``dns:///host:port`` address (gRPC ``ip:port``, HTTP
    ``http://ip:port``; none while the name has never resolved), else the entry's own address."""
    target = dns.split_dns(entry.address)
    if target is None:
        addresses = [entry.address]
    else:
        host, port = target
        answers = (cache or dns.CACHE).resolve(host, port)
        addresses = [dns.host_port(ip, port) if entry.kind == ExecutorKind.GRPC else f"http://{dns.host_port(ip, port)}"
                     for ip in answers]
    return [Instance(executor_id=entry.id, department_id=entry.department_id, name=entry.name, kind=entry.kind,
                     address=address, weight=entry.weight, source=entry.source) for address in addresses]
