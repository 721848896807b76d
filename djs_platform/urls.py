from django.conf import settings
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from djs_platform import web
from djs_platform.envelope import handler404 as not_found
from djs_platform.health import HealthView, ShutdownView, metrics_view

api = [
    path("health", HealthView.as_view(), name="health"),
    path("shutdown", ShutdownView.as_view(), name="shutdown"),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.departments.api.urls")),
    path("", include("apps.tasks.api.urls")),
    path("", include("apps.records.api.urls")),
    path("", include("apps.alerts.api.urls")),
    re_path(r"^web(?:/(?P<path>.*))?$", web.console, name="web-console"),
]
if settings.METRICS_ENABLED:
    api.append(path("metrics", metrics_view, name="metrics"))
if settings.DOCS_ENABLED:
    api += [
        path("schema", SpectacularJSONAPIView.as_view(), name="schema"),
        path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    ]

# Anything else under /v1 answers the JSON envelope (4004), also with DEBUG on.
api.append(re_path(r"^.*$", not_found))

urlpatterns = [path(settings.API_PREFIX, include(api))]

handler404 = "djs_platform.envelope.handler404"
handler500 = "djs_platform.envelope.handler500"
