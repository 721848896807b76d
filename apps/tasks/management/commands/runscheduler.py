"""``manage.py runscheduler``: one scheduler node (run any number, on any machines)."""
from django.core.management.base import BaseCommand

from apps.tasks.scheduler import Node, NodeConfig


class Command(BaseCommand):
    help = "Run a scheduler node: claim due tasks, execute them, heartbeat, recover dead nodes' work."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="node name (default host-pid-random)")

    def handle(self, *args, **options):
        from django.conf import settings

        from djs_platform.metrics import start_metrics_server
        from djs_platform.tracing import setup_tracing

        setup_tracing("scheduler")
        start_metrics_server(settings.SCHEDULER["metrics_port"], settings.SCHEDULER["metrics_host"])
        Node(NodeConfig.from_settings(), name=options.get("name")).run()
