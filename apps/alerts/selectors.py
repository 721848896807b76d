"""Reads for alert policies and alerts, always within the actor's department scope."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.alerts.models import Alert, AlertPolicy
from djs_platform.tenancy import department_scope_ids, get_in_scope, require_permission


def policies_in_scope(user: User, permission: str) -> QuerySet:
    """Alert policies the user may address: a task's policy through its task's *current* department (it
    follows the task when the task moves, issue 16 finding 6a), a department default through its department."""
    require_permission(user, permission)
    scope = sorted(department_scope_ids(user))
    return AlertPolicy.objects.filter(Q(task__isnull=True, department_id__in=scope) |
                                      Q(task__isnull=False, task__department_id__in=scope))


def policy_list(*, user: User, department_id: int | None = None, task_id: int | None = None,
                scope: str | None = None) -> QuerySet:
    qs = policies_in_scope(user, "task:view").select_related("department", "task")
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    if task_id is not None:
        qs = qs.filter(task_id=task_id)
    if scope == "task":
        qs = qs.filter(task__isnull=False)
    elif scope == "department":
        qs = qs.filter(task__isnull=True)
    return qs.order_by("id")


def policy_get(*, user: User, policy_id: int) -> AlertPolicy:
    qs = policies_in_scope(user, "task:view").select_related("department", "task")
    return get_in_scope(qs, policy_id, "alert policy")


def alert_list(*, user: User, task_id: int | None = None, department_id: int | None = None,
               kind: str | None = None, status: str | None = None) -> QuerySet:
    qs = Alert.objects.restrict(user, "record:view")
    filters = {k: v for k, v in {"task_id": task_id, "department_id": department_id, "kind": kind,
                                 "status": status}.items() if v is not None}
    return qs.filter(**filters).order_by("-id")


def alert_get(*, user: User, alert_id: int) -> Alert:
    return get_in_scope(Alert.objects.restrict(user, "record:view"), alert_id, "alert")
