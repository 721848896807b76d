from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from apps.records.models import RecordStatus, TriggerType
from djs_platform.envelope import PageQuery


class MonthQuery(serializers.Serializer):
    year = serializers.IntegerField(min_value=1970, max_value=9999)
    month = serializers.IntegerField(min_value=1, max_value=12)


class RecordQuery(PageQuery, MonthQuery):
    taskId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    success = serializers.ChoiceField(choices=["0", "1", "true", "false"], required=False)
    taskType = serializers.ChoiceField(choices=["HTTP", "GRPC", "SHELL"], required=False)
    status = serializers.ChoiceField(choices=[str(v) for v in RecordStatus.values], required=False)
    triggerType = serializers.ChoiceField(choices=TriggerType.values, required=False)
    parentRecordId = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False,
        help_text="child runs (trigger CHILD) of this record; with parentYear/parentMonth, of that month's record")
    parentYear = serializers.IntegerField(min_value=1970, max_value=9999, required=False)
    parentMonth = serializers.IntegerField(min_value=1, max_value=12, required=False)
    cursor = serializers.CharField(
        max_length=512, required=False,
        help_text="the nextCursor of the previous page (newest first); pages deeper than 10,000 rows need it")
    start = serializers.DateTimeField(required=False, help_text="scheduled at or after (ISO-8601)")
    end = serializers.DateTimeField(required=False, help_text="scheduled before (ISO-8601)")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if "start" in attrs and "end" in attrs and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": [_("must be after start")]})
        given = [k for k in ("parentYear", "parentMonth") if k in attrs]
        if given and len(given) != 2:
            missing = "parentMonth" if "parentYear" in attrs else "parentYear"
            raise serializers.ValidationError({missing: [_("required with %(field)s") % {"field": given[0]}]})
        if given and "parentRecordId" not in attrs:
            raise serializers.ValidationError({"parentRecordId": [_("required with parentYear and parentMonth")]})
        return attrs


class LogQuery(MonthQuery):
    offset = serializers.IntegerField(min_value=0, max_value=2**62, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1024 * 1024, required=False, default=256 * 1024)


class RecordLogOutput(serializers.Serializer):
    recordId = serializers.IntegerField()
    taskId = serializers.IntegerField()
    exists = serializers.BooleanField(help_text="false: no file on this web host (not started yet, or written "
                                                "on node `executor` whose job.shell.logDir is not shared)")
    size = serializers.IntegerField(help_text="bytes in the whole file")
    offset = serializers.IntegerField()
    content = serializers.CharField(allow_blank=True)
    nextOffset = serializers.IntegerField(allow_null=True, help_text="offset of the next slice; null at the end")
    executor = serializers.CharField(allow_null=True)


class StatsQuery(MonthQuery):
    taskId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


class RecordOutput(serializers.Serializer):
    id = serializers.IntegerField()
    taskId = serializers.IntegerField(source="task_id")
    taskName = serializers.CharField(source="task_name")
    departmentId = serializers.IntegerField(source="department_id")
    taskType = serializers.CharField(source="task_type")
    triggerType = serializers.CharField(source="trigger_type")
    scheduledTime = serializers.DateTimeField(source="scheduled_time")
    startTime = serializers.DateTimeField(source="start_time", allow_null=True)
    endTime = serializers.DateTimeField(source="end_time", allow_null=True)
    status = serializers.IntegerField()
    success = serializers.BooleanField(allow_null=True)
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    response = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    costTime = serializers.IntegerField(source="cost_time", allow_null=True)
    retryTimes = serializers.IntegerField(source="retry_times")
    usedFallback = serializers.BooleanField(source="used_fallback")
    executor = serializers.CharField(allow_null=True)
    attempts = serializers.JSONField(allow_null=True, help_text="every call when there was more than one "
                                     "(retries, fallback): [{attempt, target, instance, statusCode, costMs, error}], "
                                     "at most 20; null for a single call")
    instance = serializers.CharField(allow_null=True, help_text="the registered executor instance that answered "
                                     "(a task whose target is a registry name; docs/executors.md)")
    shard = serializers.IntegerField(help_text="a broadcast fire's shard, 0..shardTotal-1 (0 for every other run)")
    shardTotal = serializers.IntegerField(source="shard_total", allow_null=True,
                                          help_text="how many shards (instances) the broadcast fire had; null when "
                                                    "the run was not a broadcast")
    takenOverFrom = serializers.CharField(source="taken_over_from", allow_null=True,
                                          help_text="the dead scheduler node this never-started run was taken over "
                                                    "from (the survivor in executor ran it as a first attempt)")
    parentRecordId = serializers.IntegerField(source="parent_record_id", allow_null=True,
                                              help_text="CHILD runs: the parent task's record that triggered this one")
    parentYear = serializers.SerializerMethodField(help_text="year of the parent record's month table")
    parentMonth = serializers.SerializerMethodField(help_text="month of the parent record's month table")
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")

    def get_parentYear(self, record) -> int | None:
        return record.parent_month // 100 if record.parent_month else None

    def get_parentMonth(self, record) -> int | None:
        return record.parent_month % 100 if record.parent_month else None

