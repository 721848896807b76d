"""Writes for departments (tenants)."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.audit import audit_record, diff
from apps.departments import selectors
from apps.departments.models import Department
from djs_platform import errors
from djs_platform.actor import Actor
from djs_platform.tenancy import department_scope_ids, descendants_of, get_in_scope, require_permission


def _check_parent(actor: Actor, parent_id: int | None, *, moving: Department | None = None) -> None:
    if parent_id is None:
        # A new top-level department lies outside everyone's scope but a platform operator's.
        require_permission(actor.user, "system:manage")
        return
    if parent_id not in department_scope_ids(actor.user):
        raise errors.invalid("parentId", _("department %(parent_id)s not found") % {"parent_id": parent_id})
    if moving is not None:
        below = descendants_of(moving.pk, list(Department.objects.values_list("id", "parent_id")))
        if parent_id in below:
            raise errors.invalid("parentId", _("a department cannot be moved under itself or its descendants"))


def _check_depth(parent_id: int | None, height: int, edges: list[tuple[int, int | None]]) -> None:
    """A department (with ``height`` levels below and including it) under ``parent_id`` must not reach below
    level ``departments.maxDepth`` (4001 on parentId). Deep chains made the tree and every node's alert-policy
    refresh expensive (issue 16, finding 12)."""
    limit = settings.DJS_DEPARTMENTS.max_depth
    depth = (selectors.department_depths(edges).get(parent_id, 0) if parent_id is not None else 0) + height
    if depth > limit:
        raise errors.invalid("parentId", _("the department tree would be %(depth)s levels deep there; at most "
                                           "%(limit)s (departments.maxDepth)")
                                         % {"depth": depth, "limit": limit})


#: Checks other apps run before a department moves (registered from their ``AppConfig.ready``: the tasks app refuses
#: a move that would strand child-task links). Each gets the department, its new parent id and every (id,
#: parent_id) edge of the tree before the move, and raises an :mod:`djs_platform.errors` error to refuse it.
_move_checks: dict[str, Callable[[Department, int | None, list[tuple[int, int | None]]], None]] = {}


def register_move_check(name: str, check: Callable[[Department, int | None, list[tuple[int, int | None]]], None]) -> None:
    _move_checks[name] = check


def _check_unique_name(name: str, parent_id: int | None, exclude: int | None = None) -> None:
    qs = Department.objects.filter(name=name, parent_id=parent_id)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise errors.AlreadyExists(_("a department named '%(name)s' already exists at this level") % {"name": name})


@transaction.atomic
def department_create(*, actor: Actor, name: str, description: str | None, parent_id: int | None,
                      status: int) -> Department:
    require_permission(actor.user, "department:manage")
    _check_parent(actor, parent_id)
    _check_depth(parent_id, 1, list(Department.objects.values_list("id", "parent_id")))
    _check_unique_name(name, parent_id)
    try:
        with transaction.atomic():
            dept = Department.objects.create(name=name, description=description, parent_id=parent_id, status=status)
    except IntegrityError:
        raise errors.AlreadyExists(_("a department named '%(name)s' already exists at this level")
                                   % {"name": name}) from None
    audit_record(actor=actor, action="department.create", object_type="department", object_id=dept.pk,
                 object_repr=name, department_id=dept.pk,
                 changes={"name": name, "parentId": parent_id, "status": status})
    return dept


@transaction.atomic
def department_update(*, actor: Actor, department_id: int, name: str, description: str | None,
                      parent_id: int | None, status: int) -> Department:
    dept = get_in_scope(
        Department.objects.restrict(actor.user, "department:manage").select_for_update(), department_id, "department"
    )
    if parent_id != dept.parent_id:
        if dept.pk == actor.user.department_id:
            raise errors.Forbidden(_("you cannot move your own department"))
        _check_parent(actor, parent_id, moving=dept)
        edges = list(Department.objects.values_list("id", "parent_id"))
        depths = selectors.department_depths(edges)
        moved = descendants_of(dept.pk, edges)
        _check_depth(parent_id, max(depths.get(d, 0) for d in moved) - depths.get(dept.pk, 0) + 1, edges)
        for check in _move_checks.values():
            check(dept, parent_id, edges)
    _check_unique_name(name, parent_id, exclude=dept.pk)
    values = {"name": name, "description": description, "parent_id": parent_id, "status": status}
    changes = diff(dept, values)
    for field, value in values.items():
        setattr(dept, field, value)
    dept.save()
    selectors.disabled_department_ids_clear()  # this process sees a status change at once, others within seconds
    audit_record(actor=actor, action="department.update", object_type="department", object_id=dept.pk,
                 object_repr=dept.name, department_id=dept.pk, changes=changes)
    return dept


def department_dependents(dept: Department) -> dict[str, int]:
    """Counts of everything that still points at the department (children, users, tasks ...)."""
    counts: dict[str, int] = {}
    for rel in Department._meta.related_objects:
        if rel.one_to_many or rel.one_to_one:
            n = rel.related_model._default_manager.filter(**{rel.field.name: dept}).count()
            if n:
                counts[rel.related_model._meta.verbose_name_plural.replace("departments", "child departments")] = n
    return counts


#: What still points at a department, as :func:`department_dependents` names it, in the request's language.
DEPENDENT_LABELS = {"child departments": gettext_lazy("child departments"), "users": gettext_lazy("users"),
                    "tasks": gettext_lazy("tasks"), "alert policys": gettext_lazy("alert policies"),
                    "alert policies": gettext_lazy("alert policies")}


@transaction.atomic
def department_delete(*, actor: Actor, department_id: int) -> None:
    dept = get_in_scope(
        Department.objects.restrict(actor.user, "department:manage").select_for_update(), department_id, "department"
    )
    dependents = department_dependents(dept)
    if dependents:
        listed = _(", ").join(_("%(count)s %(what)s") % {"count": n, "what": DEPENDENT_LABELS.get(what, what)}
                           for what, n in sorted(dependents.items()))
        raise errors.Conflict(_("department still has %(listed)s; remove or move them first") % {"listed": listed})
    audit_record(actor=actor, action="department.delete", object_type="department", object_id=dept.pk,
                 object_repr=dept.name, department_id=dept.parent_id or dept.pk)
    dept.delete()
