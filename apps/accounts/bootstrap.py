"""The accounts app's bootstrap step (djs_platform/bootstrap.py): permissions, the admin role, the top department
and the admin user, idempotently."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, identify_hasher
from django.core.management.base import CommandError
from django.db import transaction

from apps.accounts.models import Permission, Role, RolePermission, User, username_key, username_problem
from apps.accounts.seed import ADMIN_REAL_NAME, in_server_language, relabel_fresh_install, seed_reference_data
from apps.departments.models import Department
from djs_platform.bootstrap import BootstrapContext
from djs_platform.config import DEFAULT_ADMIN_PASSWORDS


def seed_admin(context: BootstrapContext) -> None:
    """Reference data and the admin (``context.admin`` for the steps after this one)."""
    username, password = settings.DJS_AUTH.admin_username, settings.DJS_AUTH.admin_password
    with transaction.atomic():
        role, department = seed_reference_data(Permission, Role, RolePermission, Department)
        admin = User.objects.filter(username_key=username_key(username)).first()
        if admin is None:
            problem = username_problem(username)  # the rule every user is created under
            if problem:
                raise CommandError(f"auth.adminUsername: {problem}")
            relabel_fresh_install(role, department)
            admin = User(username=username, real_name=in_server_language(ADMIN_REAL_NAME), department=department,
                         role=role)
            admin.set_password(password)
            admin.save()
            context.write(f"created admin user '{username}' (password from auth.adminPassword / "
                          "DJS_ADMIN_PASSWORD)")
        elif context.options.get("reset_admin_password"):
            admin.set_password(password)
            admin.save(update_fields=["password", "update_time"])
            context.write(f"reset the password of '{username}'")
        elif not is_password_hash(admin.password):
            raise CommandError(
                f"the admin user '{admin.username}' holds an unhashed password (a row written by SQL, such as the "
                "seed's default-data INSERT of 'admin123'): nobody can log in with it. "
                "Run `manage.py bootstrap --reset-admin-password` to set it from auth.adminPassword / "
                "DJS_ADMIN_PASSWORD")
        else:
            context.write(f"admin user '{username}' already exists; password unchanged")
    context.admin = admin
    if password in DEFAULT_ADMIN_PASSWORDS and admin.check_password(password):
        context.warn(
            f"WARNING: '{username}' uses the default password '{password}' (embedded dev profile only). "
            "Set DJS_ADMIN_PASSWORD and run `manage.py bootstrap --reset-admin-password` before exposing DJS.")


def is_password_hash(encoded: str) -> bool:
    """Whether ``encoded`` is what Django stores: a hash of a hasher in ``PASSWORD_HASHERS``, or the unusable
    marker (``!...``). Plain text written by SQL is not (``check_password`` would refuse it anyway)."""
    if not encoded or encoded.startswith(UNUSABLE_PASSWORD_PREFIX):
        return bool(encoded)
    try:
        identify_hasher(encoded)
    except ValueError:
        return False
    return True
