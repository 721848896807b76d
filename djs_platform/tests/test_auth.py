"""Login, refresh rotation with reuse detection, logout, userinfo, throttling and token validation."""
from __future__ import annotations

import time
from dataclasses import replace

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from apps.accounts.models import AuditLog
from conftest import Api
from tests.factories import DEFAULT_PASSWORD


def login(username: str, password: str = DEFAULT_PASSWORD, **extra):
    return Api().post("auth/login", {"username": username, "password": password}, **extra)


def test_login_returns_token_pair_and_user(org):
    user = org.member(org.a, {"task:view"})
    data = login(user.username).expect(0).data
    assert set(data) == {"token", "refreshToken", "expiresIn", "tokenType", "user"}
    assert data["expiresIn"] == int(settings.DJS_AUTH.access_token_lifetime.total_seconds())
    assert data["user"]["username"] == user.username
    assert data["user"]["departmentName"] == "A"
    assert data["user"]["permissions"] == ["task:view"]
    assert "password" not in data["user"]
    Api(token=data["token"]).get("auth/userinfo").expect(0)


def test_access_token_carries_a_small_claim_set(org):
    token = login(org.member(org.a).username).expect(0).data["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"typ", "exp", "iat", "jti", "sub", "fid", "fxp", "iss"}  # fxp: the family's end


def test_wrong_password_and_unknown_user_look_the_same(org):
    user = org.member(org.a)
    wrong = login(user.username, "not-the-password").expect(4010)
    unknown = login("nobody-here", "not-the-password").expect(4010)
    assert wrong.message == unknown.message == "invalid username or password"
    assert AuditLog.objects.filter(action="auth.login_failed").count() == 2


def test_disabled_user_cannot_log_in(org):
    user = org.member(org.a, status=0)
    assert login(user.username).expect(4010).message == "account disabled"


def test_userinfo_lists_permissions_of_enabled_role_only(org):
    user = org.member(org.a, {"task:view", "record:view"})
    assert Api(user).get("auth/userinfo").expect(0).data["permissions"] == ["record:view", "task:view"]
    user.role.status = 0
    user.role.save()
    assert Api(user).get("auth/userinfo").expect(0).data["permissions"] == []


def test_refresh_rotates_the_pair(org):
    first = login(org.member(org.a).username).expect(0).data
    second = Api().post("auth/refresh", {"refreshToken": first["refreshToken"]}).expect(0).data
    assert second["refreshToken"] != first["refreshToken"] and second["token"] != first["token"]
    Api(token=second["token"]).get("auth/userinfo").expect(0)
    third = Api().post("auth/refresh", {"refreshToken": second["refreshToken"]}).expect(0).data
    Api(token=third["token"]).get("auth/userinfo").expect(0)


def test_refresh_token_reuse_revokes_the_whole_family(org):
    user = org.member(org.a)
    stolen = login(user.username).expect(0).data
    rotated = Api().post("auth/refresh", {"refreshToken": stolen["refreshToken"]}).expect(0).data
    reuse = Api().post("auth/refresh", {"refreshToken": stolen["refreshToken"]}).expect(4010)
    assert "already used" in reuse.message
    # Every token of the family is dead now: the owner's rotated pair too.
    Api(token=rotated["token"]).get("auth/userinfo").expect(4010)
    Api().post("auth/refresh", {"refreshToken": rotated["refreshToken"]}).expect(4010)
    # Another login (another family) is unaffected.
    other = login(user.username).expect(0).data
    Api(token=other["token"]).get("auth/userinfo").expect(0)


def test_access_token_is_not_a_refresh_token(org):
    pair = login(org.member(org.a).username).expect(0).data
    Api().post("auth/refresh", {"refreshToken": pair["token"]}).expect(4010)
    Api(token=pair["refreshToken"]).get("auth/userinfo").expect(4010)


def test_logout_revokes_every_token_of_the_user(org):
    user = org.member(org.a)
    session1 = login(user.username).expect(0).data
    session2 = login(user.username).expect(0).data
    time.sleep(0.01)
    Api(token=session1["token"]).post("auth/logout", {}).expect(0)
    for session in (session1, session2):
        Api(token=session["token"]).get("auth/userinfo").expect(4010)
        Api().post("auth/refresh", {"refreshToken": session["refreshToken"]}).expect(4010)
    fresh = login(user.username).expect(0).data
    Api(token=fresh["token"]).get("auth/userinfo").expect(0)
    assert AuditLog.objects.filter(action="auth.logout", user_id=user.pk).exists()


def test_tokens_of_a_deleted_user_fail(org, admin_api):
    user = org.member(org.a, {"task:view"})
    api = Api(user)
    admin_api.delete(f"users/{user.pk}").expect(0)
    api.get("auth/userinfo").expect(4010)


@pytest.mark.parametrize("mutate", ["alg_none", "other_key", "tampered_sub", "expired", "garbage", "no_iss"])
def test_forged_tokens_are_refused(org, mutate):
    user = org.member(org.a)
    admin = org.admin
    token = login(user.username).expect(0).data["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    key = settings.SIMPLE_JWT["SIGNING_KEY"]
    if mutate == "alg_none":
        forged = jwt.encode({**claims, "sub": str(admin.pk)}, key=None, algorithm="none")
    elif mutate == "other_key":
        forged = jwt.encode(claims, "another-key-that-is-long-enough-for-hs256!", algorithm="HS256")
    elif mutate == "tampered_sub":
        header, payload, signature = token.split(".")
        other = jwt.encode({**claims, "sub": str(admin.pk)}, "x" * 32, algorithm="HS256").split(".")[1]
        forged = ".".join([header, other, signature])
    elif mutate == "expired":
        forged = jwt.encode({**claims, "exp": int(time.time()) - 5}, key, algorithm="HS256")
    elif mutate == "no_iss":
        forged = jwt.encode({k: v for k, v in claims.items() if k != "iss"}, key, algorithm="HS256")
    else:
        forged = "not.a.jwt"
    reply = Api(token=forged).get("auth/userinfo").expect(4010)
    if mutate == "expired":
        assert reply.message == "token expired"


@override_settings(DJS_AUTH=replace(settings.DJS_AUTH, login_max_failures=3))
def test_repeated_failures_lock_the_username(org):
    user = org.member(org.a)
    for _ in range(3):
        login(user.username, "wrong-password", REMOTE_ADDR="10.0.0.1").expect(4010)
    # Locked even with the right password, and from another address.
    reply = login(user.username, REMOTE_ADDR="10.0.0.2").expect(4029)
    assert reply.response["Retry-After"] == str(settings.DJS_AUTH.login_lockout_seconds)
    # Other usernames are unaffected.
    login(org.member(org.a).username, REMOTE_ADDR="10.0.0.2").expect(0)


@override_settings(DJS_AUTH=replace(settings.DJS_AUTH, login_rate_per_minute=4))
def test_login_attempts_are_rate_limited_per_address(org):
    users = [org.member(org.a) for _ in range(5)]
    for user in users[:4]:
        login(user.username, REMOTE_ADDR="10.9.9.9").expect(0)
    login(users[4].username, REMOTE_ADDR="10.9.9.9").expect(4029)
    login(users[4].username, REMOTE_ADDR="10.9.9.8").expect(0)


def test_successful_login_resets_the_failure_count(org):
    user = org.member(org.a)
    limit = settings.DJS_AUTH.login_max_failures
    for _ in range(limit - 1):
        login(user.username, "wrong-password").expect(4010)
    login(user.username).expect(0)
    for _ in range(limit - 1):
        login(user.username, "wrong-password").expect(4010)
    login(user.username).expect(0)


@pytest.mark.parametrize("body", [{}, {"username": "x"}, {"username": 5, "password": "x"},
                                  {"username": "x", "password": "y", "extra": 1}, {"username": "x" * 51, "password": "y"}])
def test_login_with_bad_input_answers_4001(db, body):
    Api().post("auth/login", body).expect(4001)


def test_logout_requires_authentication(db):
    Api().post("auth/logout", {}).expect(4010)


@pytest.mark.parametrize("route", ["auth/refresh", "auth/logout"])
def test_overlong_refresh_token_is_refused_even_with_trailing_blanks(org, route):
    """Found by `make fuzz`: 4,096 characters plus blanks were trimmed to fit the limit and accepted."""
    from conftest import Api

    reply = Api(org.admin).post(route, {"refreshToken": "x" * 4096 + "  "}).expect(4001)
    assert "refreshToken" in reply.data["fields"]
