"""Small cross-cutting HTTP middleware."""
from __future__ import annotations

import time

from django.conf import settings

from djs_platform import metrics


class MetricsMiddleware:
    """Request count and latency per route template (bounded labels), method and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = "/" + match.route if match is not None and match.route else "unmatched"
        if route.endswith(".*$"):  # the catch-all 4004 route
            route = "unmatched"
        if not route.endswith("/metrics"):
            metrics.api_requests.labels(request.method, route, str(response.status_code)).inc()
            metrics.api_latency.labels(request.method, route).observe(time.perf_counter() - started)
        return response


class SecurityHeadersMiddleware:
    """Security headers Django does not set itself, and a strict CORS allow-list (none by default)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.allowed_origins = set(settings.CORS_ALLOWED_ORIGINS)

    def __call__(self, request):
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and origin in self.allowed_origins:
            from django.http import HttpResponse

            response = HttpResponse(status=204)
        else:
            response = self.get_response(request)
        response.setdefault("Cache-Control", "no-store")
        response.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if response.get("Content-Type", "").startswith("application/json"):
            response.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        if origin and origin in self.allowed_origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Vary"] = "Origin"
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        return response
