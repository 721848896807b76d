"""Serves the built admin console (``web-ui/dist``, made by ``npm run build``) at ``/v1/web/``.

- Real files are answered with their content type. Vite's content-hashed files under ``assets/`` never
  change, so browsers keep them for a year (``immutable``); ``index.html`` and the few unhashed files
  (favicon) are revalidated on every use (``no-cache`` with ``Last-Modified``/``ETag``), so a new build is
  picked up at once.
- Any other path under ``/v1/web/`` answers ``index.html``: the console uses history-mode routes
  (``/v1/web/tasks/12``) and a reload must work. Missing files under ``assets/`` are a plain 404
  instead, so a stale chunk name never gets HTML where a script was expected.
- Paths are resolved inside the dist directory only (``..``, absolute paths, symlinks pointing out and
  NUL bytes answer 404), and only GET/HEAD are accepted.
- ``index.html`` gets a Content-Security-Policy suited to the built app: scripts and connections only
  from this origin, no inline scripts, no eval; inline *styles* are allowed because Element Plus
  sets style attributes at run time (popover positions, the charts' tooltips).
- When the build also wrote ``<file>.gz`` (see vite.config.ts), clients that accept gzip get it.
- Without a build, every console URL answers the JSON 4004 envelope saying how to build it.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from django.utils.http import http_date
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.static import was_modified_since

from djs_platform import errors
from djs_platform.envelope import json_error

#: Policy for the console page. 'unsafe-inline' is for style attributes only (Element Plus positions
#: popovers with inline styles, so do the dashboard charts' tooltips); scripts stay strictly same-origin.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"

#: Vite names build outputs ``assets/<name>-<8+ char hash>.<ext>``.
HASHED_ASSET = re.compile(r"^assets/[^/]+-[A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}

NOT_BUILT = gettext_lazy("the web console is not built: run `make run`, or `cd web-ui && npm ci && npm run build`, "
                         "then reload")


def dist_dir() -> Path:
    """``settings.WEB_UI_DIST`` when set (tests), else ``$DJS_WEB_UI_DIST`` (a second build beside the tree's,
    e.g. a helper's), else ``<repo>/web-ui/dist``."""
    configured = getattr(settings, "WEB_UI_DIST", None) or os.environ.get("DJS_WEB_UI_DIST")
    return Path(configured) if configured else Path(settings.BASE_DIR) / "web-ui" / "dist"


def resolve(root: Path, path: str) -> Path | None:
    """The regular file ``path`` names inside ``root``, or None (missing, a directory, or outside ``root``).

    Security-relevant: ``path`` comes from the URL. Each segment must be a plain name (no ``..``, no
    empty or absolute parts, no NUL, no backslash), and the fully resolved file (symlinks followed) must
    still lie inside the resolved root.
    """
    if not path or "\x00" in path or "\\" in path:
        return None
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    base = root.resolve()
    candidate = base.joinpath(*parts).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


def content_type(file: Path) -> str:
    return CONTENT_TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"


def _accepts_gzip(request: HttpRequest) -> bool:
    header = request.headers.get("Accept-Encoding", "")
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etag(file: Path, size: int, mtime: float) -> str:
    return '"' + hashlib.sha1(f"{file.name}:{size}:{mtime}".encode()).hexdigest()[:20] + '"'


def _not_modified(request: HttpRequest, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
    since = request.headers.get("If-Modified-Since")
    return bool(since) and not was_modified_since(since, int(mtime))


def _serve(request: HttpRequest, file: Path, *, cache: str, html: bool) -> HttpResponse:
    served, encoding = file, None
    compressed = file.with_name(file.name + ".gz")
    if _accepts_gzip(request) and compressed.is_file():
        served, encoding = compressed, "gzip"
    stat = served.stat()
    etag = _etag(served, stat.st_size, stat.st_mtime)
    if _not_modified(request, etag, stat.st_mtime):
        response: HttpResponse = HttpResponseNotModified()
    elif request.method == "HEAD":
        response = HttpResponse(content_type=content_type(file))
        response["Content-Length"] = str(stat.st_size)
    else:
        response = FileResponse(served.open("rb"), content_type=content_type(file))
        response["Content-Length"] = str(stat.st_size)
        del response["Content-Disposition"]  # named after the .gz twin otherwise; not a download
    if encoding:
        response["Content-Encoding"] = encoding
    response["Vary"] = "Accept-Encoding"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = cache
    if html:
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@csrf_exempt  # read-only: other methods get the JSON 4005 instead of Django's CSRF page
def console(request: HttpRequest, path: str | None = None) -> HttpResponse:
    """``/v1/web`` -> redirect to ``/v1/web/``; files are served; other routes get ``index.html``."""
    if request.method not in ("GET", "HEAD"):
        return json_error(errors.MethodNotAllowed(gettext("%(method)s is not allowed here; the console is read-only")
                                                  % {"method": request.method}))
    if path is None:
        return HttpResponseRedirect(f"{settings.DJS_SERVER.context_path}/web/")
    root = dist_dir()
    index = root / "index.html"
    if not index.is_file():
        return json_error(errors.NotFound(NOT_BUILT))
    file = resolve(root, path)
    if file is not None and file.name != "index.html":
        relative = file.relative_to(root.resolve()).as_posix()
        if file.suffix == ".gz":  # precompressed twins are an encoding, not files of their own
            return json_error(errors.NotFound(gettext("no route for %(method)s %(path)s")
                                              % {"method": request.method, "path": request.path}))
        cache = CACHE_IMMUTABLE if HASHED_ASSET.match(relative) else CACHE_REVALIDATE
        return _serve(request, file, cache=cache, html=file.suffix == ".html")
    if path.startswith("assets/"):
        response = HttpResponse("not found\n", status=404, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response
    return _serve(request, index, cache=CACHE_REVALIDATE, html=True)
