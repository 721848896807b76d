"""Prometheus metrics (prefix ``djs_``), one definition shared by web, gRPC and scheduler processes.

Label sets stay bounded: route templates (never raw paths), task types, statuses, gRPC method names;
never task, user or record ids. Under gunicorn with several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set
by configs/gunicorn.conf.py before workers import this module, and ``/v1/metrics`` aggregates all workers.
"""
from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

# --- API ---------------------------------------------------------------------------------------
api_requests = Counter("djs_api_requests_total", "REST API requests", ["method", "route", "status"])
api_latency = Histogram("djs_api_request_duration_seconds", "REST API request latency", ["method", "route"],
                        buckets=LATENCY_BUCKETS)

# --- gRPC --------------------------------------------------------------------------------------
grpc_requests = Counter("djs_grpc_requests_total", "gRPC calls", ["method", "code"])
grpc_latency = Histogram("djs_grpc_request_duration_seconds", "gRPC call latency", ["method"],
                         buckets=LATENCY_BUCKETS)

# --- database ----------------------------------------------------------------------------------
replica_healthy = Gauge("djs_db_replica_healthy",
                        "1 while this process reads records from the read replica, 0 while it reads them from the "
                        "primary (replica down, lagging or not replicating; also when none is configured)",
                        multiprocess_mode="livemin")

# --- scheduler ---------------------------------------------------------------------------------
fires = Counter("djs_scheduler_fires_total", "Executions started by the scheduler", ["trigger"])
claim_conflicts = Counter("djs_scheduler_claim_conflicts_total",
                          "Claims lost to another node (optimistic-lock UPDATE changed no row)")
misfires = Counter("djs_scheduler_misfires_total", "Fire times older than the misfire threshold", ["policy"])
schedule_lag = Histogram("djs_schedule_lag_seconds", "Actual start minus scheduled time", ["trigger"],
                         buckets=LAG_BUCKETS)
live_nodes = Gauge("djs_scheduler_live_nodes", "Scheduler nodes with a fresh heartbeat (as seen by a node)",
                   multiprocess_mode="max")
recovered = Counter("djs_scheduler_recovered_total", "Running records of dead nodes re-run (RECOVERY)")
taken_over = Counter("djs_scheduler_taken_over_total",
                     "Never-started records of dead nodes taken over and run as first attempts")
result_flush_delay = Histogram("djs_scheduler_result_flush_delay_seconds",
                               "From an execution's end until its result is committed (the window a crash loses)",
                               buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10))
adopted = Counter("djs_scheduler_adopted_total",
                  "Claimed records re-run by their own node after a database error hid the claim's commit")
alerts = Counter("djs_alerts_total", "Alerts opened by scheduler nodes and the test endpoint", ["kind", "status"])
alerts_suppressed = Counter("djs_alerts_suppressed_total", "Alerts folded into an earlier one (cooldown, rate limit)",
                            ["kind"])
alert_events_dropped = Counter("djs_alert_events_dropped_total", "Alert events dropped: the node's queue was full")
claimed_waiting = Gauge("djs_scheduler_claimed_waiting", "Claimed fires waiting for their instant",
                        multiprocess_mode="livesum")

# --- executions --------------------------------------------------------------------------------
executions = Counter("djs_executions_total", "Finished executions", ["type", "status"])
execution_duration = Histogram("djs_execution_duration_seconds", "Execution duration (all attempts)", ["type"],
                               buckets=DURATION_BUCKETS)
retries = Counter("djs_execution_retries_total", "Retries performed", ["type"])
fallbacks = Counter("djs_execution_fallbacks_total", "Executions answered by the fallback target", ["type"])
in_flight = Gauge("djs_executions_in_flight", "Executions running now", ["type"], multiprocess_mode="livesum")
executor_calls = Counter("djs_executor_calls_total", "Calls to registered executor instances (apps/tasks/routing.py)",
                         ["name", "instance", "result"])


class Children:
    """The label children of one metric, each looked up once: ``labels()`` checks and converts its values and
    takes the metric's lock on every call, which a scheduler node would pay several times per fire. Only for
    label sets that stay small (trigger, task type, status)."""

    __slots__ = ("children", "metric")

    def __init__(self, metric: Any):
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = self.metric.labels(*values)
        return child


# --- executor registry -------------------------------------------------------------------------
#: ``djs_executor_instances{name,status}`` is computed from the database when ``/v1/metrics`` is scraped (the
#: collector is registered by apps/executors), so only the web exposition carries it, once per scrape whatever
#: the number of workers; scheduler and gRPC metric ports do not repeat it.
_scrape_collectors: list[Any] = []


def register_scrape_collector(collector: Any) -> None:
    """Add a collector (``collect()`` yielding metric families) that ``/v1/metrics`` runs at each scrape."""
    if not any(type(c) is type(collector) for c in _scrape_collectors):
        _scrape_collectors.append(collector)


def exposition() -> tuple[bytes, str]:
    """The text exposition of this process, or of every gunicorn worker in multiprocess mode, plus what the
    scrape-time collectors report."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    if _scrape_collectors:
        extra = CollectorRegistry(auto_describe=False)
        for collector in _scrape_collectors:
            extra.register(collector)
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST


def start_metrics_server(port: int, host: str = "127.0.0.1") -> None:
    """A /metrics endpoint for the scheduler and gRPC processes (port 0 = off)."""
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr=host)
