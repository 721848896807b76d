"""Reads of the executor registry for people and programs, always within the actor's department scope.

Entries of the scope are shown in full. Names a department's tasks can use also come from its ancestors, which
may lie outside the scope: :func:`executor_names` lists those with their name and kind only (no address, no
instance, no department), nearest first.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.departments.selectors import ancestry, department_parents
from apps.executors.models import Executor
from djs_platform import errors
from djs_platform.tenancy import get_in_scope, in_scope, require_permission


def executor_list(*, user: User, name: str | None = None, kind: str | None = None,
                  department_id: int | None = None, source: str | None = None,
                  status: str | None = None) -> QuerySet[Executor]:
    """Entries of the scope (``executor:view``); ``name`` matches a part of the name, case-insensitively."""
    qs = Executor.objects.restrict(user, "executor:view").select_related("department")
    if name:  # the column compares byte for byte (utf8mb4_bin), where MariaDB's icontains would not fold case
        qs = qs.annotate(name_lower=Lower("name")).filter(name_lower__contains=name.lower())
    filters = {k: v for k, v in {"kind": kind, "department_id": department_id, "source": source,
                                 "status": status}.items() if v is not None}
    return qs.filter(**filters).order_by("name", "kind", "department_id", "id")


def executor_get(*, user: User, executor_id: int) -> Executor:
    return get_in_scope(Executor.objects.restrict(user, "executor:view").select_related("department"), executor_id,
                        "executor")


@dataclass(frozen=True)
class NameRow:
    """A name a task of the department can use: ``level`` 0 is the department itself, 1 its parent, ..."""

    name: str
    kind: str
    level: int


def executor_names(*, user: User, department_id: int | None = None, kind: str | None = None) -> list[NameRow]:
    """The names a task in ``department_id`` (default: the user's department) resolves: its own department's
    entries, then each ancestor's, nearest first; a name counts once, at its nearest level; name and kind only
    (``executor:view``). A department outside the scope answers 4004 like a missing one."""
    require_permission(user, "executor:view")
    if department_id is None:
        department_id = user.department_id
    if not in_scope(user, department_id):
        raise errors.NotFound(gettext("department not found"))
    levels = {dept: level for level, dept in enumerate(ancestry(department_id, department_parents()))}
    qs = Executor.objects.filter(department_id__in=list(levels))
    if kind is not None:
        qs = qs.filter(kind=kind)
    nearest: dict[tuple[str, str], int] = {}
    for name, row_kind, dept in qs.values_list("name", "kind", "department_id").distinct():
        key = (name, row_kind)
        nearest[key] = min(nearest.get(key, levels[dept]), levels[dept])
    return sorted((NameRow(name=name, kind=row_kind, level=level) for (name, row_kind), level in nearest.items()),
                  key=lambda row: (row.level, row.name, row.kind))
