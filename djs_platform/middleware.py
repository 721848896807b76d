"""Small cross-cutting HTTP middleware."""
from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from djs_platform import metrics

#: Longest ``Accept-Language`` value read, and most entries of it looked at (a hostile header costs nothing).
ACCEPT_LANGUAGE_MAX_LENGTH = 500
ACCEPT_LANGUAGE_MAX_ENTRIES = 20


def _supported(tag: str) -> str | None:
    """The Django language of one language tag: zh, zh-CN, zh-SG, zh-Hans(-*) -> zh-hans; en, en-* -> en."""
    tag = tag.strip().lower().replace("_", "-")
    if tag in ("zh", "zh-cn", "zh-sg", "zh-hans") or tag.startswith("zh-hans-"):
        return "zh-hans"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def pick_language(accept_language: str | None, default: str | None = None) -> str:
    """The language of an answer (docs/i18n.md): the most preferred entry of ``Accept-Language`` (or gRPC's
    ``accept-language`` metadata) that DJS has, else ``default`` (``server.language``). Entries with ``q=0``, ``*``
    and languages DJS has no catalog for (zh-TW, fr, ...) are passed over; a malformed header counts as none."""
    fallback = default or settings.DJS_SERVER.language
    if not accept_language or len(accept_language) > ACCEPT_LANGUAGE_MAX_LENGTH:
        return fallback
    ranked: list[tuple[float, int, str]] = []
    for index, entry in enumerate(accept_language.split(",")[:ACCEPT_LANGUAGE_MAX_ENTRIES]):
        tag, _, params = entry.partition(";")
        quality = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        language = _supported(tag)
        if language is not None and 0 < quality <= 1:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else fallback


class LanguageMiddleware:
    """Messages in the request's language: :func:`pick_language` of ``Accept-Language``, active for this request
    only (deactivated after it, so a gthread worker's next request starts from English again). A JSON answer says
    which language it is in (``Content-Language``) and that it depends on the header (``Vary``); the console's
    static files do not depend on it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = pick_language(request.headers.get("Accept-Language"))
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        if response.get("Content-Type", "").startswith("application/json"):  # not the console's files
            patch_vary_headers(response, ("Accept-Language",))
            response.setdefault("Content-Language", "zh-Hans" if language == "zh-hans" else language)
        return response


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
        self.allowed_origins = set(settings.DJS_SERVER.cors_allowed_origins)

    def __call__(self, request):
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and origin in self.allowed_origins:
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
