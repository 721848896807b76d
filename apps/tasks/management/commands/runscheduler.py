"""``manage.py runscheduler``: one scheduler node (run any number, on any machines)."""
from django.core.management.base import BaseCommand, CommandError

from apps.tasks.scheduler import Node
from apps.tasks.scheduler.threads import tune_gc


class Command(BaseCommand):
    help = "Run a scheduler node: claim due tasks, execute them, heartbeat, recover dead nodes' work."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="node name (default host-pid-random)")

    def handle(self, *args, **options):
        from django.conf import settings

        from djs_platform.conf import connection_budget_error
        from djs_platform.config import config
        from djs_platform.logs import log_to_file
        from djs_platform.metrics import start_metrics_server
        from djs_platform.tracing import setup_tracing

        if problem := connection_budget_error("scheduler", config):  # database.maxConn
            raise CommandError(problem)
        log_to_file("scheduler")  # log.path/scheduler.log besides stderr
        setup_tracing("scheduler")
        start_metrics_server(settings.DJS_SCHEDULER.metrics_port, settings.DJS_SCHEDULER.metrics_host)
        tune_gc()  # after start-up: everything imported so far is never collected again
        Node(name=options.get("name")).run()
