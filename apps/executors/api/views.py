"""Thin REST views of the executor registry (docs/executors.md)."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from apps.executors import selectors, services
from apps.executors.api import serializers as s
from apps.executors.specs import Deregistration, EntrySpec, Registration, api_name
from djs_platform import errors, inputs
from djs_platform.actor import Actor
from djs_platform.envelope import ok, paginated, parse_query
from djs_platform.schema import NO_DATA


def body_values(request, allowed: tuple[str, ...]) -> dict:
    """The body (camelCase) as spec values; a key the route does not take is 4001 (mass assignment)."""
    if not isinstance(request.data, dict):
        raise errors.InvalidArgument(_("request body must be a JSON object"))
    names = {api_name(name): name for name in allowed}
    unknown = inputs.unknown_fields(request.data, names)
    if unknown:
        raise errors.InvalidArgument(_("%(field)s: unknown field") % {"field": next(iter(unknown))}, fields=unknown)
    return {names[key]: value for key, value in request.data.items()}


def entry(executor) -> dict:
    return s.ExecutorOutput(executor, context={"now": timezone.now()}).data


class ExecutorListView(APIView):
    @extend_schema(parameters=[s.ExecutorQuery], responses=s.ExecutorOutput(many=True), tags=["executors"],
                   description="Registry entries of the department scope (needs executor:view), by name.")
    def get(self, request):
        q = parse_query(s.ExecutorQuery, request)
        qs = selectors.executor_list(user=request.user, name=q.get("name"), kind=q.get("kind"),
                                     department_id=q.get("departmentId"), source=q.get("source"),
                                     status=q.get("status"))
        return paginated(qs, q, s.ExecutorOutput, context={"now": timezone.now()})

    @extend_schema(request=s.EntryCreateInput, responses=s.ExecutorOutput, tags=["executors"],
                   description="A static (host:port, base URL) or DNS (dns:///host:port) entry; needs "
                               "executor:manage. The same department, kind, name and address twice: 4009.")
    def post(self, request):
        values = body_values(request, ("department_id", "name", "kind", "address", "weight", "status"))
        with errors.field_names(api_name):
            spec = EntrySpec.from_values(values, create=True)
            return ok(entry(services.executor_create(actor=Actor.from_request(request), spec=spec)))


class ExecutorDetailView(APIView):
    @extend_schema(responses=s.ExecutorOutput, tags=["executors"])
    def get(self, request, pk: int):
        return ok(entry(selectors.executor_get(user=request.user, executor_id=pk)))

    @extend_schema(request=s.EntryUpdateInput, responses=s.ExecutorOutput, tags=["executors"],
                   description="Fields left out keep their value (executor:manage). A self-registered entry "
                               "takes status and weight only.")
    def put(self, request, pk: int):
        values = body_values(request, ("name", "kind", "address", "weight", "status"))
        with errors.field_names(api_name):
            spec = EntrySpec.from_values(values, create=False)
            return ok(entry(services.executor_update(actor=Actor.from_request(request), executor_id=pk, spec=spec)))

    @extend_schema(responses=NO_DATA, tags=["executors"])
    def delete(self, request, pk: int):
        services.executor_delete(actor=Actor.from_request(request), executor_id=pk)
        return ok(None)


class ExecutorNamesView(APIView):
    @extend_schema(parameters=[s.NamesQuery], responses=s.NameOutput(many=True), tags=["executors"],
                   description="Names a task in the department can use: its own entries', then each ancestor's, "
                               "nearest first; name and kind only (needs executor:view).")
    def get(self, request):
        q = parse_query(s.NamesQuery, request)
        rows = selectors.executor_names(user=request.user, department_id=q.get("departmentId"), kind=q.get("kind"))
        return ok([{"name": row.name, "kind": row.kind, "level": row.level} for row in rows])


class ExecutorRegisterView(APIView):
    @extend_schema(request=s.RegisterInput, responses=s.ExecutorOutput, tags=["executors"],
                   description="Register (or refresh) the caller's executor; every call is its heartbeat. Needs "
                               "executor:register; idempotent; rate-limited per user (4029).")
    def post(self, request):
        values = body_values(request, ("department_id", "name", "kind", "address", "ttl_seconds", "weight"))
        with errors.field_names(api_name):
            actor = Actor.from_request(request)
            registered, _created = services.executor_register(actor=actor, spec=Registration.from_values(values))
            return ok(entry(registered))


class ExecutorDeregisterView(APIView):
    @extend_schema(request=s.DeregisterInput, responses=s.DeregisterOutput, tags=["executors"],
                   description="Remove the caller's registration: no new calls go to it. Idempotent "
                               "(removed: false when there was none); needs executor:register.")
    def post(self, request):
        values = body_values(request, ("department_id", "name", "kind", "address"))
        with errors.field_names(api_name):
            removed = services.executor_deregister(actor=Actor.from_request(request),
                                                   spec=Deregistration.from_values(values))
            return ok({"removed": removed})

