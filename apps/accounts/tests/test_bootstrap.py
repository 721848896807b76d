"""`manage.py bootstrap` seeds reference data and the admin, idempotently."""
from __future__ import annotations

from dataclasses import replace
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from apps.accounts.bootstrap import is_password_hash
from apps.accounts.models import Permission, Role, User
from apps.departments.models import Department
from apps.accounts.permissions import PERMISSION_CODES


def run_bootstrap(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("bootstrap", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_bootstrap_creates_admin_with_every_permission_in_the_top_department(db):
    out, _ = run_bootstrap()
    admin = User.objects.get(username=settings.DJS_AUTH.admin_username)
    assert "created admin user" in out
    assert admin.check_password(settings.DJS_AUTH.admin_password)
    assert not admin.password.startswith(settings.DJS_AUTH.admin_password)
    assert admin.password.startswith("argon2$")
    assert admin.department.parent_id is None
    assert set(admin.role.permissions.values_list("code", flat=True)) == PERMISSION_CODES
    assert set(Permission.objects.values_list("code", flat=True)) == PERMISSION_CODES


def test_bootstrap_is_idempotent_and_keeps_a_changed_password(db):
    run_bootstrap()
    admin = User.objects.get(username=settings.DJS_AUTH.admin_username)
    admin.set_password("Changed-Later-2026")
    admin.save()
    counts = (User.objects.count(), Role.objects.count(), Permission.objects.count(), Department.objects.count())
    out, _ = run_bootstrap()
    assert "already exists" in out
    assert counts == (User.objects.count(), Role.objects.count(), Permission.objects.count(),
                      Department.objects.count())
    assert User.objects.get(username=settings.DJS_AUTH.admin_username).check_password("Changed-Later-2026")
    run_bootstrap("--reset-admin-password")
    admin = User.objects.get(username=settings.DJS_AUTH.admin_username)
    assert admin.check_password(settings.DJS_AUTH.admin_password)


def test_bootstrap_restores_missing_permissions_of_the_admin_role(db):
    run_bootstrap()
    role = Role.objects.get(name="admin")
    role.permissions.remove(Permission.objects.get(code="user:manage"))
    run_bootstrap()
    assert "user:manage" in set(role.permissions.values_list("code", flat=True))


@override_settings(DJS_AUTH=replace(settings.DJS_AUTH, admin_password="admin123"))
def test_bootstrap_warns_about_the_default_password(db):
    _, err = run_bootstrap()
    assert "WARNING" in err and "default password" in err


def test_bootstrap_refuses_an_admin_row_with_an_unhashed_password_until_it_is_reset(db):
    """The seed's default data INSERTs the admin with the plain password 'admin123' (issue 18)."""
    run_bootstrap()
    User.objects.filter(username=settings.DJS_AUTH.admin_username).update(password="admin123")
    with pytest.raises(CommandError, match="unhashed password.*--reset-admin-password"):
        run_bootstrap()
    admin = User.objects.get(username=settings.DJS_AUTH.admin_username)
    assert admin.password == "admin123"  # nothing changed
    out, _ = run_bootstrap("--reset-admin-password")
    assert "reset the password" in out
    admin = User.objects.get(username=settings.DJS_AUTH.admin_username)
    assert admin.password.startswith("argon2$") and admin.check_password(settings.DJS_AUTH.admin_password)
    assert "password unchanged" in run_bootstrap()[0]


@pytest.mark.parametrize("encoded, hashed", [
    ("admin123", False), ("", False), ("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA", True),
    ("pbkdf2_sha256$1000000$salt$hash", True), ("!unusable-marker", True), ("md5$salt$hash", False),
])
def test_only_hashes_of_configured_hashers_count_as_passwords(encoded, hashed):
    assert is_password_hash(encoded) is hashed
