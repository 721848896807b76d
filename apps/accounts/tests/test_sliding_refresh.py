"""Sliding token refresh (issue 18, item 1; DESIGN §14.4) and the public gRPC token methods (item 2).

The seed documents ``POST /auth/refresh`` with only ``Authorization: Bearer <access token>`` and answers
``{token}``; DJS answered 400 (``refreshToken`` required). Now an access token can be exchanged once for a new
one in the same login family, never living past the family's end; a second exchange of the same token revokes
the family. ``{refreshToken}`` in the body keeps the rotation. Over gRPC, ValidateToken and RefreshToken need no
``authorization`` metadata (the token is in the request), and RefreshToken takes an access token the same way.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import grpc
import jwt
import pytest
from django.conf import settings as django_settings

from apps.accounts.models import AuditLog, User
from conftest import Api
from djs_platform import tokens
from rpc.generated import auth_pb2, data_pb2
from rpc.tests.conftest import channel, fails, rpc, rpc_server, trailer  # noqa: F401 - the real gRPC server
from tests.factories import DEFAULT_PASSWORD


def login(username: str, **extra) -> dict:
    return Api().post("auth/login", {"username": username, "password": DEFAULT_PASSWORD}, **extra).expect(0).data


def slide(access: str, **extra):
    """``POST /v1/auth/refresh`` with the header only and no body, as the seed's client sends it."""
    return Api(token=access).call("POST", "auth/refresh", **extra)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(token: str, **changes) -> str:
    return jwt.encode({**claims(token), **changes}, django_settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


# --- REST: the header-only exchange -------------------------------------------------------------------

def test_refresh_with_only_the_access_token_header_answers_a_new_token_in_the_same_family(org):
    session = login(org.member(org.a).username)
    data = slide(session["token"]).expect(0).data
    assert set(data) == {"token", "expiresIn"}
    assert data["expiresIn"] == int(django_settings.DJS_AUTH.access_token_lifetime.total_seconds())
    old, new = claims(session["token"]), claims(data["token"])
    assert new["typ"] == "access" and new["fid"] == old["fid"] and new["sub"] == old["sub"]
    assert new["jti"] != old["jti"]
    assert Api(token=data["token"]).get("auth/userinfo").expect(0).data["id"] == int(old["sub"])


def test_an_empty_json_object_with_the_header_is_the_same_exchange(org):
    session = login(org.member(org.a).username)
    data = Api(token=session["token"]).post("auth/refresh", {}).expect(0).data
    assert set(data) == {"token", "expiresIn"}


def test_a_new_token_can_itself_be_exchanged_once(org):
    session = login(org.member(org.a).username)
    second = slide(session["token"]).expect(0).data["token"]
    third = slide(second).expect(0).data["token"]
    assert len({claims(t)["jti"] for t in (session["token"], second, third)}) == 3
    assert {claims(t)["fid"] for t in (session["token"], second, third)} == {claims(session["token"])["fid"]}
    Api(token=third).get("auth/userinfo").expect(0)


def test_the_exchanged_token_keeps_working_until_it_expires(org):
    """Requests already in flight with the old token must not fail because another one refreshed."""
    session = login(org.member(org.a).username)
    slide(session["token"]).expect(0)
    Api(token=session["token"]).get("auth/userinfo").expect(0)


def test_a_second_exchange_of_the_same_token_revokes_the_whole_family(org):
    user = org.member(org.a)
    session = login(user.username)
    renewed = slide(session["token"]).expect(0).data["token"]
    reuse = slide(session["token"]).expect(4010)
    assert reuse.message == "access token already exchanged; session revoked"
    # Every token of the family is dead: the one the first exchange gave, the original, the refresh token.
    Api(token=renewed).get("auth/userinfo").expect(4010)
    Api(token=session["token"]).get("auth/userinfo").expect(4010)
    assert Api().post("auth/refresh", {"refreshToken": session["refreshToken"]}).expect(4010).message == \
        "token revoked"
    slide(renewed).expect(4010)
    # Another login is another family.
    other = login(user.username)
    Api(token=other["token"]).get("auth/userinfo").expect(0)


def test_the_new_token_never_outlives_the_family(org, settings):
    """Lifetime = min(auth.jwtExpireHours, the family's end at auth.refreshExpireHours after the login)."""
    settings.DJS_AUTH = replace(settings.DJS_AUTH, access_token_lifetime=timedelta(hours=24))
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_token_lifetime=timedelta(hours=1))
    session = login(org.member(org.a).username)
    family_end = claims(session["refreshToken"])["exp"]
    data = slide(session["token"]).expect(0).data
    assert claims(data["token"])["exp"] == family_end
    assert 3590 <= data["expiresIn"] <= 3600
    # and every later exchange of the family is capped by the same end
    later = slide(data["token"]).expect(0).data
    assert claims(later["token"])["exp"] == family_end and later["expiresIn"] <= data["expiresIn"]


