from django.core.management.base import BaseCommand, CommandError

from apps.records.services import records_prune


class Command(BaseCommand):
    help = "Drop whole record_YYYYMM tables older than the last N months (current month included)."

    def add_arguments(self, parser):
        parser.add_argument("--keep-months", type=int, required=True)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        if options["keep_months"] < 1:
            raise CommandError("--keep-months must be at least 1")
        dropped = records_prune(keep_months=options["keep_months"], dry_run=options["dry_run"])
        verb = "would drop" if options["dry_run"] else "dropped"
        self.stdout.write(f"{verb} {len(dropped)} table(s): {', '.join(dropped) or '-'}")
