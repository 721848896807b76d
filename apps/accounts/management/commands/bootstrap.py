"""``manage.py bootstrap``: idempotently seed permissions, the admin role, the top department and admin."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, identify_hasher
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.models import Permission, Role, RolePermission, User, username_key, username_problem
from apps.accounts.seed import ADMIN_REAL_NAME, in_server_language, relabel_fresh_install, seed_reference_data
from apps.departments.models import Department
from djs_platform.config import DEFAULT_ADMIN_PASSWORDS


class Command(BaseCommand):
    help = "Seed reference data and the admin user (password from DJS_ADMIN_PASSWORD). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--reset-admin-password", action="store_true",
                            help="set the existing admin's password to the configured one (auth.adminPassword / "
                                 "DJS_ADMIN_PASSWORD); required when the admin row holds an unhashed password")

    def handle(self, *args, **options):
        if "DatabaseCache" in settings.CACHES["default"]["BACKEND"]:
            call_command("createcachetable", verbosity=0)
        username, password = settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD
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
                self.stdout.write(f"created admin user '{username}' (password from auth.adminPassword / "
                                  "DJS_ADMIN_PASSWORD)")
            elif options["reset_admin_password"]:
                admin.set_password(password)
                admin.save(update_fields=["password", "update_time"])
                self.stdout.write(f"reset the password of '{username}'")
            elif not is_password_hash(admin.password):
                raise CommandError(
                    f"the admin user '{admin.username}' holds an unhashed password (a row written by SQL, such as the "
                    "seed's default-data INSERT of 'admin123'): nobody can log in with it. "
                    "Run `manage.py bootstrap --reset-admin-password` to set it from auth.adminPassword / "
                    "DJS_ADMIN_PASSWORD")
            else:
                self.stdout.write(f"admin user '{username}' already exists; password unchanged")
        if settings.SCHEDULER_JOBS:
            self.apply_declared_jobs(admin)
        if password in DEFAULT_ADMIN_PASSWORDS and admin.check_password(password):
            self.stderr.write(self.style.WARNING(
                f"WARNING: '{username}' uses the default password '{password}' (embedded dev profile only). "
                "Set DJS_ADMIN_PASSWORD and run `manage.py bootstrap --reset-admin-password` before exposing DJS."
            ))

    def apply_declared_jobs(self, admin: User) -> None:
        """``scheduler.jobs``: created or updated as the admin, never pruned; idempotent (docs/djsctl.md)."""
        from apps.tasks.declarative import tasks_apply
        from djs_platform import errors
        from djs_platform.actor import Actor
        from djs_platform.cli.output import error_lines

        try:
            report = tasks_apply(actor=Actor(user=admin, via="config"), document={"tasks": settings.SCHEDULER_JOBS})
        except errors.ApplicationError as exc:
            raise CommandError("scheduler.jobs in the configuration: "
                               + error_lines(exc.code, exc.message, {"fields": exc.fields})) from None
        self.stdout.write(f"scheduler.jobs: {len(report.created)} created, {len(report.updated)} updated, "
                          f"{len(report.unchanged)} unchanged")


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
