"""Health check and the loopback-only graceful shutdown endpoint."""
from __future__ import annotations

import ipaddress
import logging
import os
import signal
import threading
from urllib.parse import urlsplit

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from djs_platform import errors
from djs_platform.envelope import ok, parse_query

log = logging.getLogger("djs.health")
LOOPBACK_HOSTNAMES = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}


def _check(fn) -> str:
    try:
        fn()
        return "up"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        log.warning("health check failed: %s", exc)
        return "down"


def _db_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


class HealthOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["up", "down"])
    timestamp = serializers.CharField()
    checks = serializers.DictField(child=serializers.CharField())


class ShutdownOutput(serializers.Serializer):
    status = serializers.CharField()
    wait = serializers.IntegerField()
    pid = serializers.IntegerField()


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=HealthOutput, tags=["system"], auth=[])
    def get(self, request):
        checks = {"database": _check(_db_ping), "cache": _check(lambda: cache.get("health:ping"))}
        status = "up" if all(v == "up" for v in checks.values()) else "down"
        data = {"status": status, "timestamp": timezone.now().isoformat().replace("+00:00", "Z"), "checks": checks}
        if status == "up":
            return ok(data)
        return Response({"code": 5000, "message": "service unhealthy", "data": data}, status=503)


def metrics_view(request):
    """Prometheus text exposition (``server.metricsEnabled``); no envelope, it is for scrapers."""
    from django.http import HttpResponse

    from djs_platform.metrics import exposition

    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


class ShutdownQuery(serializers.Serializer):
    wait = serializers.IntegerField(min_value=1, max_value=3600)


def is_loopback_request(request) -> bool:
    """Both the TCP peer and the Host the client used must be loopback (the original's rule)."""
    try:
        peer_ok = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        peer_ok = False
    hostname = urlsplit("//" + request.META.get("HTTP_HOST", "")).hostname or ""
    return peer_ok and hostname.lower() in LOOPBACK_HOSTNAMES


def shutdown_target_pid() -> int:
    """The process whose SIGTERM stops this server gracefully (gunicorn master, runplatform, runserver)."""
    return int(os.environ.get("DJS_SHUTDOWN_PID") or os.getpid())


class ShutdownView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=ShutdownOutput, tags=["system"], auth=[],
                   parameters=[OpenApiParameter("wait", int, required=True)])
    def get(self, request):
        if not is_loopback_request(request):
            raise errors.Forbidden("shutdown is only accepted from loopback")
        wait = parse_query(ShutdownQuery, request)["wait"]
        pid = shutdown_target_pid()
        log.warning("shutdown requested from %s: SIGTERM to pid %s in %ss", request.META.get("REMOTE_ADDR"), pid, wait)
        timer = threading.Timer(wait, os.kill, args=(pid, signal.SIGTERM))
        timer.daemon = True
        timer.start()
        return ok({"status": "shutting down", "wait": wait, "pid": pid})
