"""Alert policy and alert request/response shapes.

The policy input classes describe the request bodies for OpenAPI; the views do not validate with them: a body
becomes a :class:`~apps.alerts.specs.PolicySpec`, whose checks are the rules. Bounds are the spec's constants.
"""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.alerts.models import AlertKind, AlertStatus
from apps.alerts.specs import MAX_CONSECUTIVE, MAX_COOLDOWN, MAX_EMAIL, MAX_EMAILS, MAX_LAG, MAX_OVERRUN, MAX_SECRET
from apps.tasks.specs import MAX_URL
from djs_platform.envelope import PageQuery, SortField
from djs_platform.fields import IdField, InputSerializer, StrictCharField, StrictIntegerField


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean (``"true"`` and ``1`` are refused)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class EmailsField(serializers.ListField):
    def __init__(self, **kwargs: Any):
        super().__init__(child=StrictCharField(max_length=MAX_EMAIL), max_length=MAX_EMAILS, allow_empty=True,
                         **kwargs)


class AlertPolicyFields(InputSerializer):
    """The editable part, shared by create and update (PUT: a field left out keeps its value)."""

    enabled = StrictBooleanField(required=False)
    onFailure = StrictBooleanField(required=False)
    consecutiveFailures = StrictIntegerField(min_value=0, max_value=MAX_CONSECUTIVE, required=False)
    autoPause = StrictBooleanField(required=False)
    overrunSeconds = StrictIntegerField(min_value=1, max_value=MAX_OVERRUN, required=False, allow_null=True)
    lagSeconds = StrictIntegerField(min_value=1, max_value=MAX_LAG, required=False, allow_null=True)
    webhookUrl = StrictCharField(max_length=MAX_URL, required=False, allow_null=True, allow_blank=True,
                                 help_text="absolute http(s) URL; a cloud metadata or deny-listed target "
                                           "(security.egress) is refused when saved")
    webhookSecret = StrictCharField(max_length=MAX_SECRET, required=False, allow_blank=True, trim_whitespace=False,
                                    write_only=True, help_text="HMAC-SHA256 key; never answered; \"\" removes it")
    emails = EmailsField(required=False, allow_null=True, help_text="distinct addresses, ignoring case")
    cooldownSeconds = StrictIntegerField(min_value=0, max_value=MAX_COOLDOWN, required=False, allow_null=True,
                                         help_text="null: alerts.cooldown (300 s by default); 0: no cooldown")


class AlertPolicyCreateInput(AlertPolicyFields):
    taskId = IdField(required=False, help_text="the task's own policy")
    departmentId = IdField(required=False, help_text="the department default (taskId not given)")


class AlertPolicyUpdateInput(AlertPolicyFields):
    pass


class AlertPolicyQuery(PageQuery):
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    taskId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    scope = serializers.ChoiceField(choices=["task", "department"], required=False,
                                    help_text="task: tasks' own policies; department: department defaults")
    sort = SortField({"id": "id", "enabled": "enabled", "createTime": "create_time", "updateTime": "update_time"})


class AlertPolicyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    departmentId = serializers.IntegerField(source="department_id")
    departmentName = serializers.CharField(source="department.name")
    taskId = serializers.IntegerField(source="task_id", allow_null=True)
    taskName = serializers.SerializerMethodField()
    enabled = serializers.BooleanField()
    onFailure = serializers.BooleanField(source="on_failure")
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")
    autoPause = serializers.BooleanField(source="auto_pause")
    overrunSeconds = serializers.IntegerField(source="overrun_seconds", allow_null=True)
    lagSeconds = serializers.IntegerField(source="lag_seconds", allow_null=True)
    webhookUrl = serializers.CharField(source="webhook_url", allow_null=True)
    hasWebhookSecret = serializers.SerializerMethodField()
    emails = serializers.ListField(child=serializers.CharField(), allow_null=True)
    cooldownSeconds = serializers.IntegerField(source="cooldown_seconds", allow_null=True)
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")

    def get_taskName(self, obj) -> str | None:
        return obj.task.name if obj.task_id else None

    def get_hasWebhookSecret(self, obj) -> bool:
        return bool(obj.webhook_secret)


class AlertQuery(PageQuery):
    taskId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    kind = serializers.ChoiceField(choices=AlertKind.values, required=False)
    status = serializers.ChoiceField(choices=AlertStatus.values, required=False)
    # Sent alerts only grow: only indexed columns ((department_id, create_time), (task_id, kind, create_time)).
    sort = SortField({"id": "id", "createTime": "create_time"})


class DeliveryOutput(serializers.Serializer):
    channel = serializers.CharField(help_text="webhook | email")
    target = serializers.CharField()
    ok = serializers.BooleanField()
    statusCode = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class AlertOutput(serializers.Serializer):
    id = serializers.IntegerField()
    departmentId = serializers.IntegerField(source="department_id")
    policyId = serializers.IntegerField(source="policy_id", allow_null=True)
    taskId = serializers.IntegerField(source="task_id", allow_null=True)
    taskName = serializers.CharField(source="task_name")
    kind = serializers.CharField()
    recordId = serializers.IntegerField(source="record_id", allow_null=True)
    recordYear = serializers.SerializerMethodField()
    recordMonth = serializers.SerializerMethodField()
    message = serializers.CharField()
    status = serializers.CharField()
    deliveries = DeliveryOutput(many=True, allow_null=True)
    suppressed = serializers.IntegerField(help_text="similar alerts folded into this one (cooldown, rate limit)")
    node = serializers.CharField()
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")

    def get_recordYear(self, obj) -> int | None:
        return obj.record_month // 100 if obj.record_month else None

    def get_recordMonth(self, obj) -> int | None:
        return obj.record_month % 100 if obj.record_month else None
