"""auth.AuthService and the Bearer-metadata check every other call goes through."""
from __future__ import annotations

import time
from dataclasses import replace

import grpc
import jwt
import pytest
from django.conf import settings as django_settings

from apps.accounts.models import AuditLog
from conftest import Api
from djs_platform import tokens
from rpc.generated import auth_pb2, data_pb2, scheduler_pb2
from rpc.tests.conftest import Rpc, fails, trailer
from tests.factories import DEFAULT_PASSWORD, TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


def login(rpc, username: str, password: str = DEFAULT_PASSWORD, **kw) -> auth_pb2.AuthenticateResponse:
    return rpc(**kw).auth.Authenticate(auth_pb2.AuthenticateRequest(username=username, password=password))


# --- Bearer metadata ---------------------------------------------------------------------------------

def _protected(client):
    return client.data.GetDepartmentList(data_pb2.DepartmentListRequest())


@pytest.mark.parametrize("metadata, message", [
    ([], "missing authorization metadata: send 'authorization: Bearer <token>'"),
    ([("authorization", "Basic dXNlcjpwYXNz")], "malformed authorization metadata: use 'Bearer <token>'"),
    ([("authorization", "Bearer")], "malformed authorization metadata: use 'Bearer <token>'"),
    ([("authorization", "Bearer a b")], "malformed authorization metadata: use 'Bearer <token>'"),
    ([("authorization", "Bearer not.a.jwt")], "token invalid"),
])
def test_calls_without_a_usable_token_are_unauthenticated(rpc, org, metadata, message):
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(rpc(metadata=metadata)))
    assert err.details() == message
    assert trailer(err, "djs-code") == "4010"


def test_every_method_but_the_three_public_auth_methods_needs_the_token(rpc, org):
    """Authenticate, ValidateToken and RefreshToken carry their token in the request (issue 18)."""
    anonymous = rpc()
    calls = [
        lambda: anonymous.scheduler.ScheduleTask(scheduler_pb2.ScheduleTaskRequest()),
        lambda: anonymous.scheduler.BatchScheduleTasks(scheduler_pb2.BatchScheduleTasksRequest()),
        lambda: anonymous.scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=1)),
        lambda: anonymous.scheduler.KillTask(scheduler_pb2.TaskRequest(task_id=1)),
        lambda: anonymous.auth.GetUserPermissions(auth_pb2.UserPermissionsRequest()),
        lambda: anonymous.data.GetTaskHistory(data_pb2.TaskHistoryRequest()),
        lambda: anonymous.data.GetUserList(data_pb2.UserListRequest()),
        lambda: anonymous.data.GetTaskStatistics(data_pb2.TaskStatisticsRequest()),
    ]
    for call in calls:
        fails(grpc.StatusCode.UNAUTHENTICATED, call)
    assert not AuditLog.objects.exists()


def test_expired_token_is_unauthenticated(rpc, org):
    token = tokens.issue_pair(org.admin).access
    claims = jwt.decode(token, options={"verify_signature": False})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 5}, django_settings.SIMPLE_JWT["SIGNING_KEY"],
                         algorithm="HS256")
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(rpc(token=expired)))
    assert err.details() == "token expired"


def test_refresh_token_is_not_an_access_token(rpc, org):
    refresh = tokens.issue_pair(org.admin).refresh
    fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(rpc(token=refresh)))


def test_revoked_token_fails_at_once(rpc, org):
    user = org.member(org.a)
    client = rpc(user)
    assert _protected(client).success
    time.sleep(0.01)
    Api(user, token=client.token).post("auth/logout", {}).expect(0)  # logout through REST
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(client))
    assert err.details() == "token revoked"


def test_disabled_user_token_fails(rpc, org):
    user = org.member(org.a)
    client = rpc(user)
    user.status = 0
    user.save()
    assert fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(client)).details() == "account disabled"


# --- Authenticate ------------------------------------------------------------------------------------

def test_authenticate_returns_tokens_that_work_for_other_calls(rpc, org):
    user = org.member(org.a1, {"task:view"})
    reply = login(rpc, user.username)
    assert reply.success and reply.message == "login successful"
    assert reply.expires_in == int(django_settings.DJS_AUTH.access_token_lifetime.total_seconds())
    info = reply.user_info
    assert (info.user_id, info.username, info.real_name, info.department_id, info.department_name, info.role_id,
            info.role_name) == (user.pk, user.username, user.real_name, org.a1.pk, "A1", user.role_id, user.role.name)
    departments = rpc(token=reply.access_token).data.GetDepartmentList(data_pb2.DepartmentListRequest())
    assert [d.name for d in departments.departments] == ["A1"]
    row = AuditLog.objects.get(action="auth.login")
    assert (row.user_id, row.via, row.client_ip) == (user.pk, "grpc", "127.0.0.1")


