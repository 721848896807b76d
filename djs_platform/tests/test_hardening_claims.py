"""Hardening claims from docs/security.md and configs/config.yaml that had no test of their own.

1. Login throttle keyed on the client address: ``X-Forwarded-For`` is believed only from
   ``server.trustedProxies``.
2. HSTS (HTTPS only, ``server.hstsSeconds``) and ``Referrer-Policy`` on API and console responses.
3. Passwords stored with an older hasher (PBKDF2) are upgraded to Argon2 on a successful login.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.contrib.auth.hashers import make_password
from django.test import Client

from conftest import Api
from tests.factories import DEFAULT_PASSWORD

PROXY = "10.0.0.1"
RATE = 3  # login attempts per address per minute in these tests


def login(username: str, password: str = DEFAULT_PASSWORD, **extra):
    return Api().post("auth/login", {"username": username, "password": password}, **extra)


@pytest.fixture
def behind_proxy(settings):
    """``server.trustedProxies: [10.0.0.1]`` and a small login budget."""
    settings.DJS_SERVER = replace(settings.DJS_SERVER, trusted_proxies=[PROXY])
    settings.DJS_AUTH = replace(settings.DJS_AUTH, login_rate_per_minute=RATE)


# --- claim 1: X-Forwarded-For from trusted proxies keys the login throttle ----------------------

def test_trusted_proxy_forwarded_clients_get_separate_login_budgets(org, admin_api, behind_proxy):
    """Claim 1: behind a trusted proxy each forwarded client has its own budget, and the audit trail
    names the forwarded client, not the proxy."""
    user = org.member(org.a)
    for _ in range(RATE):
        login(user.username, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7").expect(0)
    login(user.username, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7").expect(4029)
    login(user.username, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.8").expect(0)

    rows = admin_api.get("audit-logs", action="auth.login", size=50).expect(0).data["list"]
    assert {row["clientIp"] for row in rows} == {"203.0.113.7", "203.0.113.8"}


def test_client_behind_trusted_proxy_cannot_dodge_the_throttle_with_a_spoofed_hop(org, behind_proxy):
    """Claim 1: the proxy appends the real peer; entries the client wrote in front of it are ignored."""
    user = org.member(org.a)
    for i in range(RATE):
        login(user.username, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7").expect(0)
    login(user.username, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7").expect(4029)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(org, behind_proxy):
    """Claim 1: a direct client rotating X-Forwarded-For is still throttled on its own address."""
    user = org.member(org.a)
    for i in range(RATE):
        login(user.username, REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").expect(0)
    login(user.username, REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="203.0.113.200").expect(4029)
    login(user.username, REMOTE_ADDR="192.0.2.50").expect(4029)


# --- claim 2: HSTS and Referrer-Policy -----------------------------------------------------------

def expected_hsts() -> str:
    """The header configs/config.yaml promises (the test runner clears DJS_* overrides)."""
    server = yaml.safe_load((Path(django_settings.BASE_DIR) / "configs" / "config.yaml").read_text())["server"]
    assert server["hstsSeconds"] > 0 and server["hstsIncludeSubdomains"] and server["hstsPreload"]
    return f"max-age={server['hstsSeconds']}; includeSubDomains; preload"


def test_hsts_only_on_https_and_referrer_policy_on_api_responses(org):
    """Claim 2: HTTPS answers carry HSTS with server.hstsSeconds; plain HTTP answers do not; both
    carry Referrer-Policy: same-origin (an error answer included)."""
    https = Api().client.get("/v1/health", secure=True)
    assert https["Strict-Transport-Security"] == expected_hsts()
    assert https["Referrer-Policy"] == "same-origin"

    plain = Api().client.get("/v1/health")
    assert "Strict-Transport-Security" not in plain
    assert plain["Referrer-Policy"] == "same-origin"

    failed = login(org.admin.username, "wrong-password", secure=True).expect(4010).response
    assert failed["Strict-Transport-Security"] == expected_hsts()
    assert failed["Referrer-Policy"] == "same-origin"


def test_console_page_carries_hsts_and_referrer_policy(db, tmp_path, settings):
    """Claim 2: the console page /v1/web/ (a built index.html) gets the same headers."""
    (tmp_path / "index.html").write_bytes(b"<!doctype html><html><body><div id='app'></div></body></html>")
    settings.WEB_UI_DIST = str(tmp_path)
    page = Client().get("/v1/web/", secure=True)
    assert (page.status_code, page["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert page["Strict-Transport-Security"] == expected_hsts()
    assert page["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in Client().get("/v1/web/")


# --- claim 3: Argon2 upgrade on login ------------------------------------------------------------

def test_pbkdf2_hash_is_upgraded_to_argon2_on_successful_login(org):
    """Claim 3: a PBKDF2-hashed password still logs in, and afterwards the stored hash is Argon2."""
    user = org.member(org.a, password=make_password(DEFAULT_PASSWORD, hasher="pbkdf2_sha256"))
    assert user.password.startswith("pbkdf2_sha256$")

    login(user.username).expect(0)
    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    login(user.username).expect(0)  # the upgraded hash still accepts the same password


def test_wrong_password_does_not_upgrade_a_pbkdf2_hash(org):
    """Claim 3: a failed login leaves the stored PBKDF2 hash exactly as it was."""
    stored = make_password(DEFAULT_PASSWORD, hasher="pbkdf2_sha256")
    user = org.member(org.a, password=stored)

    login(user.username, "not-the-password").expect(4010)
    user.refresh_from_db()
    assert user.password == stored
