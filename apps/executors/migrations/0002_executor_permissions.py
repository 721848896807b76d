"""The registry's permission codes on installs seeded before them (issue 19), granted to the admin role.

A fresh install gets them from ``accounts.0002_seed_reference_data`` (which seeds the current
``ALL_PERMISSIONS``); an existing one would get them only at its next ``manage.py bootstrap``. Frozen on purpose:
the codes, names and descriptions as they were introduced; idempotent.
"""
from django.db import migrations

PERMISSIONS = (
    ("executor:view", "View executors", "See the executor registry of the department scope"),
    ("executor:manage", "Manage executors", "Create, edit and delete static and DNS executor entries"),
    ("executor:register", "Register executors", "Register and deregister executors (service accounts)"),
)
ADMIN_ROLE_NAME = "admin"


def forwards(apps, schema_editor):
    Permission = apps.get_model("accounts", "Permission")
    Role = apps.get_model("accounts", "Role")
    RolePermission = apps.get_model("accounts", "RolePermission")
    created = []
    for code, name, description in PERMISSIONS:
        perm, _ = Permission.objects.get_or_create(code=code, defaults={"name": name, "description": description})
        created.append(perm)
    role = Role.objects.filter(name=ADMIN_ROLE_NAME).first()
    if role is None:
        return
    for perm in created:
        RolePermission.objects.get_or_create(role=role, permission=perm)


class Migration(migrations.Migration):

    dependencies = [
        ("executors", "0001_initial"),
        ("accounts", "0002_seed_reference_data"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