def test_authenticate_user_agent_lands_in_the_audit_log(rpc_server, org):
    user = org.member(org.a)
    with grpc.insecure_channel(rpc_server.target, options=[("grpc.primary_user_agent", "djs-client/1.0")]) as chan:
        Rpc(chan).auth.Authenticate(auth_pb2.AuthenticateRequest(username=user.username, password=DEFAULT_PASSWORD))
    assert AuditLog.objects.get(action="auth.login").user_agent.startswith("djs-client/1.0 grpc-python/")


def test_wrong_password_and_unknown_user_look_the_same(rpc, org):
    user = org.member(org.a)
    wrong = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: login(rpc, user.username, "Wrong-password-1"))
    unknown = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: login(rpc, "nobody-here", "Wrong-password-1"))
    assert wrong.details() == unknown.details() == "invalid username or password"
    assert AuditLog.objects.filter(action="auth.login_failed", via="grpc").count() == 2


def test_disabled_user_cannot_authenticate(rpc, org):
    user = org.member(org.a, status=0)
    assert fails(grpc.StatusCode.UNAUTHENTICATED, lambda: login(rpc, user.username)).details() == "account disabled"


@pytest.mark.parametrize("username, password, field", [("", "x", "username"), ("x", "", "password"),
                                                       ("x" * 51, "y", "username")])
def test_authenticate_with_bad_input_is_invalid_argument(rpc, org, username, password, field):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: login(rpc, username, password))
    assert err.details().startswith(f"{field}: ")


def test_repeated_failures_lock_the_account(rpc, org, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, login_max_failures=3)
    user = org.member(org.a)
    for _ in range(3):
        fails(grpc.StatusCode.UNAUTHENTICATED, lambda: login(rpc, user.username, "Wrong-password-1"))
    err = fails(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: login(rpc, user.username))
    assert trailer(err, "retry-after") == str(settings.DJS_AUTH.login_lockout_seconds)
    assert trailer(err, "djs-code") == "4029"


def test_login_attempts_are_rate_limited_per_address(rpc, org, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, login_rate_per_minute=2)
    users = [org.member(org.a) for _ in range(3)]
    login(rpc, users[0].username)
    login(rpc, users[1].username)
    fails(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: login(rpc, users[2].username))


# --- ValidateToken, RefreshToken ------------------------------------------------------------------------

def test_validate_token_answers_valid_or_not(rpc, org):
    user = org.member(org.a)
    caller = rpc(org.admin)
    good = caller.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=tokens.issue_pair(user).access))
    assert (good.valid, good.user_id, good.message) == (True, user.pk, "token valid")
    bad = caller.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token="garbage"))
    assert (bad.valid, bad.user_id, bad.message) == (False, 0, "token invalid")
    refresh = caller.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=tokens.issue_pair(user).refresh))
    assert not refresh.valid
    to_revoke = tokens.issue_pair(user).access
    time.sleep(0.01)
    tokens.revoke_user_tokens(user.pk)
    revoked = caller.auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=to_revoke))
    assert (revoked.valid, revoked.message) == (False, "token revoked")


def test_refresh_token_rotates_and_detects_reuse(rpc, org):
    user = org.member(org.a)
    session = login(rpc, user.username)
    client = rpc(token=session.access_token)
    rotated = client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.refresh_token))
    assert rotated.success and rotated.access_token and rotated.refresh_token != session.refresh_token
    assert rotated.expires_in > 0
    assert _protected(rpc(token=rotated.access_token)).success
    reuse = fails(grpc.StatusCode.UNAUTHENTICATED,
                  lambda: client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=session.refresh_token)))
    assert "already used" in reuse.details()
    # The whole login family is revoked: the rotated pair and the caller's own token die too.
    fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(rpc(token=rotated.access_token)))


def test_refresh_token_input_errors(rpc, org):
    client = rpc(org.admin)
    fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: client.auth.RefreshToken(auth_pb2.RefreshTokenRequest()))
    fails(grpc.StatusCode.UNAUTHENTICATED,
          lambda: client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token="garbage")))
    # an access token is no input error: it is exchanged once (apps/accounts/tests/test_sliding_refresh.py)
    access = tokens.issue_pair(org.admin).access
    assert client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=access)).refresh_token == ""


# --- GetUserPermissions ---------------------------------------------------------------------------------

def test_own_permissions_need_no_permission(rpc, org):
    user = org.member(org.a, {"task:view", "record:view"})
    for user_id in (0, user.pk):
        reply = rpc(user).auth.GetUserPermissions(auth_pb2.UserPermissionsRequest(user_id=user_id))
        assert (reply.success, list(reply.permissions)) == (True, ["record:view", "task:view"])


