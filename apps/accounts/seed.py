"""Reference data every DJS installation has: permission codes, the admin role, the top department.

Used by the data migration (with historical models) and by ``manage.py bootstrap`` (idempotent).
"""
from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop

from apps.accounts.permissions import ALL_PERMISSIONS

ADMIN_ROLE_NAME = "admin"
# Written in ``server.language`` when the rows are created (a fresh install), never rewritten (docs/i18n.md).
TOP_DEPARTMENT_NAME = gettext_noop("Headquarters")
TOP_DEPARTMENT_DESCRIPTION = gettext_noop("Top-level department")
ADMIN_ROLE_DESCRIPTION = gettext_noop("System administrator with every permission")
ADMIN_REAL_NAME = gettext_noop("System Administrator")


def in_server_language(text: str) -> str:
    """``text`` (marked with ``gettext_noop``) in ``server.language``."""
    with translation.override(settings.DJS_SERVER.language):
        return translation.gettext(text)


def seed_reference_data(Permission, Role, RolePermission, Department):  # noqa: N803 - model classes
    """Create what is missing; give the admin role every permission code. Returns (role, department)."""
    for code, name, description in ALL_PERMISSIONS:
        Permission.objects.update_or_create(code=code, defaults={"name": name, "description": description})
    role, _ = Role.objects.get_or_create(
        name=ADMIN_ROLE_NAME, defaults={"description": in_server_language(ADMIN_ROLE_DESCRIPTION)}
    )
    have = set(RolePermission.objects.filter(role=role).values_list("permission_id", flat=True))
    for perm in Permission.objects.exclude(id__in=have):
        RolePermission.objects.create(role=role, permission=perm)
    department = Department.objects.filter(parent__isnull=True).order_by("id").first()
    if department is None:
        department = Department.objects.create(name=in_server_language(TOP_DEPARTMENT_NAME),
                                               description=in_server_language(TOP_DEPARTMENT_DESCRIPTION))
    return role, department


def relabel_fresh_install(role, department) -> None:
    """A fresh install seeded in English by ``scripts/init-db/init.sql`` (SQL knows no ``server.language``): the
    first ``bootstrap`` (the one that creates the admin user) writes the seeded texts in ``server.language``. Only
    rows still holding the English seed are touched; anything an operator wrote stays."""
    if settings.DJS_SERVER.language == "en":
        return
    if role.description == ADMIN_ROLE_DESCRIPTION:
        role.description = in_server_language(ADMIN_ROLE_DESCRIPTION)
        role.save(update_fields=["description"])
    if (department.name, department.description) == (TOP_DEPARTMENT_NAME, TOP_DEPARTMENT_DESCRIPTION):
        department.name = in_server_language(TOP_DEPARTMENT_NAME)
        department.description = in_server_language(TOP_DEPARTMENT_DESCRIPTION)
        department.save(update_fields=["name", "description"])
