"""Writes for departments (tenants)."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.accounts.services import audit_record, diff
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
        raise errors.invalid("parentId", f"department {parent_id} not found")
    if moving is not None:
        below = descendants_of(moving.pk, list(Department.objects.values_list("id", "parent_id")))
        if parent_id in below:
            raise errors.invalid("parentId", "a department cannot be moved under itself or its descendants")


def _check_unique_name(name: str, parent_id: int | None, exclude: int | None = None) -> None:
    qs = Department.objects.filter(name=name, parent_id=parent_id)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise errors.AlreadyExists(f"a department named '{name}' already exists at this level")


@transaction.atomic
def department_create(*, actor: Actor, name: str, description: str | None, parent_id: int | None,
                      status: int) -> Department:
    require_permission(actor.user, "department:manage")
    _check_parent(actor, parent_id)
    _check_unique_name(name, parent_id)
    try:
        with transaction.atomic():
            dept = Department.objects.create(name=name, description=description, parent_id=parent_id, status=status)
    except IntegrityError:
        raise errors.AlreadyExists(f"a department named '{name}' already exists at this level") from None
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
            raise errors.Forbidden("you cannot move your own department")
        _check_parent(actor, parent_id, moving=dept)
    _check_unique_name(name, parent_id, exclude=dept.pk)
    values = {"name": name, "description": description, "parent_id": parent_id, "status": status}
    changes = diff(dept, values)
    for field, value in values.items():
        setattr(dept, field, value)
    dept.save()
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


@transaction.atomic
def department_delete(*, actor: Actor, department_id: int) -> None:
    dept = get_in_scope(
        Department.objects.restrict(actor.user, "department:manage").select_for_update(), department_id, "department"
    )
    dependents = department_dependents(dept)
    if dependents:
        listed = ", ".join(f"{n} {what}" for what, n in sorted(dependents.items()))
        raise errors.Conflict(f"department still has {listed}; remove or move them first")
    audit_record(actor=actor, action="department.delete", object_type="department", object_id=dept.pk,
                 object_repr=dept.name, department_id=dept.parent_id or dept.pk)
    dept.delete()
