"""``manage.py bootstrap``: idempotently seed what a fresh installation needs, through the steps the apps
registered (djs_platform/bootstrap.py): reference data and the admin (accounts), ``scheduler.jobs`` (tasks)."""
from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from djs_platform import bootstrap


class Command(BaseCommand):
    help = ("Seed reference data and the admin user (password from DJS_ADMIN_PASSWORD), then apply scheduler.jobs. "
            "Safe to re-run.")

    def add_arguments(self, parser):
        parser.add_argument("--reset-admin-password", action="store_true",
                            help="set the existing admin's password to the configured one (auth.adminPassword / "
                                 "DJS_ADMIN_PASSWORD); required when the admin row holds an unhashed password")

    def handle(self, *args, **options):
        if "DatabaseCache" in settings.CACHES["default"]["BACKEND"]:
            call_command("createcachetable", verbosity=0)
        bootstrap.run(bootstrap.BootstrapContext(
            options=options, write=self.stdout.write, warn=lambda text: self.stderr.write(self.style.WARNING(text))))