def test_the_new_token_lives_jwt_expire_hours_when_the_family_lasts_longer(org, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, access_token_lifetime=timedelta(hours=2))
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_token_lifetime=timedelta(hours=168))
    session = login(org.member(org.a).username)
    before = int(time.time())
    data = slide(session["token"]).expect(0).data
    assert data["expiresIn"] == 7200
    assert before + 7200 <= claims(data["token"])["exp"] <= int(time.time()) + 7200


def test_a_family_past_its_end_cannot_be_extended(org):
    session = login(org.member(org.a).username)
    ended = forge(session["token"], fxp=int(time.time()) - 1)
    reply = slide(ended).expect(4010)
    assert reply.message == "session expired: log in again"


def test_a_token_of_a_family_with_no_recorded_end_ends_a_refresh_lifetime_after_it_was_issued(org, settings):
    """Tokens issued before the family end was recorded (no ``fxp``) count it from their own ``iat``."""
    settings.DJS_AUTH = replace(settings.DJS_AUTH, access_token_lifetime=timedelta(hours=24))
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_token_lifetime=timedelta(hours=1))
    session = login(org.member(org.a).username)
    legacy_claims = {k: v for k, v in claims(session["token"]).items() if k != "fxp"}
    legacy = jwt.encode(legacy_claims, django_settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    data = slide(legacy).expect(0).data
    assert claims(data["token"])["exp"] == int(legacy_claims["iat"] + 3600)


# --- REST: what is refused ----------------------------------------------------------------------------

def test_a_refresh_token_in_the_header_is_4010_and_spends_nothing(org):
    session = login(org.member(org.a).username)
    assert slide(session["refreshToken"]).expect(4010).message == "token invalid"
    Api().post("auth/refresh", {"refreshToken": session["refreshToken"]}).expect(0)  # still unspent


def test_a_revoked_token_in_the_header_is_4010(org):
    session = login(org.member(org.a).username)
    time.sleep(0.01)
    Api(token=session["token"]).post("auth/logout", {}).expect(0)
    assert slide(session["token"]).expect(4010).message == "token revoked"


def test_an_expired_token_in_the_header_is_4010(org):
    session = login(org.member(org.a).username)
    assert slide(forge(session["token"], exp=int(time.time()) - 5)).expect(4010).message == "token expired"


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"])
def test_a_malformed_or_garbage_header_is_4010(db, header):
    reply = Api().call("POST", "auth/refresh", HTTP_AUTHORIZATION=header).expect(4010)
    assert reply.message in ("token invalid", "malformed Authorization header: use 'Bearer <token>'")


def test_a_disabled_user_cannot_exchange(org):
    user = org.member(org.a)
    session = login(user.username)
    User.objects.filter(pk=user.pk).update(status=0)
    assert slide(session["token"]).expect(4010).message == "account disabled"


def test_no_body_and_no_header_is_4001_naming_refresh_token(db):
    reply = Api().call("POST", "auth/refresh").expect(4001)
    assert "refreshToken" in reply.data["fields"]


def test_a_refresh_token_in_the_body_keeps_the_rotation_whatever_the_header(org):
    session = login(org.member(org.a).username)
    data = Api(token=session["token"]).post("auth/refresh", {"refreshToken": session["refreshToken"]}).expect(0).data
    assert set(data) == {"token", "refreshToken", "expiresIn", "tokenType", "user"}
    # The header was not exchanged: the access token can still slide once.
    slide(session["token"]).expect(0)


@pytest.mark.parametrize("body", [{"refreshToken": ""}, {"refreshToken": 5}, {"token": "x"}])
def test_bad_bodies_are_4001_and_spend_nothing(org, body):
    session = login(org.member(org.a).username)
    Api(token=session["token"]).post("auth/refresh", body).expect(4001)
    slide(session["token"]).expect(0)


def test_the_refresh_rate_limits_apply_and_a_refused_exchange_spends_nothing(org, clock, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_per_user_per_minute=2,
                                refresh_per_address_per_minute=3)
    user, other = org.member(org.a), org.member(org.a)
    token = login(user.username)["token"]
    for _ in range(2):
        token = slide(token, REMOTE_ADDR="10.2.2.1").expect(0).data["token"]
    limited = slide(token, REMOTE_ADDR="10.2.2.2").expect(4029)  # the user's limit, from any address
    assert 0 < int(limited.response["Retry-After"]) <= 60
    other_token = login(other.username)["token"]
    slide(other_token, REMOTE_ADDR="10.2.2.1").expect(0)  # 3rd from 10.2.2.1
    assert slide(login(other.username)["token"], REMOTE_ADDR="10.2.2.1").expect(4029).message == \
        "too many token refreshes from this address; retry later"
    clock.advance(61)
    slide(token, REMOTE_ADDR="10.2.2.2").expect(0)  # the refused call did not spend it


# --- gRPC: ValidateToken and RefreshToken without metadata ----------------------------------------------

grpc_db = pytest.mark.django_db(transaction=True)


def authenticate(rpc, username: str) -> auth_pb2.AuthenticateResponse:
    return rpc().auth.Authenticate(auth_pb2.AuthenticateRequest(username=username, password=DEFAULT_PASSWORD))


@grpc_db
def test_validate_token_needs_no_metadata(rpc, org):
    user = org.member(org.a)
    session = authenticate(rpc, user.username)
    anonymous = rpc()
    good = anonymous.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=session.access_token))
    assert (good.valid, good.user_id, good.message) == (True, user.pk, "token valid")
    bad = anonymous.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token="garbage"))
    assert (bad.valid, bad.user_id, bad.message) == (False, 0, "token invalid")
    refresh = anonymous.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=session.refresh_token))
    assert (refresh.valid, refresh.message) == (False, "token invalid")


