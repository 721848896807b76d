"""JSON everywhere (issue 18 item 9, DESIGN §14.4): every path answers the `{code, message, data}` envelope,
outside `/v1` too, whatever the method and whether `server.debug` is on (`make run`'s embedded profile, where
Django used to answer its HTML debug 404). `/v1/web/*` keeps serving the console's `index.html`.

The client enforces CSRF like a real one does (Django's test client skips the check by default)."""
from __future__ import annotations

import json

import pytest
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, _get_failure_view
from django.test import Client, RequestFactory
from django.urls import get_resolver

from djs_platform.tests.test_web import INDEX, body, dist  # noqa: F401 - `dist` is a fixture

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


def envelope(response, code: int, status: int) -> dict:
    assert response.status_code == status, (response.status_code, body(response)[:200])
    assert response["Content-Type"] == "application/json", (response["Content-Type"], body(response)[:200])
    payload = json.loads(body(response))
    assert set(payload) == {"code", "message", "data"} and payload["code"] == code, payload
    return payload


# --- the defect as reported: Django's HTML 404 on /nope ----------------------------------------------

def test_nope_outside_v1_answers_the_json_envelope_not_an_html_page(db, debug, client):
    response = client.get("/nope")
    assert b"<html" not in body(response).lower()
    assert envelope(response, 4004, 404) == {"code": 4004, "message": "no route for GET /nope", "data": None}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", ["/", "/nope", "/v1", "/v1x/tasks", "/v2/tasks", "/api/v1/tasks", "/favicon.ico",
                                  "/admin/", "/static/app.js", "/web/", "/nope/%E4%BD%A0%E5%A5%BD"])
def test_every_method_on_a_path_outside_v1_answers_4004(db, debug, client, method, path):
    response = client.generic(method, path, data=b'{"a": 1}', content_type="application/json")
    payload = envelope(response, 4004, 404)
    assert payload["message"].startswith(f"no route for {method} /")


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/tasks/abc", "/v1/tasks/1/nope", "/v1/static/missing.js",
                                  "/v1/triggers/x"])
def test_unknown_paths_under_v1_answer_4004_with_debug_on_too(db, debug, client, path):
    envelope(client.get(path), 4004, 404)
    envelope(client.post(path, data="{}", content_type="application/json"), 4004, 404)


@pytest.mark.parametrize("path", ["/v1/web/", "/v1/web/tasks", "/v1/web/tasks/12/edit"])
def test_console_routes_keep_serving_index_html(dist, debug, client, path):  # noqa: F811 - the fixture
    response = client.get(path)
    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert body(response) == INDEX


# --- other routes that are not DRF views -------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/docs", "/v1/schema"])
def test_a_wrong_method_on_metrics_docs_and_schema_answers_4005_json(db, client, method, path):
    """/metrics answered Django's HTML CSRF page (403) to a POST, /docs a text/html 405."""
    payload = envelope(client.generic(method, path), 4005, 405)
    assert method in payload["message"]


def test_metrics_docs_and_schema_still_answer_get(db, client):
    assert client.get("/v1/metrics")["Content-Type"].startswith("text/plain")
    assert client.get("/v1/docs")["Content-Type"].startswith("text/html")
    assert client.get("/v1/schema").status_code == 200


def test_a_malformed_host_header_answers_4001_json(db, client):
    """Django's handler400 rendered an HTML "Bad Request (400)" page (DEBUG off)."""
    payload = envelope(client.get("/v1/health", HTTP_HOST="bad host!"), 4001, 400)
    assert "Host" in payload["message"]


@pytest.mark.parametrize("status, code", [(400, 4001), (403, 4003), (404, 4004), (500, 5000)])
def test_every_error_handler_renders_the_envelope(db, status, code):
    request = RequestFactory().get("/anything")
    handler = get_resolver().resolve_error_handler(status)
    response = handler(request) if status == 500 else handler(request, exception=Exception("boom"))
    payload = envelope(response, code, status)
    assert "boom" not in payload["message"]  # an exception's text is not shown to clients


def test_a_csrf_failure_answers_4003_json(db):
    """Every route today is CSRF-exempt (bearer tokens); a future cookie-authenticated view that fails the check
    still answers the envelope, not Django's HTML CSRF page."""
    assert _get_failure_view().__module__ == "djs_platform.envelope"

    def protected(request):
        return HttpResponse("ok")

    request = RequestFactory().post("/v1/anything")
    response = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, protected, (), {})
    envelope(response, 4003, 403)
