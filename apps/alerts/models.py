"""Alert policies (per task, or a department's default) and the alerts they sent.

A task's own policy wins; a task without one follows the default of its department, else of the nearest
ancestor department that has one. ``scope_key`` (``task:<id>`` / ``department:<id>``) is unique, so one
task or department has at most one policy on every database (a UNIQUE key over a NULL-able task column
would not stop two department defaults on MariaDB or SQLite).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from djs_platform.tenancy import RestrictedQuerySet
from djs_platform.timestamps import UpdateTimeField


class AlertKind(models.TextChoices):
    FAILURE = "failure"          # an execution failed after its retries
    CONSECUTIVE = "consecutive"  # the task failed N times in a row (optionally paused)
    OVERRUN = "overrun"          # an execution still runs after X seconds
    LAG = "lag"                  # an execution started more than Y seconds after its scheduled time
    TEST = "test"                # sent from the console / API to try the channels


class AlertStatus(models.TextChoices):
    SENDING = "sending"
    SENT = "sent"        # every channel accepted it
    PARTIAL = "partial"  # some channels failed
    FAILED = "failed"    # every channel failed


class AlertPolicy(models.Model):
    department = models.ForeignKey("departments.Department", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey("tasks.Task", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    scope_key = models.CharField(max_length=40, unique=True)
    enabled = models.BooleanField(default=True)
    on_failure = models.BooleanField(default=True)
    consecutive_failures = models.IntegerField(default=0)   # 0 = off
    auto_pause = models.BooleanField(default=False)         # with consecutive_failures: disable the task
    overrun_seconds = models.IntegerField(null=True, blank=True)
    lag_seconds = models.IntegerField(null=True, blank=True)
    webhook_url = models.CharField(max_length=2048, null=True, blank=True)
    webhook_secret = models.CharField(max_length=255, null=True, blank=True)  # HMAC key; never answered
    emails = models.JSONField(null=True, blank=True)         # list of addresses
    cooldown_seconds = models.IntegerField(null=True, blank=True)  # None = alerts.cooldown
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "alert_policy"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(consecutive_failures__gte=0),
                                   name="alert_policy_consecutive_non_negative"),
        ]

    def __str__(self) -> str:
        return self.scope_key


class Alert(models.Model):
    """One alert: sent (or tried) on its channels, with each delivery's outcome. Alerts folded into it by the
    cooldown or the per-minute limit are counted in ``suppressed``."""

    department_id = models.BigIntegerField()
    policy_id = models.BigIntegerField(null=True, blank=True)
    task_id = models.BigIntegerField(null=True, blank=True)
    task_name = models.CharField(max_length=255, default="", blank=True)
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    record_id = models.BigIntegerField(null=True, blank=True)
    record_month = models.IntegerField(null=True, blank=True)  # YYYYMM of the record's month table
    message = models.TextField()
    dedup_key = models.CharField(max_length=191, unique=True)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.SENDING,
                              db_default="sending")
    deliveries = models.JSONField(null=True, blank=True)  # [{channel, target, ok, error, statusCode}]
    suppressed = models.IntegerField(default=0)
    node = models.CharField(max_length=100, default="", blank=True)
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "alert"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["department_id", "create_time"], name="idx_alert_dept"),
            models.Index(fields=["task_id", "kind", "create_time"], name="idx_alert_task"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.task_name}"