@grpc_db
def test_validate_token_ignores_whatever_metadata_comes_along(rpc, org):
    user = org.member(org.a)
    token = tokens.issue_pair(user).access
    answer = rpc(token="not.a.jwt").auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=token))
    assert (answer.valid, answer.user_id) == (True, user.pk)


@grpc_db
def test_validate_token_is_rate_limited_per_address_and_per_token_subject(rpc, org, settings, clock):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, validate_per_user_per_minute=2,
                                validate_per_address_per_minute=4)
    alice, bob = org.member(org.a), org.member(org.a)
    anonymous = rpc()
    of_alice = auth_pb2.ValidateTokenRequest(token=tokens.issue_pair(alice).access)
    assert all(anonymous.auth.ValidateToken(of_alice).valid for _ in range(2))
    err = fails(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: anonymous.auth.ValidateToken(of_alice))  # alice's
    assert trailer(err, "djs-code") == "4029"
    # bob's token is another user's: the 4th call from the address still passes
    assert anonymous.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=tokens.issue_pair(bob).access)).valid
    fails(grpc.StatusCode.RESOURCE_EXHAUSTED,  # the address's 5th call, garbage or not
          lambda: anonymous.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token="garbage")))
    clock.advance(61)
    assert anonymous.auth.ValidateToken(of_alice).valid


