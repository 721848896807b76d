"""``manage.py apply_tasks FILE.yaml [--dry-run] [--prune] [--as USERNAME]``: declarative tasks from a file."""
from __future__ import annotations

import json
import sys

import yaml
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User, username_key
from apps.tasks.api.serializers import TaskApplyOutput
from apps.tasks.declarative import tasks_apply
from djs_platform import errors
from djs_platform.actor import Actor
from djs_platform.cli import output


class Command(BaseCommand):
    help = ("Create or update the tasks a YAML file lists, by (department, name); --prune deletes the other tasks "
            "of the file's departments, --dry-run changes nothing. Format: docs/djsctl.md.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="YAML (or JSON) file; - reads standard input")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
        parser.add_argument("--prune", action="store_true",
                            help="delete tasks of the file's departments that the file does not list")
        parser.add_argument("--as", dest="username", default=None,
                            help="act as this user (scope and permissions); default the admin (auth.adminUsername)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        document = load_document(options["file"])
        username = options["username"] or settings.DJS_AUTH.admin_username
        user = User.objects.filter(username_key=username_key(username)).first()  # as login finds it
        if user is None or user.status != 1:
            raise CommandError(f"no active user {username!r} (see --as)")
        try:
            report = tasks_apply(actor=Actor(user=user, via="cli"), document=document,
                                 dry_run=options["dry_run"], prune=options["prune"])
        except errors.ApplicationError as exc:
            raise CommandError(output.error_lines(exc.code, exc.message, {"fields": exc.fields})) from None
        data = TaskApplyOutput(report).data
        self.stdout.write(json.dumps(data, indent=2) if options["json"] else output.apply_report(data))


def load_document(path: str):
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CommandError(f"{path}: not valid YAML: {exc}") from None
