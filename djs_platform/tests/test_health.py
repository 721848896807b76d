"""Health and the shutdown endpoint (docs/security.md, finding 1; the live graceful stop through a real
gunicorn is in tests/test_processes.py).

Shutdown is accepted only from a loopback peer that is not a proxy, with the per-install secret in
``X-DJS-Shutdown-Secret`` or a top-department ``system:manage`` token. The accepted cases signal a throwaway
``sleep`` process named by ``DJS_SHUTDOWN_PID`` (what ``runplatform`` sets for its children), so a test sees
the SIGTERM arrive without stopping the test runner.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
from dataclasses import replace

import pytest

from apps.accounts.models import Role
from conftest import Api
from djs_platform.health import shutdown_secret, shutdown_secret_path
from tests.factories import RoleFactory, UserFactory

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:9088"}  # what nginx's proxy_pass sends


@pytest.fixture
def victim(monkeypatch):
    """A process standing in for the platform: the shutdown's SIGTERM goes to it."""
    proc = subprocess.Popen(["sleep", "60"])
    monkeypatch.setenv("DJS_SHUTDOWN_PID", str(proc.pid))
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def terminated(proc: subprocess.Popen, timeout: float = 5) -> bool:
    """Whether the stand-in received SIGTERM within ``timeout`` (a refused call would have fired after 1 s)."""
    try:
        return proc.wait(timeout=timeout) == -signal.SIGTERM
    except subprocess.TimeoutExpired:
        return False


def secret_header() -> dict[str, str]:
    return {"HTTP_X_DJS_SHUTDOWN_SECRET": shutdown_secret()}


@pytest.mark.parametrize("remote, host", [("10.0.0.8", "127.0.0.1"), ("192.168.1.2", "localhost"),
                                          ("203.0.113.9", "127.0.0.1:9088")])
def test_shutdown_refuses_non_loopback_peers_even_with_the_secret(db, remote, host, victim):
    reply = Api().call("GET", "shutdown?wait=1", REMOTE_ADDR=remote, HTTP_HOST=host, **secret_header()).expect(4003)
    assert "loopback" in reply.message
    assert not terminated(victim, timeout=1.3)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_anonymous_call_from_a_same_host_proxy_or_a_web_page_is_refused(db, method, victim):
    """The reported attack: nginx's default ``proxy_pass http://127.0.0.1:9088`` (peer 127.0.0.1, Host
    127.0.0.1:9088, no forwarding header), an ``<img src=".../shutdown?wait=1">`` in any page, a dev-profile
    task whose URL is that address: a loopback request without credentials. It used to stop the platform."""
    reply = Api().call(method, "shutdown?wait=1", **LOOPBACK).expect(4010)
    assert "X-DJS-Shutdown-Secret" in reply.message
    assert not terminated(victim, timeout=1.3)


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"])
def test_a_request_that_came_through_a_proxy_is_refused_even_with_the_secret(db, header, victim):
    reply = Api().call("POST", "shutdown?wait=1", **LOOPBACK, **secret_header(), **{header: "198.51.100.7"})
    reply.expect(4003)
    assert "proxy" in reply.message
    assert not terminated(victim, timeout=1.3)


def test_a_trusted_proxy_peer_is_refused_even_with_the_secret(db, settings, victim):
    settings.DJS_SERVER = replace(settings.DJS_SERVER, trusted_proxies=["127.0.0.0/8"])
    Api().call("POST", "shutdown?wait=1", **LOOPBACK, **secret_header()).expect(4003)
    assert not terminated(victim, timeout=1.3)


def test_a_wrong_secret_or_one_in_the_url_is_refused(db, victim):
    Api().call("POST", "shutdown?wait=1", **LOOPBACK, HTTP_X_DJS_SHUTDOWN_SECRET="guess").expect(4003)
    reply = Api().call("GET", f"shutdown?wait=1&secret={shutdown_secret()}", **LOOPBACK).expect(4001)
    assert "header" in reply.message
    assert not terminated(victim, timeout=1.3)


def test_a_token_needs_system_manage_in_the_top_department(org, victim):
    viewer = UserFactory(department=org.hq, role=RoleFactory(codes=["task:view"]))
    Api(viewer).call("POST", "shutdown?wait=1", **LOOPBACK).expect(4003)
    department_admin = UserFactory(department=org.a, role=Role.objects.get(name="admin"))
    reply = Api(department_admin).call("POST", "shutdown?wait=1", **LOOPBACK).expect(4003)
    assert "top department" in reply.message
    assert not terminated(victim, timeout=1.3)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_secret_header_stops_the_platform(db, method, victim):
    reply = Api().call(method, "shutdown?wait=1", **LOOPBACK, **secret_header()).expect(0)
    assert reply.data == {"status": "shutting down", "wait": 1, "pid": victim.pid}
    assert terminated(victim)


def test_a_top_department_system_manage_token_stops_the_platform(org, victim):
    Api(org.admin).call("POST", "shutdown?wait=1", **LOOPBACK).expect(0)
    assert terminated(victim)


def test_the_secret_file_is_private():
    shutdown_secret()
    path = shutdown_secret_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().strip()) >= 40


@pytest.mark.parametrize("query", ["", "?wait=0", "?wait=-1", "?wait=abc", "?wait=100000"])
def test_shutdown_needs_a_positive_wait(db, query, victim):
    Api().call("GET", "shutdown" + query, **LOOPBACK, **secret_header()).expect(4001)
    assert not terminated(victim, timeout=1.3)
