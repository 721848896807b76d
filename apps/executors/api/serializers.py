"""Executor registry request/response shapes.

The input classes describe the request bodies for OpenAPI; the views do not validate with them: a body becomes a
:class:`~apps.executors.specs.Registration`, :class:`~apps.executors.specs.Deregistration` or
:class:`~apps.executors.specs.EntrySpec`, whose checks are the rules.
"""
from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from apps.executors import registry
from apps.executors.models import (
    MAX_TTL,
    MAX_WEIGHT,
    ExecutorKind,
    ExecutorSource,
    ExecutorStatus,
)
from djs_platform.envelope import PageQuery, SortField
from djs_platform.fields import (
    IdField,
    InputSerializer,
    StrictCharField,
    StrictIntegerField,
)

ADDRESS_HELP = ("grpc: host:port; http: an http(s):// base URL; either: dns:///host:port (every A/AAAA answer). "
                "Checked against the egress policy (security.egress) when saved.")
NAME_HELP = "a gRPC service name (orders.Billing) or an HTTP service name: 1-128 of A-Z a-z 0-9 _ . -"


class RegisterInput(InputSerializer):
    name = StrictCharField(help_text=NAME_HELP)
    kind = serializers.ChoiceField(choices=ExecutorKind.values)
    address = StrictCharField(help_text=ADDRESS_HELP)
    ttlSeconds = StrictIntegerField(min_value=1, max_value=MAX_TTL, required=False,
                                    help_text="seconds the registration lives without another call (default 30)")
    weight = StrictIntegerField(min_value=1, max_value=MAX_WEIGHT, required=False,
                                help_text="1-100; new entries 1, left out: unchanged")
    departmentId = IdField(required=False, help_text="default: the caller's department")


class DeregisterInput(InputSerializer):
    name = StrictCharField()
    kind = serializers.ChoiceField(choices=ExecutorKind.values)
    address = StrictCharField()
    departmentId = IdField(required=False, help_text="default: the caller's department")


class DeregisterOutput(serializers.Serializer):
    removed = serializers.BooleanField(help_text="false: there was no such entry (deregistering is idempotent)")


class EntryUpdateInput(InputSerializer):
    name = StrictCharField(required=False, help_text=NAME_HELP)
    kind = serializers.ChoiceField(choices=ExecutorKind.values, required=False)
    address = StrictCharField(required=False, help_text=ADDRESS_HELP)
    weight = StrictIntegerField(min_value=1, max_value=MAX_WEIGHT, required=False)
    status = serializers.ChoiceField(choices=ExecutorStatus.values, required=False,
                                     help_text="down: no new calls (drain), whatever the heartbeat says")


class EntryCreateInput(EntryUpdateInput):
    departmentId = IdField()


class ExecutorQuery(PageQuery):
    name = serializers.CharField(max_length=128, required=False, help_text="a part of the name, any case")
    kind = serializers.ChoiceField(choices=ExecutorKind.values, required=False)
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    source = serializers.ChoiceField(choices=ExecutorSource.values, required=False)
    status = serializers.ChoiceField(choices=ExecutorStatus.values, required=False)
    sort = SortField({"id": "id", "name": "name", "kind": "kind", "address": "address", "weight": "weight",
                      "status": "status", "source": "source", "lastHeartbeat": "last_heartbeat",
                      "createTime": "create_time", "updateTime": "update_time"})


class NamesQuery(serializers.Serializer):
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                            help_text="the task's department (in your scope; default: yours)")
    kind = serializers.ChoiceField(choices=ExecutorKind.values, required=False)


class NameOutput(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    level = serializers.IntegerField(help_text="0: the department's own entries, 1: its parent's, ...")


class ExecutorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    departmentId = serializers.IntegerField(source="department_id")
    departmentName = serializers.CharField(source="department.name")
    name = serializers.CharField()
    kind = serializers.CharField()
    address = serializers.CharField()
    weight = serializers.IntegerField()
    status = serializers.CharField(help_text="up | down (set by operators)")
    source = serializers.CharField(help_text="manual | self | dns")
    ttlSeconds = serializers.IntegerField(source="ttl_seconds", allow_null=True)
    lastHeartbeat = serializers.DateTimeField(source="last_heartbeat", allow_null=True)
    live = serializers.SerializerMethodField(help_text="status up and, for self entries, heartbeat within the TTL")
    instances = serializers.SerializerMethodField(
        help_text="concrete addresses: a dns:/// entry's current answers (re-resolved every 30 s), else the address")
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")

    def get_live(self, obj) -> bool:
        return obj.live(self.context.get("now") or timezone.now())

    def get_instances(self, obj) -> list[str]:
        entry = registry.ExecutorEntry(id=obj.pk, department_id=obj.department_id, name=obj.name, kind=obj.kind,
                                       address=obj.address, weight=obj.weight, source=obj.source)
        return [instance.address for instance in registry.expand(entry)]
