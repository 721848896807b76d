"""Token state (issue 16, findings 4, 11 and the JWT ``sub`` / disabled-department decisions).

Revocations, refresh-use marks and throttle counters live in the ``token_state`` table without Redis and in
Redis with it, never in Django's database cache; windows are exactly what the configuration says (a settable
clock, :func:`djs_platform.token_state.clock`, stands in for waiting); refresh is rate-limited; a
non-canonical ``sub`` is refused; a disabled department (or ancestor) shuts its users out.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace

import jwt
import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from conftest import Api
from djs_platform import tokens
from djs_platform.config import BASE_DIR
from tests.factories import DEFAULT_PASSWORD


def login(username: str, password: str = DEFAULT_PASSWORD, **extra):
    return Api().post("auth/login", {"username": username, "password": password}, **extra)


def refresh(refresh_token: str, **extra):
    return Api().post("auth/refresh", {"refreshToken": refresh_token}, **extra)


# --- finding 4: revocations never live in the database cache --------------------------------------------

def test_a_logged_out_token_stays_revoked_when_chained_refreshes_fill_the_cache(org, settings, monkeypatch):
    """The probe filled the database cache (MAX_ENTRIES) with chained refreshes; its cull dropped the
    alphabetically first third, every ``rev:`` key among them, and the logged-out token answered 200 again.
    Here the cache is shrunk so that a few dozen refreshes fill it."""
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_per_user_per_minute=1000,
                                refresh_per_address_per_minute=1000)
    victim = org.member(org.a)
    session = login(victim.username).expect(0).data
    time.sleep(0.01)
    Api(token=session["token"]).post("auth/logout", {}).expect(0)
    Api(token=session["token"]).get("auth/userinfo").expect(4010)

    backend = caches["default"]
    if hasattr(backend, "_max_entries"):  # the database cache (no redis.url): cull after 30 entries
        monkeypatch.setattr(backend, "_max_entries", 30)
    chain = login(org.member(org.b).username).expect(0).data["refreshToken"]
    for _ in range(60):
        chain = refresh(chain).expect(0).data["refreshToken"]

    assert Api(token=session["token"]).get("auth/userinfo").expect(4010).message == "token revoked"
    refresh(session["refreshToken"]).expect(4010)


def test_expired_token_state_rows_are_ignored_at_once_and_deleted_within_the_hour(db, clock, settings,
                                                                                  monkeypatch):
    """Without Redis: an expired row no longer counts; the first write after an hour deletes expired rows."""
    from apps.accounts.models import TokenState
    from djs_platform import token_state

    # the token_state table, on either database backend
    settings.DJS_REDIS = replace(settings.DJS_REDIS, url="")
    monkeypatch.setattr(token_state.DatabaseStore, "_next_purge", 0.0)  # a process that has not purged yet
    store = token_state.store()
    store.set("probe:short", 1, 10)
    store.set("probe:long", 1, 7200)
    assert set(store.get_many(["probe:short", "probe:long"])) == {"probe:short", "probe:long"}
    clock.advance(11)
    assert set(store.get_many(["probe:short", "probe:long"])) == {"probe:long"}
    assert store.add("probe:short", 2, 10)  # an expired mark is as good as none
    clock.advance(3601)
    store.set("probe:other", 1, 60)  # any write runs the hourly purge
    assert sorted(TokenState.objects.values_list("key", flat=True)) == ["probe:long", "probe:other"]


def test_refresh_is_rate_limited_per_user_and_per_address(org, clock, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_per_user_per_minute=3,
                                refresh_per_address_per_minute=5)
    user, other = org.member(org.a), org.member(org.a)
    token = login(user.username).expect(0).data["refreshToken"]
    for _ in range(3):
        token = refresh(token, REMOTE_ADDR="10.1.1.1").expect(0).data["refreshToken"]
    limited = refresh(token, REMOTE_ADDR="10.1.1.2").expect(4029)  # the user's limit, from any address
    assert 0 < int(limited.response["Retry-After"]) <= 60
    other_token = login(other.username).expect(0).data["refreshToken"]
    for _ in range(2):  # the address 10.1.1.1 has answered 3 of its 5
        other_token = refresh(other_token, REMOTE_ADDR="10.1.1.1").expect(0).data["refreshToken"]
    refresh(other_token, REMOTE_ADDR="10.1.1.1").expect(4029)
    refresh(other_token, REMOTE_ADDR="10.1.1.3").expect(0)
    # A refused refresh did not spend the token: it works once the window has passed.
    clock.advance(61)
    refresh(token, REMOTE_ADDR="10.1.1.2").expect(0)


# --- finding 11: windows are what the configuration says ------------------------------------------------

def test_login_lockout_lasts_login_lockout_seconds_not_the_cache_default(org, clock, settings):
    """The database cache's ``incr`` reset the TTL to its 300 s default: a 3600 s lockout ended after 300 s
    while ``Retry-After: 3600`` was sent."""
    settings.DJS_AUTH = replace(settings.DJS_AUTH, login_max_failures=3, login_lockout_seconds=3600)
    user = org.member(org.a)
    for _ in range(3):
        login(user.username, "wrong-password").expect(4010)
    assert login(user.username).expect(4029).response["Retry-After"] == "3600"
    clock.advance(301)
    reply = login(user.username).expect(4029)
    assert reply.response["Retry-After"] == str(3600 - 301)
    clock.advance(3600 - 301 - 1)
    login(user.username).expect(4029)
    clock.advance(2)
    login(user.username).expect(0)


def test_login_rate_window_is_one_minute_and_refused_attempts_do_not_extend_it(org, clock, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, login_rate_per_minute=3)
    user = org.member(org.a)
    for _ in range(3):
        login(user.username, REMOTE_ADDR="10.7.7.7").expect(0)
    clock.advance(30)
    login(user.username, REMOTE_ADDR="10.7.7.7").expect(4029)
    clock.advance(29)
    login(user.username, REMOTE_ADDR="10.7.7.7").expect(4029)
    clock.advance(2)  # 61 s after the window opened, however many refused attempts came in between
    login(user.username, REMOTE_ADDR="10.7.7.7").expect(0)


# --- JWT sub ---------------------------------------------------------------------------------------------

NON_CANONICAL_SUBS = {
    "leading zero": lambda pk: f"0{pk}",
    "plus sign": lambda pk: f"+{pk}",
    "blank": lambda pk: f" {pk}",
    "underscore": lambda pk: f"0_{pk}",  # int("0_7") == 7
    "decimal": lambda pk: f"{pk}.0",
    "number": lambda pk: pk,
}


@pytest.mark.parametrize("form", sorted(NON_CANONICAL_SUBS))
def test_a_token_with_a_non_canonical_sub_is_refused(org, form):
    """A ``sub`` of ``"01"`` was read as user 1 while the revocation key used the raw string, so logging user 1
    out did not revoke it. Only the canonical decimal string is a user id."""
    user = org.member(org.a)
    claims = jwt.decode(tokens.issue_pair(user).access, options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": NON_CANONICAL_SUBS[form](user.pk)},
                        django_settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    time.sleep(0.01)
    Api(token=tokens.issue_pair(user).access).post("auth/logout", {}).expect(0)
    assert Api(token=forged).get("auth/userinfo").expect(4010).message == "token invalid"


# --- disabled department ---------------------------------------------------------------------------------

@pytest.mark.parametrize("disabled", ["own", "ancestor"])
def test_users_of_a_disabled_department_cannot_log_in_refresh_or_use_tokens(org, disabled):
    user = org.member(org.a1, {"task:view"})
    session = login(user.username).expect(0).data
    department = org.a1 if disabled == "own" else org.a
    department.status = 0
    department.save()
    assert login(user.username).expect(4010).message == "department disabled"
    assert Api(token=session["token"]).get("auth/userinfo").expect(4010).message == "department disabled"
    assert refresh(session["refreshToken"]).expect(4010).message == "department disabled"
    # A wrong password still answers like any wrong password (the department's state is not an oracle).
    assert login(user.username, "wrong-password").expect(4010).message == "invalid username or password"
    department.status = 1
    department.save()
    login(user.username).expect(0)
    org.member(org.b)  # other departments were never affected
    login(org.member(org.b).username).expect(0)


# --- Redis: start-up refuses an evicting maxmemory-policy -----------------------------------------------

def _manage_check(redis_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    env.update({"DJS_DEBUG": "true", "DJS_REDIS_URL": redis_url,
                "DJS_DATABASE_URL": f"sqlite:///{tmp_path}/check.sqlite3"})
    return subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=BASE_DIR, capture_output=True,
                          text=True, timeout=120)


def test_start_up_refuses_a_redis_whose_maxmemory_policy_evicts_keys(tmp_path):
    from scripts import services

    with services.redis(base_dir=str(tmp_path)) as redis:
        assert _manage_check(redis.url, tmp_path).returncode == 0  # noeviction, Redis's default
        for policy in ("allkeys-lru", "volatile-ttl"):
            assert services.redis_command(redis.port, "CONFIG", "SET", "maxmemory-policy", policy) == b"+OK"
            result = _manage_check(redis.url, tmp_path)
            assert result.returncode != 0
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith("error: ") and f"maxmemory-policy is {policy}" in lines[0], lines
            assert "noeviction" in lines[0]
