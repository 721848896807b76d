"""``manage.py rungrpc``: the gRPC server (port ``rpc.port``, default 9090). SIGTERM stops it gracefully."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from djs_platform.conf import connection_budget_error
from djs_platform.config import config as djs_config
from djs_platform.logs import log_to_file
from djs_platform.metrics import start_metrics_server
from rpc.server import rpc_settings, serve


class Command(BaseCommand):
    help = ("Serve the DJS gRPC services (scheduler.TaskScheduler, auth.AuthService, data.DataService, "
            "rpc.proto.ModelContextService) plus health and reflection until SIGTERM/SIGINT.")

    def add_arguments(self, parser):
        parser.add_argument("--host", help="listen address (default rpc.host)")
        parser.add_argument("--port", type=int, help="listen port (default rpc.port)")
        parser.add_argument("--max-workers", type=int, help="handler threads (default rpc.maxWorkers)")
        parser.add_argument("--grace", type=float, default=10.0,
                            help="seconds running calls may take to finish on stop (default 10)")

    def handle(self, *args, **options):
        config = rpc_settings(host=options["host"], port=options["port"], max_workers=options["max_workers"])
        # database.maxConn
        if problem := connection_budget_error("grpc", djs_config, rpc_workers=config.max_workers):
            raise CommandError(problem)
        log_to_file("grpc")  # log.path/grpc.log besides stderr
        # /metrics of this process (rpc.metricsPort, 0 = off), on the gRPC listen address.
        start_metrics_server(settings.DJS_RPC.metrics_port, config.host.strip("[]"))
        from djs_platform.tracing import setup_tracing

        setup_tracing("grpc")  # before the server is built: its grpc.server gets the tracing interceptor

        def ready(server) -> None:
            self.stdout.write(f"DJS gRPC listening on {server.config.address} (health and reflection enabled)")
            self.stdout.flush()

        try:
            serve(config, grace=options["grace"], on_ready=ready)
        except RuntimeError as exc:  # e.g. the port is taken: say so and exit non-zero
            raise CommandError(str(exc)) from None
        self.stdout.write("DJS gRPC stopped")