@grpc_db
def test_refresh_token_rotates_a_refresh_token_without_metadata(rpc, org):
    session = authenticate(rpc, org.member(org.a).username)
    rotated = rpc().auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.refresh_token))
    assert rotated.success and rotated.refresh_token and rotated.refresh_token != session.refresh_token
    assert rpc(token=rotated.access_token).data.GetDepartmentList(data_pb2.DepartmentListRequest()).success


@grpc_db
def test_refresh_token_exchanges_an_access_token_once_without_metadata(rpc, org):
    user = org.member(org.a)
    session = authenticate(rpc, user.username)
    anonymous = rpc()
    renewed = anonymous.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.access_token))
    assert (renewed.success, renewed.refresh_token, renewed.message) == (True, "", "access token renewed")
    assert renewed.expires_in == int(django_settings.DJS_AUTH.access_token_lifetime.total_seconds())
    assert claims(renewed.access_token)["fid"] == claims(session.access_token)["fid"]
    assert rpc(token=renewed.access_token).data.GetDepartmentList(data_pb2.DepartmentListRequest()).success
    err = fails(grpc.StatusCode.UNAUTHENTICATED,
                lambda: anonymous.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.access_token)))
    assert err.details() == "access token already exchanged; session revoked" and trailer(err, "djs-code") == "4010"
    # the family is gone: the renewed token and the refresh token of the login
    fails(grpc.StatusCode.UNAUTHENTICATED,
          lambda: rpc(token=renewed.access_token).data.GetDepartmentList(data_pb2.DepartmentListRequest()))
    fails(grpc.StatusCode.UNAUTHENTICATED,
          lambda: anonymous.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.refresh_token)))


@grpc_db
def test_rest_and_grpc_share_the_one_exchange_of_a_token(rpc, org):
    session = login(org.member(org.a).username)
    slide(session["token"]).expect(0)
    fails(grpc.StatusCode.UNAUTHENTICATED,
          lambda: rpc().auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session["token"])))


@grpc_db
@pytest.mark.parametrize("token, code, details", [
    ("", grpc.StatusCode.INVALID_ARGUMENT, "refresh_token: required"),
    ("garbage", grpc.StatusCode.UNAUTHENTICATED, "token invalid"),
    ("x" * 5000, grpc.StatusCode.UNAUTHENTICATED, "token invalid"),
])
def test_refresh_token_bad_input(rpc, org, token, code, details):
    err = fails(code, lambda: rpc().auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=token)))
    assert err.details() == details


@grpc_db
def test_refresh_token_refuses_expired_and_revoked_access_tokens(rpc, org):
    user = org.member(org.a)
    session = authenticate(rpc, user.username)
    expired = forge(session.access_token, exp=int(time.time()) - 5)
    err = fails(grpc.StatusCode.UNAUTHENTICATED,
                lambda: rpc().auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=expired)))
    assert err.details() == "token expired"
    time.sleep(0.01)
    tokens.revoke_user_tokens(user.pk)
    err = fails(grpc.StatusCode.UNAUTHENTICATED,
                lambda: rpc().auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.access_token)))
    assert err.details() == "token revoked"


@grpc_db
def test_protected_methods_still_need_metadata(rpc, org):
    err = fails(grpc.StatusCode.UNAUTHENTICATED,
                lambda: rpc().auth.GetUserPermissions(auth_pb2.UserPermissionsRequest()))
    assert err.details() == "missing authorization metadata: send 'authorization: Bearer <token>'"
    assert not AuditLog.objects.exists()
