from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.records import selectors
from apps.records.api import serializers as s
from apps.tasks.selectors import node_list
from djs_platform.envelope import ok, paginated, parse_query


class RecordListView(APIView):
    @extend_schema(parameters=[s.RecordQuery], responses=s.RecordOutput(many=True), tags=["records"])
    def get(self, request):
        q = parse_query(s.RecordQuery, request)
        success = None if "success" not in q else q["success"] in ("1", "true")
        qs = selectors.record_list(user=request.user, year=q["year"], month=q["month"], task_id=q.get("taskId"),
                                   department_id=q.get("departmentId"), success=success,
                                   task_type=q.get("taskType"),
                                   status=int(q["status"]) if "status" in q else None,
                                   trigger_type=q.get("triggerType"), parent_record_id=q.get("parentRecordId"),
                                   parent_month=q["parentYear"] * 100 + q["parentMonth"] if "parentYear" in q else None)
        if qs is None:
            return ok({"list": [], "total": 0, "page": q["page"], "size": q["size"]})
        return paginated(qs, q, s.RecordOutput)


class RecordDetailView(APIView):
    @extend_schema(parameters=[s.MonthQuery], responses=s.RecordOutput, tags=["records"])
    def get(self, request, pk: int):
        q = parse_query(s.MonthQuery, request)
        record = selectors.record_get(user=request.user, year=q["year"], month=q["month"], record_id=pk)
        return ok(s.RecordOutput(record).data)


class RecordLogView(APIView):
    @extend_schema(parameters=[s.LogQuery], responses=s.RecordLogOutput, tags=["records"],
                   description="The whole output of a SHELL execution, in byte slices (`offset`, `limit`).")
    def get(self, request, pk: int):
        q = parse_query(s.LogQuery, request)
        return ok(selectors.record_log(user=request.user, year=q["year"], month=q["month"], record_id=pk,
                                       offset=q["offset"], limit=q["limit"]))


class RecordStatsView(APIView):
    @extend_schema(parameters=[s.StatsQuery], tags=["records"], responses=inline_serializer(
        "RecordStats", {"year": serializers.IntegerField(), "month": serializers.IntegerField(),
                        "total": serializers.IntegerField(), "successCount": serializers.IntegerField(),
                        "failCount": serializers.IntegerField(), "runningCount": serializers.IntegerField(),
                        "killedCount": serializers.IntegerField(), "skippedCount": serializers.IntegerField(),
                        "lostCount": serializers.IntegerField(),
                        # null while nothing finished (rate) or nothing has a cost yet (averages)
                        "successRate": serializers.FloatField(allow_null=True),
                        "avgCostTime": serializers.FloatField(allow_null=True),
                        "p95CostTime": serializers.IntegerField(allow_null=True),
                        "daily": serializers.ListField(child=serializers.DictField()),
                        "topFailingTasks": serializers.ListField(child=serializers.DictField()),
                        # present only while the month's rollups are not built (figures from the raw rows)
                        "warning": serializers.CharField(required=False)}))
    def get(self, request):
        q = parse_query(s.StatsQuery, request)
        return ok(selectors.record_stats(user=request.user, year=q["year"], month=q["month"],
                                         task_id=q.get("taskId"), department_id=q.get("departmentId")))


class NodeListView(APIView):
    @extend_schema(responses=s.NodeOutput(many=True), tags=["system"])
    def get(self, request):
        return ok(s.NodeOutput(node_list(), many=True).data)
