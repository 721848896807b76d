from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.records import cursors, rollups, selectors
from apps.records.api import serializers as s
from djs_platform import errors
from djs_platform.envelope import ok, parse_query
from djs_platform.output import PlainOutput

#: RecordOutput without DRF's per-field work (djs_platform/output.py): the same dicts.
RECORD_ROWS = PlainOutput(s.RecordOutput)


class RecordListView(APIView):
    @extend_schema(parameters=[s.RecordQuery], responses=s.RecordOutput(many=True), tags=["records"])
    def get(self, request):
        q = parse_query(s.RecordQuery, request)
        year, month, size = q["year"], q["month"], q["size"]
        filters = {"task_id": q.get("taskId"), "department_id": q.get("departmentId"),
                   "success": None if "success" not in q else q["success"] in ("1", "true"),
                   "task_type": q.get("taskType"), "status": int(q["status"]) if "status" in q else None,
                   "trigger_type": q.get("triggerType"), "parent_record_id": q.get("parentRecordId"),
                   "parent_month": q["parentYear"] * 100 + q["parentMonth"] if "parentYear" in q else None,
                   "scheduled_from": q.get("start"), "scheduled_before": q.get("end")}
        before = cursors.read(q["cursor"], user=request.user, year=year, month=month, filters=filters) \
            if "cursor" in q else None
        offset = 0 if before is not None else (q["page"] - 1) * size
        if offset >= selectors.MAX_OFFSET:
            raise errors.invalid("page", _("pages reach %(max_offset)s rows deep; use cursor (the nextCursor of the "
                                           "page before) for deeper pages")
                                         % {"max_offset": format(selectors.MAX_OFFSET, ",")})
        qs = selectors.record_list(user=request.user, year=year, month=month, **filters)
        if qs is None:
            empty = {"list": [], "total": 0, "page": q["page"], "size": size, "hasMore": False, "nextCursor": None}
            if rollups.raw_pruned(year, month):  # retention dropped the rows; /records/stats still has the month
                empty["rawPruned"] = True
            return ok(empty)
        window = qs.filter(id__lt=before) if before is not None else qs
        # Ids first (the offset walks index entries), then the page's rows by primary key.
        ids = list(window.order_by("-id").values_list("id", flat=True)[offset:offset + size + 1])
        rows = list(qs.model.objects.filter(id__in=ids[:size]).order_by("-id"))
        more = len(ids) > size
        return ok({"list": RECORD_ROWS.many(rows),
                   **selectors.record_total(user=request.user, year=year, month=month, qs=qs, filters=filters),
                   "page": q["page"], "size": size, "hasMore": more,
                   "nextCursor": cursors.make(ids[size - 1], user=request.user, year=year, month=month,
                                              filters=filters) if more else None})


class RecordDetailView(APIView):
    @extend_schema(parameters=[s.MonthQuery], responses=s.RecordOutput, tags=["records"])
    def get(self, request, pk: int):
        q = parse_query(s.MonthQuery, request)
        record = selectors.record_get(user=request.user, year=q["year"], month=q["month"], record_id=pk)
        return ok(RECORD_ROWS.one(record))


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
                        # the platform zone (server.timezone) whose local days the daily series counts
                        "timeZone": serializers.CharField(),
                        # present only while the month's rollups are not built (figures from the raw rows)
                        "warning": serializers.CharField(required=False)}))
    def get(self, request):
        q = parse_query(s.StatsQuery, request)
        return ok(selectors.record_stats(user=request.user, year=q["year"], month=q["month"],
                                         task_id=q.get("taskId"), department_id=q.get("departmentId")))
