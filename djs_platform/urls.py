from django.conf import settings
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from djs_platform import web
from djs_platform.envelope import handler404 as not_found
from djs_platform.envelope import only_methods
from djs_platform.features import FeaturesView
from djs_platform.health import HealthView, ShutdownView, metrics_view

api = [
    path("health", HealthView.as_view(), name="health"),
    path("shutdown", ShutdownView.as_view(), name="shutdown"),
    path("features", FeaturesView.as_view(), name="features"),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.departments.api.urls")),
    path("", include("apps.tasks.api.urls")),
    path("", include("apps.records.api.urls")),
    path("", include("apps.alerts.api.urls")),
    path("", include("apps.executors.api.urls")),
    re_path(r"^web(?:/(?P<path>.*))?$", web.console, name="web-console"),
]
# The three routes below are not JSON API views: GET/HEAD only, any other method answers 4005 in the envelope.
if settings.DJS_SERVER.metrics_enabled:
    api.append(path("metrics", only_methods(metrics_view), name="metrics"))
if settings.DJS_SERVER.docs_enabled:
    api += [
        path("schema", only_methods(SpectacularJSONAPIView.as_view()), name="schema"),
        path("docs", only_methods(SpectacularSwaggerView.as_view(url_name="schema")), name="docs"),
    ]

# Anything else under /v1 answers the JSON envelope (4004), also with DEBUG on.
api.append(re_path(r"^.*$", not_found))

urlpatterns = [
    path(settings.DJS_SERVER.api_prefix, include(api)),
    # ... and so does every path outside /v1 ("/", "/nope", "/v1" without the slash): a route rather than
    # handler404 alone, which DEBUG (the embedded dev profile) replaces with Django's HTML debug page.
    re_path(r"^.*$", not_found, name="not-found"),
]

# What Django renders itself (DEBUG off): a SuspiciousOperation such as a malformed Host header (400),
# PermissionDenied outside DRF (403), an unmatched path (404), an unhandled error outside DRF (500).
handler400 = "djs_platform.envelope.handler400"
handler403 = "djs_platform.envelope.handler403"
handler404 = "djs_platform.envelope.handler404"
handler500 = "djs_platform.envelope.handler500"
