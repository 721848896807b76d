"""Reference data every DJS installation has: permission codes, the admin role, the top department.

Used by the data migration (with historical models) and by ``manage.py bootstrap`` (idempotent).
"""
from __future__ import annotations

from djs_platform.tenancy import ALL_PERMISSIONS

ADMIN_ROLE_NAME = "admin"
TOP_DEPARTMENT_NAME = "Headquarters"


def seed_reference_data(Permission, Role, RolePermission, Department):  # noqa: N803 - model classes
    """Create what is missing; give the admin role every permission code. Returns (role, department)."""
    for code, name, description in ALL_PERMISSIONS:
        Permission.objects.update_or_create(code=code, defaults={"name": name, "description": description})
    role, _ = Role.objects.get_or_create(
        name=ADMIN_ROLE_NAME, defaults={"description": "System administrator with every permission"}
    )
    have = set(RolePermission.objects.filter(role=role).values_list("permission_id", flat=True))
    for perm in Permission.objects.exclude(id__in=have):
        RolePermission.objects.create(role=role, permission=perm)
    department = Department.objects.filter(parent__isnull=True).order_by("id").first()
    if department is None:
        department = Department.objects.create(name=TOP_DEPARTMENT_NAME, description="Top-level department")
    return role, department
