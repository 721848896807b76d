"""Seed 002's worker stats: ``GET /v1/nodes/stats?window=`` per node — executions, failures, average cost, lag
p95 — from the per-minute figures each node's heartbeat stores (kept 24 h)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from apps.tasks import nodestats
from apps.tasks.models import NodeMinute, SchedulerNode
from tests.factories import TaskFactory
from tests.scheduling import wait_until
from tests.targets import Respond

UTC = timezone.utc


def stats(api, window: str | None = None) -> dict:
    reply = api.get("nodes/stats", **({"window": window} if window is not None else {})).expect(0).data
    return {n["node"]: n for n in reply["nodes"]}


@pytest.mark.django_db(transaction=True)
def test_a_nodes_executions_failures_cost_and_lag_are_reported_per_window(node_factory, http_target, department,
                                                                          admin_api):
    http_target.on("/bad", Respond(status=500))
    TaskFactory(department=department, url=http_target.url("/ok"), name="ok")          # every second
    TaskFactory(department=department, url=http_target.url("/bad"), name="bad")
    node = node_factory()
    wait_until(lambda: http_target.hits("/bad") >= 3 and http_target.hits("/ok") >= 3, timeout=15)

    def reported():
        entry = stats(admin_api, "5m").get(node.name)
        return entry if entry and entry["failures"] >= 3 and entry["executions"] >= 6 else None

    entry = wait_until(reported, timeout=15)
    assert entry["alive"] and entry["status"] == "up"
    assert entry["executions"] >= entry["failures"] + 3
    assert entry["avgCostMs"] is not None and entry["avgCostMs"] >= 0
    assert entry["lagP95Ms"] in nodestats.LAG_BOUNDS_MS
    assert entry["minutes"] >= 1
    rows = NodeMinute.objects.filter(node_name=node.name)
    assert sum(r.executions for r in rows) == entry["executions"]  # what the API sums is what was stored


@pytest.mark.django_db
def test_nodes_down_during_the_window_are_listed_and_older_minutes_are_not(admin_api):
    now = datetime.now(UTC)
    SchedulerNode.objects.create(name="gone", host="h", pid=1, started_at=now - timedelta(hours=2),
                                 heartbeat_at=now - timedelta(minutes=20), status="down")
    minute = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    NodeMinute.objects.create(node_name="gone", minute=minute, executions=10, failures=2, cost_sum=500,
                              cost_count=10, lag_histogram=[0, 9, 1] + [0] * 11)
    NodeMinute.objects.create(node_name="gone", minute=minute - timedelta(hours=3), executions=99, failures=0,
                              cost_sum=0, cost_count=0, lag_histogram=[])
    hour = stats(admin_api, "1h")["gone"]
    assert (hour["executions"], hour["failures"], hour["avgCostMs"], hour["alive"], hour["status"]) == \
        (10, 2, 50.0, False, "down")
    assert hour["lagP95Ms"] == 25  # 95th of 10 lags: the third bucket (<= 25 ms)
    assert stats(admin_api, "4h")["gone"]["executions"] == 109
    assert "gone" not in stats(admin_api, "5m")
    assert stats(admin_api)["gone"]["executions"] == 10  # default window 1h


@pytest.mark.django_db
@pytest.mark.parametrize("window", ["4m", "25h", "abc", "1d", "0m", "-5m", "1h90000m", " "])
def test_a_window_outside_5m_to_24h_is_refused(admin_api, window):
    reply = admin_api.get("nodes/stats", window=window).expect(4001)
    assert "window" in reply.data["fields"]


@pytest.mark.django_db(transaction=True)
def test_minutes_older_than_24_hours_are_pruned_by_a_heartbeat(node_factory):
    old = (datetime.now(UTC) - timedelta(hours=25)).replace(second=0, microsecond=0)
    NodeMinute.objects.create(node_name="ancient", minute=old, executions=1)
    node_factory()
    wait_until(lambda: not NodeMinute.objects.filter(node_name="ancient").exists(), timeout=10)


def test_lag_p95_and_window_parsing():
    assert nodestats.lag_p95([0] * 14) is None
    assert nodestats.lag_p95([100] + [0] * 13) == 5
    assert nodestats.lag_p95([94, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6]) == 60000  # overflow: the last bound
    assert [nodestats.parse_window(w) for w in ("5m", "90m", "1h", "1h30m", "24h")] == [
        timedelta(minutes=5), timedelta(minutes=90), timedelta(hours=1), timedelta(minutes=90), timedelta(hours=24)]
    for bad in ("", "4m", "24h1m", "h", "m", "5", "5s"):
        with pytest.raises(ValueError):
            nodestats.parse_window(bad)
