"""Seed conformance: a client written against ``seeds/004_*.txt`` works unchanged where the seed is explicit
(issue 18; DESIGN §14.4).

Each test replays calls as the seed documents them — the REST bodies and headers of its "API 文档" and the RPC
tables and ``auth.proto`` of its "RPC 服务 API" — and checks the fields the seed's responses show. Replays of the
other seed sections (the gRPC ScheduleTask sample, the default-data INSERTs, seed 001's schedule forms) join this
module as they are built. What still differs from the seed, and why, is listed in docs/api.md.

The seed's ``contextPath`` is ``/v1``: ``POST /auth/login`` is ``POST /v1/auth/login``.
"""
from __future__ import annotations

import jwt
import pytest
from django.contrib.auth.hashers import make_password

from apps.accounts.models import Role
from conftest import Api
from rpc.generated import auth_pb2, auth_pb2_grpc, data_pb2, data_pb2_grpc
from rpc.tests.conftest import CALL_TIMEOUT, channel, rpc_server  # noqa: F401 - the real gRPC server
from tests.factories import UserFactory

#: The seed's login sample (API 文档, 用户登录).
SEED_LOGIN = {"username": "admin", "password": "admin123"}
#: The ``user`` object of the seed's login response, and the extra fields of its ``/auth/userinfo`` response.
SEED_USER_FIELDS = {"id", "username", "realName", "departmentId", "departmentName", "roleId", "roleName"}
SEED_USERINFO_FIELDS = SEED_USER_FIELDS | {"email", "phone", "permissions"}


@pytest.fixture
def seed_admin(org):
    """The seed's default ``admin`` / ``admin123`` in the top department with the admin role (its INSERTs)."""
    return UserFactory(username=SEED_LOGIN["username"], password=make_password(SEED_LOGIN["password"]),
                       real_name="系统管理员", department=org.hq, role=Role.objects.get(name="admin"))


def bare(method):
    """A stub method called as the seed's client calls the auth service: no metadata at all."""
    return lambda request: method(request, timeout=CALL_TIMEOUT)


# --- REST: 用户认证 API ------------------------------------------------------------------------------------

def test_seed_login_then_refresh_with_the_authorization_header_only(seed_admin):
    # POST /auth/login, Content-Type: application/json, {"username": "admin", "password": "admin123"}
    login = Api().post("/v1/auth/login", SEED_LOGIN).expect(0)
    assert login.message == "success"
    assert isinstance(login.data["token"], str) and login.data["token"].count(".") == 2
    assert SEED_USER_FIELDS <= set(login.data["user"])
    assert (login.data["user"]["username"], login.data["user"]["realName"]) == ("admin", "系统管理员")

    # POST /auth/refresh, Authorization: Bearer <token> — no body
    refreshed = Api(token=login.data["token"]).call("POST", "/v1/auth/refresh").expect(0)
    assert refreshed.message == "success"
    token = refreshed.data["token"]
    assert token != login.data["token"]
    assert refreshed.data["expiresIn"] > 0

    # GET /auth/userinfo, Authorization: Bearer <token> — with the refreshed token
    info = Api(token=token).get("/v1/auth/userinfo").expect(0).data
    assert SEED_USERINFO_FIELDS <= set(info)
    assert info["id"] == login.data["user"]["id"] and "task:view" in info["permissions"]


def test_seed_client_refreshing_before_every_expiry_keeps_its_session(seed_admin):
    """The seed's client keeps only the latest token and refreshes it: each one is exchanged once."""
    token = Api().post("/v1/auth/login", SEED_LOGIN).expect(0).data["token"]
    for _ in range(3):
        token = Api(token=token).call("POST", "/v1/auth/refresh").expect(0).data["token"]
    Api(token=token).get("/v1/auth/userinfo").expect(0)


# --- gRPC: 用户认证 RPC 服务 (auth.proto) --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_seed_grpc_authenticate_validate_and_refresh_without_metadata(channel, seed_admin):  # noqa: F811
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    authenticate = bare(auth.Authenticate)
    validate = bare(auth.ValidateToken)
    refresh = bare(auth.RefreshToken)

    # Authenticate(username, password) -> token, user_id, success, message
    login = authenticate(auth_pb2.AuthenticateRequest(**SEED_LOGIN))
    assert login.success and login.message and login.access_token and login.refresh_token
    assert login.user_info.user_id == seed_admin.pk and login.user_info.username == "admin"

    # ValidateToken(token) -> valid, user_id
    checked = validate(auth_pb2.ValidateTokenRequest(token=login.access_token))
    assert (checked.valid, checked.user_id) == (True, seed_admin.pk)
    assert not validate(auth_pb2.ValidateTokenRequest(token="not-a-token")).valid

    # RefreshToken(refresh_token) -> success, access_token, refresh_token: rotation ...
    rotated = refresh(auth_pb2.RefreshTokenRequest(refresh_token=login.refresh_token))
    assert rotated.success and rotated.access_token and rotated.refresh_token
    assert validate(auth_pb2.ValidateTokenRequest(token=rotated.access_token)).valid
    # ... and, for a client holding only its access token, the same one-time exchange as POST /auth/refresh
    renewed = refresh(auth_pb2.RefreshTokenRequest(refresh_token=rotated.access_token))
    assert renewed.success and renewed.access_token and not renewed.refresh_token
    claims = jwt.decode(renewed.access_token, options={"verify_signature": False})
    assert claims["typ"] == "access" and claims["sub"] == str(seed_admin.pk)
    assert validate(auth_pb2.ValidateTokenRequest(token=renewed.access_token)).user_id == seed_admin.pk

    # the tokens work for the calls that do need metadata (the seed's sample sends it as a Bearer token)
    data = data_pb2_grpc.DataServiceStub(channel)
    departments = data.GetDepartmentList(data_pb2.DepartmentListRequest(),
                                         metadata=[("authorization", f"Bearer {renewed.access_token}")],
                                         timeout=CALL_TIMEOUT)
    assert departments.success and departments.total >= 1
