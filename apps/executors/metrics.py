"""``djs_executor_instances{name,status}``: instances per executor name, computed when /v1/metrics is scraped.

``status``: ``up`` (live: status up and, for self entries, heartbeat within the TTL; a ``dns:///`` entry counts
each current answer), ``down`` (an operator drained it) and ``expired`` (a self entry that missed its TTL). One
query per scrape; names of every department are summed (the label set stays the set of service names).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from apps.executors import registry
from apps.executors.models import Executor, ExecutorStatus, is_expired

log = logging.getLogger("djs.executors")


def instance_counts() -> Counter[tuple[str, str]]:
    """(name, status) -> instances."""
    now = timezone.now()
    counts: Counter[tuple[str, str]] = Counter()
    rows = Executor.objects.values_list("id", "department_id", "name", "kind", "address", "weight", "source",
                                        "status", "ttl_seconds", "last_heartbeat")
    for pk, dept, name, kind, address, weight, source, status, ttl, beat in rows:
        if status != ExecutorStatus.UP:
            counts[(name, "down")] += 1
        elif is_expired(source, ttl, beat, now):
            counts[(name, "expired")] += 1
        else:
            entry = registry.ExecutorEntry(id=pk, department_id=dept, name=name, kind=kind, address=address,
                                           weight=weight, source=source)
            counts[(name, "up")] += len(registry.expand(entry))
    return counts


class InstancesCollector:
    """A prometheus-client custom collector (registered for the web exposition only)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("djs_executor_instances",
                                   "Executor instances by name and status (up: live; down: drained by an operator; "
                                   "expired: a self-registered instance that missed its heartbeat TTL)",
                                   labels=["name", "status"])
        try:
            counts = instance_counts()
        except DatabaseError as exc:  # a scrape must not fail because the database is away for a moment
            log.warning("djs_executor_instances not computed: %s", exc)
            counts = Counter()
        for (name, status), value in sorted(counts.items()):
            family.add_metric([name, status], value)
        yield family
