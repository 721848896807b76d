"""`manage.py bootstrap` seeds reference data and the admin, idempotently."""
from __future__ import annotations

from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from apps.accounts.models import Permission, Role, User
from apps.departments.models import Department
from djs_platform.tenancy import PERMISSION_CODES


def run_bootstrap(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("bootstrap", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_bootstrap_creates_admin_with_every_permission_in_the_top_department(db):
    out, _ = run_bootstrap()
    admin = User.objects.get(username=settings.ADMIN_USERNAME)
    assert "created admin user" in out
    assert admin.check_password(settings.ADMIN_PASSWORD)
    assert not admin.password.startswith(settings.ADMIN_PASSWORD)
    assert admin.password.startswith("argon2$")
    assert admin.department.parent_id is None
    assert set(admin.role.permissions.values_list("code", flat=True)) == PERMISSION_CODES
    assert set(Permission.objects.values_list("code", flat=True)) == PERMISSION_CODES


def test_bootstrap_is_idempotent_and_keeps_a_changed_password(db):
    run_bootstrap()
    admin = User.objects.get(username=settings.ADMIN_USERNAME)
    admin.set_password("Changed-Later-2026")
    admin.save()
    counts = (User.objects.count(), Role.objects.count(), Permission.objects.count(), Department.objects.count())
    out, _ = run_bootstrap()
    assert "already exists" in out
    assert counts == (User.objects.count(), Role.objects.count(), Permission.objects.count(),
                      Department.objects.count())
    assert User.objects.get(username=settings.ADMIN_USERNAME).check_password("Changed-Later-2026")
    run_bootstrap("--reset-admin-password")
    assert User.objects.get(username=settings.ADMIN_USERNAME).check_password(settings.ADMIN_PASSWORD)


def test_bootstrap_restores_missing_permissions_of_the_admin_role(db):
    run_bootstrap()
    role = Role.objects.get(name="admin")
    role.permissions.remove(Permission.objects.get(code="user:manage"))
    run_bootstrap()
    assert "user:manage" in set(role.permissions.values_list("code", flat=True))


@override_settings(ADMIN_PASSWORD="admin123")
def test_bootstrap_warns_about_the_default_password(db):
    _, err = run_bootstrap()
    assert "WARNING" in err and "default password" in err
