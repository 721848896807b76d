"""Behaviour that only exists across real processes: revocation seen everywhere, graceful shutdown."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.platform import (
    ADMIN_PASSWORD,
    WebProcess,
    fresh_database,
    platform_env,
    prepare_database,
    required_env,
)

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]


@pytest.fixture(scope="module")
def two_web_processes(tmp_path_factory):
    """Two gunicorn servers (like two machines) sharing one database and one Redis; one pair for the module's
    revocation tests (each starts its own sessions and users, so they do not depend on each other)."""
    tmp_path = tmp_path_factory.mktemp("two-web")
    with fresh_database(tmp_path) as db_url:
        env = platform_env(db_url, DJS_REDIS_URL=required_env("DJS_TEST_REDIS_URL"))
        prepare_database(env)
        with WebProcess(env, tmp_path / "web1.log") as one, WebProcess(env, tmp_path / "web2.log") as two:
            yield one, two


def _login(web: WebProcess, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict:
    reply = httpx.post(web.url + "/auth/login", json={"username": username, "password": password}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def _userinfo(web: WebProcess, token: str) -> httpx.Response:
    return httpx.get(web.url + "/auth/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_logout_in_one_process_revokes_tokens_in_another(two_web_processes):
    one, two = two_web_processes
    session = _login(one)
    assert _userinfo(two, session["token"]).status_code == 200
    time.sleep(0.01)
    logout = httpx.post(one.url + "/auth/logout", json={}, headers={"Authorization": f"Bearer {session['token']}"})
    assert logout.json()["code"] == 0
    reply = _userinfo(two, session["token"])
    assert (reply.status_code, reply.json()["code"], reply.json()["message"]) == (401, 4010, "token revoked")
    refresh = httpx.post(two.url + "/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert refresh.json()["code"] == 4010


def test_password_change_in_one_process_revokes_tokens_in_another(two_web_processes):
    one, two = two_web_processes
    admin = _login(one)
    headers = {"Authorization": f"Bearer {admin['token']}"}
    created = httpx.post(two.url + "/users", headers=headers, json={
        "username": "alice", "password": "Alice-Initial-Pw1", "realName": "Alice", "departmentId": 1,
        "roleId": 1, "status": 1}).json()
    assert created["code"] == 0, created
    alice = _login(two, "alice", "Alice-Initial-Pw1")
    assert _userinfo(one, alice["token"]).status_code == 200
    time.sleep(0.01)
    changed = httpx.patch(one.url + f"/users/{created['data']['id']}/password", headers=headers,
                          json={"newPassword": "Alice-Second-Pw2"}).json()
    assert changed["code"] == 0, changed
    assert _userinfo(two, alice["token"]).json()["code"] == 4010
    assert _userinfo(two, _login(two, "alice", "Alice-Second-Pw2")["token"]).status_code == 200


def test_refresh_reuse_detected_across_processes(two_web_processes):
    one, two = two_web_processes
    session = _login(one)
    rotated = httpx.post(one.url + "/auth/refresh", json={"refreshToken": session["refreshToken"]}).json()["data"]
    reuse = httpx.post(two.url + "/auth/refresh", json={"refreshToken": session["refreshToken"]}).json()
    assert reuse["code"] == 4010
    assert _userinfo(one, rotated["token"]).json()["code"] == 4010


def test_shutdown_needs_the_secret_and_then_stops_the_server_gracefully(tmp_path):
    """A loopback request with the Host a same-host nginx sends (127.0.0.1:port) and no credentials is
    refused (it used to stop the server); the per-install secret in X-DJS-Shutdown-Secret stops it."""
    from djs_platform.health import shutdown_secret

    with fresh_database(tmp_path) as db_url:
        env = platform_env(db_url)
        prepare_database(env)
        web = WebProcess(env, tmp_path / "web.log").start()
        try:
            anonymous = httpx.get(web.url + "/shutdown?wait=1")
            assert anonymous.json()["code"] == 4010
            proxied = httpx.post(web.url + "/shutdown?wait=1", headers={
                "X-DJS-Shutdown-Secret": shutdown_secret(), "X-Forwarded-For": "198.51.100.7"})
            assert proxied.json()["code"] == 4003
            time.sleep(1.5)
            assert web.proc.poll() is None  # neither stopped it
            headers = {"X-DJS-Shutdown-Secret": shutdown_secret()}
            bad = httpx.post(web.url + "/shutdown?wait=0", headers=headers)
            assert bad.json()["code"] == 4001
            reply = httpx.post(web.url + "/shutdown?wait=1", headers=headers)
            assert reply.json()["code"] == 0 and reply.json()["data"]["wait"] == 1
            assert web.proc.poll() is None  # still serving during the wait
            assert web.proc.wait(timeout=30) == 0
            assert "Shutting down" in web.log() or "Handling signal: term" in web.log()
        finally:
            web.stop()


def test_metrics_aggregate_every_gunicorn_worker(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    def health_count(web) -> float:
        text = httpx.get(web.url + "/metrics", timeout=10).text
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "djs_api_requests_total" and s.labels.get("route") == "/v1/health")

    with fresh_database(tmp_path) as db_url:
        env = platform_env(db_url, DJS_SERVER_WORKERS="3", DJS_SERVER_THREADS="1")
        prepare_database(env)
        with WebProcess(env, tmp_path / "web.log") as web:
            before = health_count(web)
            with httpx.Client() as client:  # a fresh connection per request spreads them over the workers
                for _ in range(60):
                    assert client.get(web.url + "/health", headers={"Connection": "close"}).status_code == 200
            assert health_count(web) - before == 60
            pids = {line.split("pid: ")[1].rstrip(")") for line in web.log().splitlines() if "Booting worker" in line}
            assert len(pids) == 3
