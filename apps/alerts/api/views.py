"""Thin REST views for alert policies and alerts (docs/alerts.md)."""
from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from apps.alerts import selectors, services
from apps.alerts.api import serializers as s
from apps.alerts.specs import EDITABLE, SCOPE, PolicySpec, api_name
from djs_platform import errors, inputs
from djs_platform.actor import Actor
from djs_platform.envelope import ok, paginated, parse_query
from djs_platform.schema import NO_DATA

POLICY_RULES = ("Needs task:update; a department default (departmentId, no taskId) needs department:manage as "
                "well. One policy per task and per department (4009 for a second). "
                "At least one channel (webhookUrl, emails) and one condition (onFailure, consecutiveFailures, "
                "overrunSeconds, lagSeconds) are required.")


def _policy(policy):
    return ok(s.AlertPolicyOutput(policy).data)


def policy_spec(request, *, create: bool) -> PolicySpec:
    """The body (camelCase names; ``AlertPolicyCreateInput``/``UpdateInput`` document it) as a PolicySpec."""
    if not isinstance(request.data, dict):
        raise errors.InvalidArgument(_("request body must be a JSON object"))
    names = {api_name(name): name for name in EDITABLE + (SCOPE if create else ())}
    unknown = inputs.unknown_fields(request.data, names)
    if unknown:
        raise errors.InvalidArgument(_("%(field)s: unknown field") % {"field": next(iter(unknown))},
                                     fields=unknown)
    with errors.field_names(api_name):
        return PolicySpec.from_values({names[key]: value for key, value in request.data.items()}, create=create)


class AlertPolicyListView(APIView):
    @extend_schema(parameters=[s.AlertPolicyQuery], responses=s.AlertPolicyOutput(many=True), tags=["alerts"],
                   description="Alert policies in the department scope (needs task:view).")
    def get(self, request):
        q = parse_query(s.AlertPolicyQuery, request)
        qs = selectors.policy_list(user=request.user, department_id=q.get("departmentId"), task_id=q.get("taskId"),
                                   scope=q.get("scope"))
        return paginated(qs, q, s.AlertPolicyOutput)

    @extend_schema(request=s.AlertPolicyCreateInput, responses=s.AlertPolicyOutput, tags=["alerts"],
                   description=POLICY_RULES)
    def post(self, request):
        spec = policy_spec(request, create=True)
        with errors.field_names(api_name):
            policy = services.policy_create(actor=Actor.from_request(request), spec=spec)
        return _policy(policy)  # the write's own permission is what the caller holds (as for tasks)


class AlertPolicyDetailView(APIView):
    @extend_schema(responses=s.AlertPolicyOutput, tags=["alerts"])
    def get(self, request, pk: int):
        return _policy(selectors.policy_get(user=request.user, policy_id=pk))

    @extend_schema(request=s.AlertPolicyUpdateInput, responses=s.AlertPolicyOutput, tags=["alerts"],
                   description=POLICY_RULES + " Fields left out keep their value; webhookSecret \"\" removes it.")
    def put(self, request, pk: int):
        spec = policy_spec(request, create=False)
        with errors.field_names(api_name):
            return _policy(services.policy_update(actor=Actor.from_request(request), policy_id=pk, spec=spec))

    @extend_schema(responses=NO_DATA, tags=["alerts"])
    def delete(self, request, pk: int):
        services.policy_delete(actor=Actor.from_request(request), policy_id=pk)
        return ok(None)


class AlertPolicyTestView(APIView):
    @extend_schema(request=None, responses=s.AlertOutput, tags=["alerts"],
                   description="Send a test alert on the policy's channels now; answers the recorded alert with "
                               "each delivery's outcome (a failed delivery is still 200: see deliveries).")
    def post(self, request, pk: int):
        alert = services.policy_test(actor=Actor.from_request(request), policy_id=pk)
        return ok(s.AlertOutput(alert).data)


class AlertListView(APIView):
    @extend_schema(parameters=[s.AlertQuery], responses=s.AlertOutput(many=True), tags=["alerts"],
                   description="Alerts sent (or tried) in the department scope, newest first (needs record:view).")
    def get(self, request):
        q = parse_query(s.AlertQuery, request)
        qs = selectors.alert_list(user=request.user, task_id=q.get("taskId"), department_id=q.get("departmentId"),
                                  kind=q.get("kind"), status=q.get("status"))
        return paginated(qs, q, s.AlertOutput)


class AlertDetailView(APIView):
    @extend_schema(responses=s.AlertOutput, tags=["alerts"])
    def get(self, request, pk: int):
        return ok(s.AlertOutput(selectors.alert_get(user=request.user, alert_id=pk)).data)
