"""Personal API tokens on gRPC (issue 19): ``authorization: Bearer djs_pat_...`` metadata acts as the token's user,
with that user's department scope and current role; revoked, expired, or of a disabled user: UNAUTHENTICATED."""
from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from django.utils import timezone

from apps.accounts import services
from apps.accounts.models import ApiToken, Permission, User
from djs_platform.actor import Actor
from rpc.generated import auth_pb2, data_pb2
from rpc.tests.conftest import fails, trailer
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


def mint(user: User, **spec) -> services.IssuedApiToken:
    return services.api_token_create(actor=Actor(user=user), user_id=user.pk,
                                     spec=services.ApiTokenSpec(name=spec.pop("name", "sidecar"), **spec))


def departments(client) -> set[int]:
    return {d.id for d in client.data.GetDepartmentList(data_pb2.DepartmentListRequest(size=100)).departments}


def test_an_api_token_calls_grpc_with_the_users_scope_and_permissions(rpc, org):
    user = org.member(org.a, {"task:view", "record:view"})
    TaskFactory(department=org.b, name="foreign", status=0)
    client = rpc(token=mint(user).secret)

    assert departments(client) == {org.a.pk, org.a1.pk}
    mine = client.auth.GetUserPermissions(auth_pb2.UserPermissionsRequest())
    assert list(mine.permissions) == ["record:view", "task:view"]
    err = fails(grpc.StatusCode.PERMISSION_DENIED, lambda: client.data.GetUserList(data_pb2.UserListRequest()))
    assert trailer(err, "djs-code") == "4003"
    # the role as it is now: a grant added to it counts from the next call
    user.role.permissions.add(Permission.objects.get(code="user:manage"))
    users = client.data.GetUserList(data_pb2.UserListRequest(size=100))
    assert user.pk in {u.id for u in users.users}


def test_revoked_expired_and_disabled_tokens_are_unauthenticated(rpc, org):
    user = org.member(org.a, {"task:view"})
    revoked, expiring, kept = mint(user, name="r"), mint(user, name="e"), mint(user, name="k")
    for issued in (revoked, expiring, kept):
        assert departments(rpc(token=issued.secret))

    services.api_token_revoke(actor=Actor(user=user), user_id=user.pk, token_id=revoked.token.pk)
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: departments(rpc(token=revoked.secret)))
    assert (err.details(), trailer(err, "djs-code")) == ("token revoked", "4010")

    ApiToken.objects.filter(pk=expiring.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: departments(rpc(token=expiring.secret)))
    assert err.details() == "token expired"

    assert departments(rpc(token=kept.secret))
    services.user_update(actor=Actor(user=org.admin), user_id=user.pk, username=user.username,
                         real_name=user.real_name, email=user.email, phone=user.phone,
                         department_id=user.department_id, role_id=user.role_id, status=0)
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: departments(rpc(token=kept.secret)))
    assert err.details() == "token revoked"


def test_an_unknown_api_token_is_unauthenticated(rpc, org):
    err = fails(grpc.StatusCode.UNAUTHENTICATED, lambda: departments(rpc(token="djs_pat_" + "Z" * 43)))
    assert err.details() == "token invalid"
