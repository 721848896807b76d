"""The executor registry (DESIGN §14.3, docs/executors.md "Executor registry").

One row is one way to reach a named service from tasks of one department: a gRPC service name
(``orders.Billing``) or an HTTP service name (``billing-http``), with an address: ``host:port`` (gRPC), an
``http(s)://`` base URL (HTTP), or ``dns:///host:port`` (either kind; expanded to every A/AAAA answer,
:mod:`apps.executors.dns`). Rows come from operators (``source`` manual or dns) or from the targets themselves
(``source`` self: ``POST /v1/executors/register`` repeated as a heartbeat; a row whose heartbeat is older than
its ``ttl_seconds`` is not live). ``status`` is the operator's switch: ``down`` drains an entry whatever its
heartbeat says.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from apps.accounts.models import BinaryCharField
from djs_platform.tenancy import RestrictedQuerySet
from djs_platform.timestamps import UpdateTimeField

MAX_NAME = 128
MAX_ADDRESS = 255
MIN_WEIGHT, MAX_WEIGHT, DEFAULT_WEIGHT = 1, 100, 1
MIN_TTL, MAX_TTL, DEFAULT_TTL = 1, 300, 30


class ExecutorKind(models.TextChoices):
    GRPC = "grpc"
    HTTP = "http"


class ExecutorStatus(models.TextChoices):
    UP = "up"
    DOWN = "down"  # set by an operator: no new calls, whatever the heartbeat says


class ExecutorSource(models.TextChoices):
    MANUAL = "manual"  # a static address entered by an operator
    SELF = "self"      # registered by the target itself; live while its heartbeat is within ttl_seconds
    DNS = "dns"        # a dns:/// address entered by an operator, expanded to every A/AAAA answer


class Executor(models.Model):
    department = models.ForeignKey("departments.Department", on_delete=models.PROTECT, related_name="executors")
    # Byte-exact (utf8mb4_bin on MariaDB): gRPC service names are case-sensitive, and the identity below must
    # mean the same on both backends.
    name = BinaryCharField(max_length=MAX_NAME)
    kind = models.CharField(max_length=8, choices=ExecutorKind.choices)
    address = BinaryCharField(max_length=MAX_ADDRESS)
    weight = models.SmallIntegerField(default=DEFAULT_WEIGHT, db_default=DEFAULT_WEIGHT)
    status = models.CharField(max_length=8, choices=ExecutorStatus.choices, default=ExecutorStatus.UP,
                              db_default="up")
    source = models.CharField(max_length=8, choices=ExecutorSource.choices)
    ttl_seconds = models.IntegerField(null=True, blank=True)  # self entries only
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "executor"
        ordering = ["name", "kind", "id"]
        verbose_name = "executor"
        verbose_name_plural = "executors"
        indexes = [models.Index(fields=["name", "kind"], name="idx_executor_name")]
        constraints = [
            models.UniqueConstraint(fields=["department", "kind", "name", "address"], name="executor_identity_unique"),
            models.CheckConstraint(condition=models.Q(weight__gte=MIN_WEIGHT, weight__lte=MAX_WEIGHT),
                                   name="executor_weight_range"),
            models.CheckConstraint(condition=models.Q(kind__in=ExecutorKind.values), name="executor_kind_valid"),
            models.CheckConstraint(condition=models.Q(status__in=ExecutorStatus.values), name="executor_status_valid"),
            models.CheckConstraint(condition=models.Q(source__in=ExecutorSource.values), name="executor_source_valid"),
            models.CheckConstraint(condition=models.Q(ttl_seconds__isnull=True)
                                   | models.Q(ttl_seconds__gte=MIN_TTL, ttl_seconds__lte=MAX_TTL),
                                   name="executor_ttl_range"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} {self.address}"

    def expired(self, now: datetime) -> bool:
        """A self entry whose last heartbeat is older than its TTL (a missed heartbeat: not live)."""
        return is_expired(self.source, self.ttl_seconds, self.last_heartbeat, now)

    def live(self, now: datetime) -> bool:
        return self.status == ExecutorStatus.UP and not self.expired(now)


def is_expired(source: str, ttl_seconds: int | None, last_heartbeat: datetime | None, now: datetime) -> bool:
    if source != ExecutorSource.SELF:
        return False
    if last_heartbeat is None:
        return True
    return last_heartbeat + timedelta(seconds=ttl_seconds or DEFAULT_TTL) < now
