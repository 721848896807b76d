"""Alert policy and alert request/response shapes."""
from __future__ import annotations

from typing import Any

from django.core.validators import validate_email
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.alerts.models import AlertKind, AlertStatus
from apps.tasks.api.serializers import validate_http_url
from djs_platform.envelope import PageQuery
from djs_platform.fields import IdField, InputSerializer, StrictCharField, StrictIntegerField

MAX_EMAILS = 20


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean (``"true"`` and ``1`` are refused)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class EmailsField(serializers.ListField):
    def __init__(self, **kwargs: Any):
        super().__init__(child=StrictCharField(max_length=254), max_length=MAX_EMAILS, allow_empty=True, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        values = super().to_internal_value(data)
        for value in values:
            try:
                validate_email(value)
            except DjangoValidationError:
                raise serializers.ValidationError(f"{value!r} is not an e-mail address") from None
        if len({v.lower() for v in values}) != len(values):
            raise serializers.ValidationError("lists an address more than once")
        return values


class AlertPolicyFields(InputSerializer):
    """The editable part, shared by create and update (PUT: a field left out keeps its value)."""

    enabled = StrictBooleanField(required=False)
    onFailure = StrictBooleanField(required=False)
    consecutiveFailures = StrictIntegerField(min_value=0, max_value=1000, required=False)
    autoPause = StrictBooleanField(required=False)
    overrunSeconds = StrictIntegerField(min_value=1, max_value=7 * 86400, required=False, allow_null=True)
    lagSeconds = StrictIntegerField(min_value=1, max_value=86400, required=False, allow_null=True)
    webhookUrl = StrictCharField(max_length=2048, required=False, allow_null=True, allow_blank=True)
    webhookSecret = StrictCharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False,
                                    write_only=True, help_text="HMAC-SHA256 key; never answered; \"\" removes it")
    emails = EmailsField(required=False, allow_null=True)
    cooldownSeconds = StrictIntegerField(min_value=0, max_value=86400, required=False, allow_null=True,
                                         help_text="null: alerts.cooldown (300 s by default); 0: no cooldown")

    def validate_webhookUrl(self, value: str | None) -> str | None:
        return validate_http_url(value) if value else None

    def validate_emails(self, value: list[str] | None) -> list[str] | None:
        return value or None


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
