"""Tenancy and RBAC, applied once, centrally.

A user's scope is their department and all its descendants. Every tenant-owned queryset is built with
``Model.objects.restrict(user, permission)``, and single-object lookups go through :func:`get_in_scope`,
which answers the same 4004 for "in another department" and "does not exist" so existence never leaks.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, TypeVar

from django.db import models
from django.utils.translation import gettext, gettext_lazy

from djs_platform import errors

if TYPE_CHECKING:
    # The user model (AUTH_USER_MODEL) with department_scope_ids() and permission_codes(); the platform never
    # names the app that defines it.
    from django.contrib.auth.models import AbstractBaseUser as User

M = TypeVar("M", bound=models.Model)

def descendants_of(department_id: int, edges: list[tuple[int, int | None]]) -> frozenset[int]:
    """Ids of the department and everything below it, given all (id, parent_id) pairs."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for dept_id, parent_id in edges:
        children[parent_id].append(dept_id)
    seen = {department_id}
    stack = [department_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:  # a corrupted cycle must not loop forever
                seen.add(child)
                stack.append(child)
    return frozenset(seen)


def department_scope_ids(user: "User") -> frozenset[int]:
    """The departments ``user`` may see (the user's own ``department_scope_ids()``, memoised per request)."""
    return user.department_scope_ids()


def permission_codes(user: "User") -> frozenset[str]:
    """Codes granted through the user's (enabled) role (the user's own ``permission_codes()``)."""
    return user.permission_codes()


def has_permission(user: "User", code: str) -> bool:
    return code in permission_codes(user)


def require_permission(user: "User", code: str) -> None:
    if not has_permission(user, code):
        raise errors.Forbidden(gettext("permission denied: requires %(code)s") % {"code": code})


def in_scope(user: "User", department_id: int | None) -> bool:
    return department_id is not None and department_id in department_scope_ids(user)


class RestrictedQuerySet(models.QuerySet):
    """Queryset with ``restrict(user, permission)``: rows of the user's department scope only.

    Models name the column that carries their department in ``SCOPE_FIELD`` (``department_id`` by
    default; ``id`` for departments themselves).
    """

    def restrict(self, user: "User", permission: str | None = None) -> "RestrictedQuerySet":
        if permission is not None:
            require_permission(user, permission)
        field = getattr(self.model, "SCOPE_FIELD", "department_id")
        return self.filter(**{f"{field}__in": sorted(department_scope_ids(user))})


#: "<label> not found" for the labels :func:`get_in_scope` is given, each a whole sentence to translate.
NOT_FOUND_MESSAGES = {
    "task": gettext_lazy("task not found"), "department": gettext_lazy("department not found"),
    "user": gettext_lazy("user not found"), "role": gettext_lazy("role not found"),
    "record": gettext_lazy("record not found"), "alert policy": gettext_lazy("alert policy not found"),
    "alert": gettext_lazy("alert not found"), "trigger": gettext_lazy("trigger not found"),
    "executor": gettext_lazy("executor not found"), "token": gettext_lazy("token not found"),
}


def get_in_scope(queryset: models.QuerySet[M], pk: object, label: str) -> M:
    """One object of an already restricted queryset, or 4004 whether it is foreign or missing."""
    try:
        return queryset.get(pk=int(pk))
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        message = NOT_FOUND_MESSAGES.get(label) or gettext("%(label)s not found") % {"label": label}
        raise errors.NotFound(message) from None


def require_department_in_scope(user: "User", department_id: object, field: str = "departmentId") -> int:
    """A department referenced in a request body must exist in the actor's scope (else 4001)."""
    try:
        dept_id = int(department_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise errors.invalid(field, gettext("must be a department id")) from None
    if not in_scope(user, dept_id):
        raise errors.invalid(field, gettext("department %(dept_id)s not found") % {"dept_id": dept_id})
    return dept_id