def test_permissions_of_others_need_user_manage_and_scope(rpc, org):
    manager = org.member(org.a, {"user:manage"})
    in_a1 = org.member(org.a1, {"task:view"})
    in_b = org.member(org.b, {"task:view"})
    reply = rpc(manager).auth.GetUserPermissions(auth_pb2.UserPermissionsRequest(user_id=in_a1.pk))
    assert list(reply.permissions) == ["task:view"]
    foreign = fails(grpc.StatusCode.NOT_FOUND,
                    lambda: rpc(manager).auth.GetUserPermissions(auth_pb2.UserPermissionsRequest(user_id=in_b.pk)))
    missing = fails(grpc.StatusCode.NOT_FOUND,
                    lambda: rpc(manager).auth.GetUserPermissions(auth_pb2.UserPermissionsRequest(user_id=10**12)))
    assert foreign.details() == missing.details() == "user not found"
    plain = org.member(org.a, {"task:view"})
    fails(grpc.StatusCode.PERMISSION_DENIED,
          lambda: rpc(plain).auth.GetUserPermissions(auth_pb2.UserPermissionsRequest(user_id=in_a1.pk)))
    fails(grpc.StatusCode.INVALID_ARGUMENT,
          lambda: rpc(plain).auth.GetUserPermissions(auth_pb2.UserPermissionsRequest(user_id=-1)))


def test_permissions_follow_role_changes_at_once(rpc, org):
    user = org.member(org.a, {"task:view"})
    client = rpc(user)
    assert list(client.auth.GetUserPermissions(auth_pb2.UserPermissionsRequest()).permissions) == ["task:view"]
    user.role.status = 0  # a disabled role grants nothing
    user.role.save()
    assert list(client.auth.GetUserPermissions(auth_pb2.UserPermissionsRequest()).permissions) == []
    task = TaskFactory(department=org.a, status=0)
    fails(grpc.StatusCode.PERMISSION_DENIED,
          lambda: client.scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=task.pk)))


# --- issue 16: rate limits, canonical sub, disabled department ------------------------------------------

def test_refresh_and_validate_are_rate_limited_per_user_and_per_address(rpc, org, settings, clock):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, refresh_per_user_per_minute=2,
                                refresh_per_address_per_minute=4, validate_per_user_per_minute=2,
                                validate_per_address_per_minute=4)
    user, other = org.member(org.a), org.member(org.a)
    session = login(rpc, user.username)
    client = rpc(token=session.access_token)
    refresh_token = session.refresh_token
    for _ in range(2):
        refresh_token = client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=refresh_token)).refresh_token
    err = fails(grpc.StatusCode.RESOURCE_EXHAUSTED,
                lambda: client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=refresh_token)))
    assert trailer(err, "djs-code") == "4029" and 0 < int(trailer(err, "retry-after")) <= 60
    other_session = login(rpc, other.username)
    rpc(token=other_session.access_token).auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=other_session.refresh_token))  # 4th from 127.0.0.1
    fails(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: rpc(token=other_session.access_token).auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=other_session.refresh_token)))  # the address's limit

    probe = auth_pb2.ValidateTokenRequest(token=tokens.issue_pair(other).access)
    validator = rpc(user)
    assert all(validator.auth.ValidateToken(probe).valid for _ in range(2))
    # ValidateToken is public (issue 18): per user the token names, and per address (refused calls count)
    fails(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: validator.auth.ValidateToken(probe))  # other's 3rd
    assert rpc(other).auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=session.access_token)).valid  # 4th
    fails(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: rpc(org.admin).auth.ValidateToken(probe))  # per address

    clock.advance(61)  # windows are one minute; a refused refresh did not spend its token
    assert client.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=refresh_token)).success
    assert validator.auth.ValidateToken(probe).valid


def test_a_token_with_a_non_canonical_sub_is_unauthenticated(rpc, org):
    user = org.member(org.a)
    claims = jwt.decode(tokens.issue_pair(user).access, options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": f"0{user.pk}"}, django_settings.SIMPLE_JWT["SIGNING_KEY"],
                        algorithm="HS256")
    time.sleep(0.01)
    tokens.revoke_user_tokens(user.pk)  # logout of the user the forged sub names
    assert fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(rpc(token=forged))).details() == "token invalid"
    answer = rpc(org.admin).auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=forged))
    assert (answer.valid, answer.message) == (False, "token invalid")


def test_a_disabled_department_shuts_its_users_out_of_grpc(rpc, org):
    user = org.member(org.a1, {"task:view"})
    session = login(rpc, user.username)
    org.a.status = 0  # an ancestor of the user's department
    org.a.save()
    client = rpc(token=session.access_token)
    assert fails(grpc.StatusCode.UNAUTHENTICATED, lambda: _protected(client)).details() == "department disabled"
    assert fails(grpc.StatusCode.UNAUTHENTICATED, lambda: login(rpc, user.username)).details() == \
        "department disabled"
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: rpc(org.admin).auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=session.refresh_token)))
    assert err.details() == "department disabled"
    answer = rpc(org.admin).auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=session.access_token))
    assert (answer.valid, answer.message) == (False, "department disabled")
    org.a.status = 1
    org.a.save()
    assert _protected(client).success
