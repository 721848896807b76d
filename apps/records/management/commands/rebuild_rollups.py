"""``manage.py rebuild_rollups [--year Y --month M] [--all]``: recompute record rollups from the raw rows.

Without arguments it rebuilds every month still marked ``unbuilt`` (the month tables that existed when the
rollups were introduced); ``--year/--month`` one month; ``--all`` every month that has a record table. The
platform keeps running: each month is rebuilt under its lock row, so that month's result flushes wait for it
(about 80 s per million records on a 2-core box, docs/performance.md) and every other month is untouched. Progress is printed per chunk.
"""
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.records import rollups
from apps.records.models import RollupMonth, existing_record_tables


class Command(BaseCommand):
    help = "Rebuild record rollups from raw rows: unbuilt months (default), one month, or --all."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int)
        parser.add_argument("--month", type=int)
        parser.add_argument("--all", action="store_true", help="every month that has a record table")
        parser.add_argument("--chunk", type=int, default=50_000, help="raw rows per grouped read")

    def handle(self, *args, **options):
        year, month = options["year"], options["month"]
        if (year is None) != (month is None):
            raise CommandError("--year and --month go together")
        if year is not None and not (1970 <= year <= 9999 and 1 <= month <= 12):
            raise CommandError(f"no such month: {year}-{month}")
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        if year is not None:
            months = [(year, month)]
        elif options["all"]:
            months = sorted((int(t[7:11]), int(t[11:13])) for t in existing_record_tables(refresh=True))
        else:
            months = sorted(divmod(m, 100) for m in RollupMonth.objects.exclude(state=RollupMonth.BUILT)
                            .values_list("month", flat=True))
        if not months:
            self.stdout.write("rollups: every month is built")
            return
        for y, m in months:
            started = time.monotonic()

            def progress(done: int, total: int, y=y, m=m) -> None:
                self.stdout.write(f"rollups {y}-{m:02d}: {done:,}/{total:,} records", ending="\n")
                self.stdout.flush()

            counted = rollups.rebuild_month(y, m, chunk=options["chunk"], progress=progress)
            self.stdout.write(f"rollups {y}-{m:02d}: built from {counted:,} finished records in "
                              f"{time.monotonic() - started:.1f} s")
        if connection.vendor == "mysql":
            # A rebuild rewrites most of the rollup tables; InnoDB recalculates their statistics only in the
            # background, and a restart before that leaves them planned as empty (found by make bench-records:
            # a task's stats read a whole index instead of its 17 rows). Refresh them now.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE TABLE record_rollup, record_rollup_cost, record_rollup_month")
                cursor.fetchall()
            self.stdout.write("rollups: table statistics refreshed (ANALYZE TABLE)")
