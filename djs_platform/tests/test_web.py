"""The console at /v1/web/: real files, history-mode fallback, caching, CSP, gzip twins, no traversal."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from django.test import Client, override_settings

from djs_platform import web

INDEX = b'<!doctype html><html><head><script type="module" src="/v1/web/assets/index-AbCdEf12.js"></script></head>' \
        b'<body><div id="app"></div></body></html>'
SCRIPT = b"console.log('djs');" * 100


@pytest.fixture
def dist(tmp_path: Path):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-AbCdEf12.js").write_bytes(SCRIPT)
    (root / "assets" / "index-AbCdEf12.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "assets" / "index-Zz9_xY-1.css").write_bytes(b"body{margin:0}")
    (root / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_bytes(b"TOP-SECRET")
    with override_settings(WEB_UI_DIST=str(root)):
        yield root


@pytest.fixture
def client() -> Client:
    return Client()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("path", ["/v1/web/", "/v1/web/tasks", "/v1/web/tasks/12/edit", "/v1/web/login?redirect=/x"])
def test_every_console_route_answers_index_html_for_history_mode(dist, client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert body(response) == INDEX
    assert response["Cache-Control"] == "no-cache"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-eval'" not in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'unsafe-inline'" not in csp


def test_without_trailing_slash_redirects_to_the_console(dist, client):
    response = client.get("/v1/web")
    assert (response.status_code, response["Location"]) == (302, "/v1/web/")


def test_hashed_assets_are_served_with_their_type_and_cached_for_a_year(dist, client):
    script = client.get("/v1/web/assets/index-AbCdEf12.js")
    assert script.status_code == 200
    assert script["Content-Type"] == "text/javascript; charset=utf-8"
    assert script["Cache-Control"] == "public, max-age=31536000, immutable"
    assert body(script) == SCRIPT
    assert "Content-Security-Policy" not in script
    style = client.get("/v1/web/assets/index-Zz9_xY-1.css")
    assert (style["Content-Type"], style["Cache-Control"]) == ("text/css; charset=utf-8", web.CACHE_IMMUTABLE)


def test_unhashed_files_are_revalidated(dist, client):
    icon = client.get("/v1/web/favicon.svg")
    assert (icon.status_code, icon["Content-Type"], icon["Cache-Control"]) == (200, "image/svg+xml", "no-cache")


def test_gzip_twin_is_sent_to_clients_that_accept_it(dist, client):
    compressed = client.get("/v1/web/assets/index-AbCdEf12.js", HTTP_ACCEPT_ENCODING="br, gzip")
    assert compressed["Content-Encoding"] == "gzip"
    assert compressed["Vary"] == "Accept-Encoding"
    assert gzip.decompress(body(compressed)) == SCRIPT
    refused = client.get("/v1/web/assets/index-AbCdEf12.js", HTTP_ACCEPT_ENCODING="gzip;q=0")
    assert "Content-Encoding" not in refused and body(refused) == SCRIPT
    assert client.get("/v1/web/assets/index-AbCdEf12.js.gz").status_code == 404


def test_missing_assets_are_404_not_html(dist, client):
    response = client.get("/v1/web/assets/index-Gone1234.js")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")


def test_conditional_get_answers_304(dist, client):
    first = client.get("/v1/web/")
    again = client.get("/v1/web/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert client.get("/v1/web/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304


def test_head_has_headers_but_no_body(dist, client):
    response = client.head("/v1/web/assets/index-AbCdEf12.js")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(SCRIPT))
    assert response.content == b""


def test_writes_are_refused_with_the_envelope(dist, client):
    response = client.post("/v1/web/tasks", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json()["code"] == 4005


@pytest.mark.parametrize("path", ["../secret.txt", "assets/../../secret.txt", "/etc/passwd", "a\\..\\secret.txt",
                                  "assets//index-AbCdEf12.js", "assets/./index-AbCdEf12.js", "x\x00.js", "", "assets"])
def test_resolve_never_leaves_the_dist_directory(dist, path):
    assert web.resolve(dist, path) is None


def test_symlinks_pointing_outside_are_not_followed(dist):
    os.symlink(dist.parent / "secret.txt", dist / "assets" / "leak-AbCdEf12.js")
    assert web.resolve(dist, "assets/leak-AbCdEf12.js") is None
    assert web.resolve(dist, "assets/index-AbCdEf12.js") == (dist / "assets" / "index-AbCdEf12.js").resolve()


@pytest.mark.parametrize("path", ["/v1/web/../secret.txt", "/v1/web/%2e%2e/secret.txt", "/v1/web/..%2fsecret.txt",
                                  "/v1/web/assets/%2e%2e/%2e%2e/secret.txt"])
def test_traversal_through_the_url_never_serves_outside_files(dist, client, path):
    response = client.get(path)
    assert b"TOP-SECRET" not in body(response)


def test_without_a_build_the_console_explains_how_to_build_it(tmp_path, client):
    with override_settings(WEB_UI_DIST=str(tmp_path / "nothing")):
        for path in ("/v1/web/", "/v1/web/tasks"):
            response = client.get(path)
            assert response.status_code == 404
            payload = response.json()
            assert payload["code"] == 4004 and "npm run build" in payload["message"] and "make run" in payload["message"]


def test_other_unknown_routes_keep_the_json_404(dist, client):
    response = client.get("/v1/webhooks")
    assert response.status_code == 404 and response.json()["code"] == 4004
