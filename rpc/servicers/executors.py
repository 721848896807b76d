"""``djs.ExecutorRegistry``: Register, Deregister and List through the services and selectors REST uses.

proto3 cannot tell 0 from "not given" for plain scalars, so ``ttl_seconds`` and ``weight`` are ``optional``: a
0 sent explicitly is refused like REST's ``ttlSeconds: 0``. ``department_id`` 0 is the caller's department.
Field errors keep the request's names (``ttl_seconds``, ``department_id``).
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.executors import registry, selectors, services
from apps.executors.models import ExecutorKind
from apps.executors.specs import Deregistration, Registration
from djs_platform import errors
from djs_platform.tenancy import in_scope, require_permission
from rpc.generated import executors_pb2 as pb
from rpc.generated import executors_pb2_grpc
from rpc.interceptors import current_actor
from rpc.servicers.common import iso, optional_id, page_args, text


def executor_message(entry, now) -> pb.Executor:
    as_entry = registry.ExecutorEntry(id=entry.pk, department_id=entry.department_id, name=entry.name,
                                      kind=entry.kind, address=entry.address, weight=entry.weight,
                                      source=entry.source)
    return pb.Executor(
        id=entry.pk, department_id=entry.department_id, department_name=text(entry.department.name),
        name=entry.name, kind=entry.kind, address=entry.address, weight=entry.weight, status=entry.status,
        source=entry.source, ttl_seconds=entry.ttl_seconds or 0, last_heartbeat=iso(entry.last_heartbeat),
        live=entry.live(now), instances=[i.address for i in registry.expand(as_entry)],
        create_time=iso(entry.create_time), update_time=iso(entry.update_time))


def _identity(request) -> dict:
    values = {"name": request.name, "kind": request.kind, "address": request.address}
    department_id = optional_id("department_id", request.department_id)
    if department_id is not None:
        values["department_id"] = department_id
    return values


class ExecutorRegistryServicer(executors_pb2_grpc.ExecutorRegistryServicer):
    def Register(self, request, context):
        values = _identity(request)
        if request.HasField("ttl_seconds"):
            values["ttl_seconds"] = request.ttl_seconds
        if request.HasField("weight"):
            values["weight"] = request.weight
        entry, _created = services.executor_register(actor=current_actor(), spec=Registration.from_values(values))
        return executor_message(entry, timezone.now())

    def Deregister(self, request, context):
        removed = services.executor_deregister(actor=current_actor(),
                                               spec=Deregistration.from_values(_identity(request)))
        return pb.DeregisterResponse(removed=removed)

    def List(self, request, context):
        user = current_actor().user
        require_permission(user, "executor:view")  # before the department check, as in REST
        page, size = page_args(request.page, request.size)
        if request.kind and request.kind not in ExecutorKind.values:
            raise errors.invalid("kind", _("must be grpc, http or empty"))
        if len(request.name) > 128:
            raise errors.invalid("name", _("at most 128 characters"))
        department_id = optional_id("department_id", request.department_id)
        if department_id is not None and not in_scope(user, department_id):
            raise errors.NotFound(_("department not found"))  # like data.DataService: the same as a missing one
        qs = selectors.executor_list(user=user, name=request.name or None, kind=request.kind or None,
                                     department_id=department_id)
        total = qs.count()
        now = timezone.now()
        rows = qs[(page - 1) * size: page * size]
        return pb.ListResponse(executors=[executor_message(row, now) for row in rows], total=total)
