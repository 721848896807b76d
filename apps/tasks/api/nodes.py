"""The scheduler nodes' API (``GET /nodes``, ``GET /nodes/stats``): the scheduler's own state, served by the tasks
app beside it (it used to live in the records API)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apps.tasks import nodestats
from apps.tasks.selectors import node_list, node_stats
from djs_platform import errors
from djs_platform.envelope import ok, parse_query


class NodeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    host = serializers.CharField()
    pid = serializers.IntegerField()
    status = serializers.CharField()
    alive = serializers.BooleanField()
    running = serializers.IntegerField()
    version = serializers.CharField()
    startedAt = serializers.DateTimeField(source="started_at")
    heartbeatAt = serializers.DateTimeField(source="heartbeat_at")
    heartbeatAge = serializers.FloatField(source="heartbeat_age")
    paused = serializers.BooleanField(help_text="maintenance mode as this node last saw it: true once it heartbeated "
                                                "after the pause began (it has stopped claiming)")
    schedulerPaused = serializers.BooleanField(source="scheduler_paused",
                                               help_text="the platform-wide switch now (GET /scheduler/state)")


class NodeStatsQuery(serializers.Serializer):
    window = serializers.CharField(required=False, max_length=16,
                                   help_text="5m .. 24h (e.g. 5m, 90m, 1h, 1h30m); default 1h")


class NodeStatsOutput(serializers.Serializer):
    node = serializers.CharField()
    status = serializers.CharField(allow_null=True)
    alive = serializers.BooleanField()
    executions = serializers.IntegerField(help_text="finished runs in the window (any final status)")
    failures = serializers.IntegerField(help_text="runs that ended failed")
    avgCostMs = serializers.FloatField(allow_null=True)
    lagP95Ms = serializers.IntegerField(allow_null=True, help_text="upper bound of the lag bucket holding the p95")
    minutes = serializers.IntegerField(help_text="minutes of the window with figures from this node")


class NodeStatsReply(serializers.Serializer):
    window = serializers.CharField()
    nodes = NodeStatsOutput(many=True)


class NodeListView(APIView):
    @extend_schema(responses=NodeOutput(many=True), tags=["system"])
    def get(self, request):
        return ok(NodeOutput(node_list(), many=True).data)


class NodeStatsView(APIView):
    @extend_schema(parameters=[NodeStatsQuery], responses=NodeStatsReply, tags=["system"])
    def get(self, request):
        q = parse_query(NodeStatsQuery, request)
        try:
            window = nodestats.parse_window(q.get("window") or "1h")
        except ValueError as exc:
            raise errors.InvalidArgument(str(exc), fields={"window": [str(exc)]}) from None
        return ok({"window": q.get("window") or "1h", "nodes": node_stats(window=window)})
