"""gunicorn settings for the DJS web process, derived from configs/config.yaml + DJS_* variables."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from djs_platform.conf import LogSettings, ServerSettings, connection_budget_error  # noqa: E402
from djs_platform.config import config as _cfg  # noqa: E402  ("config" is a gunicorn setting name)

try:
    _server, _log = ServerSettings.from_config(_cfg), LogSettings.from_config(_cfg)
    # database.maxConn: workers x threads connections at most (one per thread); refuse a configuration that
    # needs more.
    _problem = connection_budget_error("web", _cfg)
except ImproperlyConfigured as exc:
    _problem = str(exc)
if _problem:
    sys.exit(f"error: {_problem}")

bind = f"{_server.host}:{_server.port}"
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = max(30, _server.timeout * 3)
graceful_timeout = 20
keepalive = 5
accesslog = "-" if _log.level == "DEBUG" else None
errorlog = "-"
wsgi_app = "djs_platform.wsgi:application"


def on_starting(server):
    # log.path: gunicorn's own messages (master and workers: boot, timeouts, exits) go to web.log as well as
    # stderr; each worker adds Django's logs to it (post_worker_init).
    from djs_platform.logs import role_handler

    try:
        handler = role_handler("web", _cfg)
    except ValueError as exc:  # a log.* value that is no number >= 0
        sys.exit(f"error: {exc}")
    except OSError as exc:
        server.log.warning("log.path: cannot write the web log to %s (%s): logging to stderr only",
                           exc.filename, exc.strerror)
    else:
        if handler is not None:
            server.log.error_log.addHandler(handler)
    # /v1/shutdown in any worker signals the master, which drains workers gracefully.
    os.environ.setdefault("DJS_SHUTDOWN_PID", str(os.getpid()))
    # Prometheus multiprocess mode: every worker writes its samples here; /v1/metrics aggregates them.
    # Set before the workers import prometheus_client; a fresh directory per master.
    # `manage.py runplatform` provides one directory for web, gRPC and scheduler together, so /v1/metrics
    # of the embedded platform also shows the scheduler's series.
    import shutil

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["DJS_METRICS_DIR_OWNED"] = "0"
        return
    directory = Path(__file__).resolve().parent.parent / "var" / f"prometheus-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    os.environ["DJS_METRICS_DIR_OWNED"] = "1"


def post_worker_init(worker):
    # In the worker, after the application (and so Django's LOGGING) is loaded: Django's logs to web.log too.
    from djs_platform.logs import log_to_file

    log_to_file("web")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    import shutil

    if os.environ.get("DJS_METRICS_DIR_OWNED") == "1":
        shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)

# gunicorn's control socket defaults to one per-user path; several DJS web processes on one host
# (tests, side-by-side instances) would fight over it, and DJS does not use it.
control_socket_disable = True
