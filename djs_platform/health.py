"""Health check and the graceful shutdown endpoint (loopback, not through a proxy, secret or system:manage)."""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from djs_platform import errors
from djs_platform.actor import in_networks
from djs_platform.config import install_secret
from djs_platform.envelope import ok, parse_query
from djs_platform.metrics import exposition
from djs_platform.tenancy import require_permission

log = logging.getLogger("djs.health")


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
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


def shutdown_target_pid() -> int:
    """The process whose SIGTERM stops this server gracefully (gunicorn master, runplatform, runserver)."""
    return int(os.environ.get("DJS_SHUTDOWN_PID") or os.getpid())


class ShutdownQuery(serializers.Serializer):
    wait = serializers.IntegerField(min_value=1, max_value=3600)


#: Headers a reverse proxy adds: a request carrying any of them came through one, so it is never a shutdown.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
SECRET_HEADER = "X-DJS-Shutdown-Secret"


def shutdown_secret_path() -> Path:
    return settings.BASE_DIR / "var" / "shutdown-secret"


def shutdown_secret() -> str:
    """The per-install shutdown secret (``var/shutdown-secret``, mode 0600), created on first use."""
    return install_secret(shutdown_secret_path(), lambda: secrets.token_urlsafe(32))


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def authorize_shutdown(request) -> str:
    """Who may stop the platform (docs/security.md, finding 1): a loopback peer that is not a proxy, asking
    with the per-install secret in ``X-DJS-Shutdown-Secret`` or as a ``system:manage`` holder of the top
    department (``Authorization: Bearer``). The ``Host`` header decides nothing. Returns how the caller
    was recognised (for the log line)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not _is_loopback(remote):
        raise errors.Forbidden(_("shutdown is only accepted from loopback"))
    proxies = settings.DJS_SERVER.trusted_proxies
    if any(request.META.get(h) for h in PROXY_HEADERS) or (proxies and in_networks(remote, proxies)):
        raise errors.Forbidden(_("shutdown is not accepted through a proxy"))
    if any(k.lower() in ("secret", SECRET_HEADER.lower(), "shutdown-secret", "shutdownsecret") for k in request.GET):
        raise errors.invalid("secret", _("the shutdown secret goes in the %(secret_header)s header, never in the URL")
                                       % {"secret_header": SECRET_HEADER})
    given = request.META.get("HTTP_X_DJS_SHUTDOWN_SECRET")
    if given is not None:
        if not hmac.compare_digest(given.encode(), shutdown_secret().encode()):
            raise errors.Forbidden(_("wrong shutdown secret"))
        return "secret"
    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise errors.Unauthenticated(
            _("shutdown needs the %(secret_header)s header (var/shutdown-secret) or a token with system:manage")
            % {"secret_header": SECRET_HEADER})
    require_permission(user, "system:manage")
    if user.department.parent_id is not None:
        raise errors.Forbidden(_("only system:manage holders of the top department may stop the platform"))
    return f"user {user.username}"


class ShutdownView(APIView):
    """``GET`` (the original's route) and ``POST /v1/shutdown?wait=N``: SIGTERM to the platform after N s."""
    permission_classes = [AllowAny]

    @extend_schema(responses=ShutdownOutput, tags=["system"],
                   parameters=[OpenApiParameter("wait", int, required=True),
                               OpenApiParameter(SECRET_HEADER, str, location=OpenApiParameter.HEADER)])
    def get(self, request):
        return self._shutdown(request)

    @extend_schema(request=None, responses=ShutdownOutput, tags=["system"],
                   parameters=[OpenApiParameter("wait", int, required=True),
                               OpenApiParameter(SECRET_HEADER, str, location=OpenApiParameter.HEADER)])
    def post(self, request):
        return self._shutdown(request)

    def _shutdown(self, request):
        who = authorize_shutdown(request)
        wait = parse_query(ShutdownQuery, request)["wait"]
        pid = shutdown_target_pid()
        log.warning("shutdown requested from %s by %s: SIGTERM to pid %s in %ss",
                    request.META.get("REMOTE_ADDR"), who, pid, wait)
        timer = threading.Timer(wait, os.kill, args=(pid, signal.SIGTERM))
        timer.daemon = True
        timer.start()
        return ok({"status": "shutting down", "wait": wait, "pid": pid})
