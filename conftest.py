"""Shared fixtures: an API client speaking the /v1 envelope, an organisation tree, tokens."""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.accounts.models import Role, User
from apps.departments.models import Department
from djs_platform import tokens
from apps.accounts.permissions import PERMISSION_CODES
from djs_platform.conf import EgressSettings, RecordsSettings, ShellSettings
from tests.factories import DepartmentFactory, RoleFactory, UserFactory

BACKEND = "mariadb" if os.environ.get("DJS_DATABASE_URL", "").startswith("mysql") else "sqlite"


def deselection_reason(markers: set[str], backend: str, is_root: bool) -> str | None:
    """Why a test with these markers does not run in this pass (None: it runs).

    Backend- and privilege-specific tests leave a pass at collection time, never through pytest.skip
    (scripts/run_tests.py fails on any skip): platform-level suites run once, in the MariaDB pass."""
    if backend != "mariadb" and "mariadb_only" in markers:
        return "mariadb_only"
    if backend != "mariadb" and "single_backend" in markers and "sqlite_smoke" not in markers:
        return "single_backend"
    if not is_root and "root_only" in markers:
        return "root_only"
    return None


def pytest_collection_modifyitems(config, items):
    is_root = os.geteuid() == 0
    kept, deselected = [], []
    for item in items:
        markers = {mark.name for mark in item.iter_markers()}
        (deselected if deselection_reason(markers, BACKEND, is_root) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(autouse=True)
def _clean_cache(request):
    """Throttle counters and revocation marks never leak between tests."""
    db_cache = "DatabaseCache" in settings.CACHES["default"]["BACKEND"]
    uses_db = {"db", "transactional_db"} & set(request.fixturenames)
    if db_cache and not uses_db:
        yield  # the database cache is unreachable (and empty) for tests without database access
        return
    if uses_db:
        request.getfixturevalue("transactional_db" if "transactional_db" in uses_db else "db")
        _ensure_reference_data()
    cache.clear()
    yield
    cache.clear()


class Clock:
    """A stopped clock tests move forward (``clock.advance(301)``) instead of sleeping: windows and lockouts
    then measure exactly what the test says, however slowly a loaded machine runs it."""

    def __init__(self) -> None:
        self.now = time.time()

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The clock of token state (throttle windows, lockouts, expiry of revocation marks) made settable."""
    from djs_platform import token_state

    fake = Clock()
    monkeypatch.setattr(token_state, "clock", fake)
    return fake


def _ensure_reference_data() -> None:
    """Transactional tests flush the database, seeded rows included; put them back when missing."""
    from apps.accounts.models import Permission, RolePermission
    from apps.accounts.seed import seed_reference_data

    if Permission.objects.count() != len(PERMISSION_CODES):
        seed_reference_data(Permission, Role, RolePermission, Department)


class Api:
    """A REST client that returns the decoded envelope and checks it is well formed."""

    def __init__(self, user: User | None = None, token: str | None = None):
        self.client = APIClient()
        self.user = user
        if user is not None and token is None:
            token = tokens.issue_pair(user).access
        self.token = token
        if token:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(self, method: str, path: str, body: Any = None, raw: str | None = None, **extra) -> "Reply":
        url = path if path.startswith("/v1/") else "/v1/" + path.lstrip("/")
        fn = getattr(self.client, method.lower())
        if raw is not None:
            resp = fn(url, data=raw, content_type="application/json", **extra)
        elif body is not None:
            resp = fn(url, data=json.dumps(body), content_type="application/json", **extra)
        else:
            resp = fn(url, **extra)
        payload = resp.json()
        assert set(payload) == {"code", "message", "data"}, payload
        return Reply(resp.status_code, payload["code"], payload["message"], payload["data"], resp)

    def get(self, path: str, **params) -> "Reply":
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.call("GET", f"{path}?{query}" if query else path)

    def post(self, path: str, body: Any = None, **kw) -> "Reply":
        return self.call("POST", path, body if body is not None else {}, **kw)

    def put(self, path: str, body: Any, **kw) -> "Reply":
        return self.call("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, **kw) -> "Reply":
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str) -> "Reply":
        return self.call("DELETE", path)


@dataclass
class Reply:
    status: int
    code: int
    message: str
    data: Any
    response: Any

    def expect(self, code: int, http_status: int | None = None) -> "Reply":
        expected_http = http_status or {0: 200, 4001: 400, 4010: 401, 4003: 403, 4004: 404, 4009: 409,
                                        4029: 429, 4005: 405}.get(code, 500)
        assert (self.code, self.status) == (code, expected_http), (self.status, self.code, self.message, self.data)
        return self


@dataclass
class Org:
    """HQ (seeded top) > A > A1, HQ > B. Users are created per test through ``member``."""

    hq: Department
    a: Department
    a1: Department
    b: Department
    admin: User

    def member(self, department: Department, codes: set[str] | frozenset[str] | None = None, **kw) -> User:
        role = RoleFactory(codes=sorted(PERMISSION_CODES if codes is None else codes))
        return UserFactory(department=department, role=role, **kw)


@pytest.fixture
def org(db) -> Org:
    hq = Department.objects.filter(parent__isnull=True).order_by("id").first()
    a = DepartmentFactory(name="A", parent=hq)
    a1 = DepartmentFactory(name="A1", parent=a)
    b = DepartmentFactory(name="B", parent=hq)
    admin = UserFactory(username="root-admin", department=hq, role=Role.objects.get(name="admin"))
    return Org(hq=hq, a=a, a1=a1, b=b, admin=admin)


@pytest.fixture
def api():
    return Api


@pytest.fixture
def admin_api(org) -> Api:
    return Api(org.admin)


RECORD_TEST_YEARS = (2025, 2026, 2027)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Month tables exist before any test transaction (on MySQL, DDL would commit a test's transaction)."""
    from apps.records.models import ensure_record_table

    with django_db_blocker.unblock():
        for year in RECORD_TEST_YEARS:
            for month in range(1, 13):
                ensure_record_table(year, month)


@pytest.fixture
def department(db) -> Department:
    """The seeded top department (where tests that need no tenancy put their tasks)."""
    return Department.objects.filter(parent__isnull=True).order_by("id").first()


@pytest.fixture
def http_target():
    """A real HTTP server on a free loopback port (``tests.targets.HttpTarget``) that records every request;
    started for the test, stopped after it."""
    from tests.targets import HttpTarget

    with HttpTarget() as target:
        yield target


def egress_settings(**changes: Any) -> EgressSettings:
    """A ``security.egress`` policy for a test (``settings.DJS_EGRESS = egress_settings(...)``): closed, as
    configs/config.yaml ships it with ``server.debug`` off (no loopback, no private ranges), but for
    ``changes``."""
    closed = EgressSettings(allow_private=False, allow_cidrs=(), deny_cidrs=(), allow_hosts=(), deny_hosts=())
    return replace(closed, **changes)


def shell_settings(**changes: Any) -> ShellSettings:
    """``job.shell.*`` as configured, but for ``changes`` (``enabled=True, log_dir=tmp_path`` ...)."""
    return replace(settings.DJS_SHELL, **changes)


LOOPBACK_EGRESS = egress_settings(allow_cidrs=("127.0.0.0/8", "::1/128"))
#: Test nodes prune nothing (a prune round would race the test's own records).
NO_RETENTION = RecordsSettings(keep_months=0, rollup_keep_months=0)


@pytest.fixture
def node_factory(settings):
    """Start real scheduler nodes (own thread and event loop) with fast timings; stopped after the test.

    Tasks may call loopback targets (egress policy opened for 127.0.0.0/8 and ::1)."""
    import time

    from apps.tasks.scheduler import start_in_thread

    settings.DJS_EGRESS = LOOPBACK_EGRESS
    started = []
    crashes: list[str] = []
    previous_hook = threading.excepthook

    def hook(args):
        if args.thread is not None and args.thread.name.startswith("node-"):
            crashes.append(f"{args.thread.name}: {args.exc_type.__name__}: {args.exc_value}")
        previous_hook(args)

    threading.excepthook = hook

    def start(**over):
        values = dict(poll_interval=0.2, lookahead=1.0, heartbeat_interval=0.5, node_timeout=3.0,
                      misfire_threshold=5.0, shutdown_grace=5.0)
        values.update(over)
        node, thread = start_in_thread(replace(settings.DJS_SCHEDULER, **values), retention=NO_RETENTION)
        started.append((node, thread))
        deadline = time.monotonic() + 10
        while node.node_id is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.node_id is not None, "node did not register"
        return node

    try:
        yield start
        for node, thread in started:
            node.stop()
            thread.join(20)
            assert not thread.is_alive(), f"node {node.name} did not stop within 20 s"
    finally:
        for node, thread in started:
            if thread.is_alive():
                node.stop()
                thread.join(20)
        threading.excepthook = previous_hook
    assert not crashes, f"a node thread crashed: {crashes}"
