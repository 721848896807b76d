"""``manage.py runplatform``: the whole platform in one command (web, plus gRPC and scheduler when present).

A tiny supervisor: starts each component as a child process, forwards SIGTERM/SIGINT, and stops everything
if one component dies so a half-running platform is never mistaken for a healthy one.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand

from djs_platform.health import shutdown_secret


class Command(BaseCommand):
    help = "Start web (gunicorn), gRPC (rungrpc) and one scheduler node (runscheduler) and supervise them."

    def add_arguments(self, parser):
        parser.add_argument("--grace", type=float, default=None,
                            help="seconds to wait for children on stop before killing them (default: the "
                                 "scheduler's job.shutdownGrace + 15, so its drain ends first)")

    def components(self) -> dict[str, list[str]]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        found = {
            "web": [python, "-m", "gunicorn", "-c", str(settings.BASE_DIR / "configs" / "gunicorn.conf.py")],
        }
        available = get_commands()
        if "rungrpc" in available:
            found["grpc"] = [python, manage, "rungrpc"]
        if "runscheduler" in available:
            found["scheduler"] = [python, manage, "runscheduler"]
        return found

    def handle(self, *args, **options):
        # One Prometheus multiprocess directory for every component: /v1/metrics of the embedded platform
        # aggregates the web workers, the gRPC server and the scheduler node.
        metrics_dir = settings.BASE_DIR / "var" / f"prometheus-platform-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env = {**os.environ, "DJS_SHUTDOWN_PID": str(os.getpid()), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        stopping = False

        def stop(signum, frame):  # noqa: ARG001
            nonlocal stopping
            stopping = True

        grace = options["grace"]
        if grace is None:
            grace = float(settings.DJS_SCHEDULER.shutdown_grace) + 15
        shutdown_secret()  # var/shutdown-secret exists before anyone needs the stop line below

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        children: dict[str, subprocess.Popen] = {}
        for name, cmd in self.components().items():
            children[name] = subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR)
            self.stdout.write(f"started {name} (pid {children[name].pid}): {' '.join(cmd[1:])}")
        base = f"http://127.0.0.1:{settings.DJS_SERVER.port}{settings.DJS_SERVER.context_path}"
        self.stdout.write(f"DJS is starting: {base}/health")
        self.stdout.write(f"stop: Ctrl-C, or curl -X POST -H \"X-DJS-Shutdown-Secret: $(cat var/shutdown-secret)\" "
                          f"\"{base}/shutdown?wait=1\"")
        exit_code = 0
        while not stopping:
            for name, proc in children.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the platform")
                    exit_code = proc.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        self.stdout.write("DJS stopped")
        sys.exit(exit_code)
