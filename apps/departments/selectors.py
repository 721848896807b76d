"""Reads for departments, always within the actor's scope."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.departments.models import Department
from djs_platform.tenancy import get_in_scope


def department_list(*, user: User, keyword: str | None = None) -> QuerySet[Department]:
    qs = Department.objects.restrict(user)
    if keyword:
        qs = qs.filter(name__icontains=keyword)
    return qs.order_by("id")


def department_get(*, user: User, department_id: int) -> Department:
    return get_in_scope(Department.objects.restrict(user), department_id, "department")


def department_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest serialized rows under their parents; rows whose parent is not visible become roots."""
    by_id = {row["id"]: {**row, "children": []} for row in rows}
    roots = []
    for row in by_id.values():
        parent = by_id.get(row["parentId"])
        (parent["children"] if parent else roots).append(row)
    return roots
