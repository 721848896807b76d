"""Personal API tokens over REST (issue 19, DESIGN §14.3): ``/v1/users/{id}/tokens`` and ``Bearer djs_pat_...``.

Org: HQ > A > A1 and HQ > B (conftest ``org``); ``org.member(dept, codes)`` makes a user whose fresh role holds
exactly those codes. A token is used through a client that sends nothing but ``Authorization: Bearer djs_pat_...``.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts import authz
from apps.accounts.models import ApiToken, AuditLog, Role, User
from apps.accounts.services import API_TOKEN_MAX_ACTIVE, api_token_authenticate
from conftest import Api
from tests.factories import DEFAULT_PASSWORD, RoleFactory, TaskFactory

VIEWER = {"task:view"}
MANAGER = {"user:manage", "task:view"}


def create(client: Api, user_id: int, **body) -> dict:
    return client.post(f"users/{user_id}/tokens", {"name": "ci", **body}).expect(0).data


def works(token: str) -> bool:
    reply = Api(token=token).get("auth/userinfo")
    assert reply.code in (0, 4010), reply
    return reply.code == 0


def refusal(token: str) -> str:
    return Api(token=token).get("auth/userinfo").expect(4010).message


def audit_text() -> str:
    return json.dumps(list(AuditLog.objects.values("action", "object_repr", "changes")), default=str)


def test_a_token_is_shown_once_and_acts_with_the_users_scope_and_permissions(org):
    user = org.member(org.a, VIEWER)
    own, child, sibling = (TaskFactory(department=d, name=f"t-{d.name}", status=0) for d in (org.a, org.a1, org.b))

    created = create(Api(user), user.pk, expiresInDays=30)
    secret = created["token"]
    assert secret.startswith("djs_pat_") and len(secret) == 51
    assert created["prefix"] == secret[:14] and created["state"] == "active" and created["userId"] == user.pk
    assert created["createdById"] == user.pk and created["createdByName"] == user.username
    expires = datetime.fromisoformat(created["expiresAt"].replace("Z", "+00:00"))
    assert abs(expires - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    # stored: the hash and the display prefix, never the secret
    row = ApiToken.objects.get(pk=created["id"])
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(list(ApiToken.objects.values()), default=str)

    # the token is the user: their permissions, their department scope
    client = Api(token=secret)
    info = client.get("auth/userinfo").expect(0).data
    assert (info["id"], info["permissions"]) == (user.pk, ["task:view"])
    listed = {t["id"] for t in client.get("tasks", size=100).expect(0).data["list"]}
    assert {own.pk, child.pk} <= listed and sibling.pk not in listed
    client.get(f"tasks/{sibling.pk}").expect(4004)
    client.get("users").expect(4003)
    assert ApiToken.objects.get(pk=created["id"]).last_used_at is not None

    # listing never shows the secret again
    reply = Api(user).get(f"users/{user.pk}/tokens")
    tokens = reply.expect(0).data["list"]
    assert [t["id"] for t in tokens] == [created["id"]] and "token" not in tokens[0]
    assert tokens[0]["lastUsedAt"] is not None
    assert secret not in reply.response.content.decode() and secret[14:] not in reply.response.content.decode()

    # the audit row names the token, not its secret
    row = AuditLog.objects.get(action="user.token_create")
    assert (row.object_type, row.object_id, row.department_id) == ("api_token", str(created["id"]), org.a.pk)
    assert row.changes["prefix"] == created["prefix"] and secret not in audit_text()


def test_last_use_is_written_at_most_once_a_minute(org):
    user = org.member(org.a, VIEWER)
    secret = create(Api(user), user.pk)["token"]
    assert works(secret)
    first = ApiToken.objects.get().last_used_at
    assert works(secret) and ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(seconds=61))
    assert works(secret) and ApiToken.objects.get().last_used_at > first


def test_checking_a_token_is_one_indexed_query_and_the_authz_generation(org):
    """The hash is the lookup key (unique index); the user comes as for a JWT: one read of the authz generation,
    and the user's rows only when the process has not loaded them under that generation
    (apps/accounts/authz.py). Only the first use in a minute adds the ``last_used_at`` UPDATE."""
    user = org.member(org.hq, VIEWER)  # top department: no ancestors to check
    secret = create(Api(user), user.pk)["token"]
    authz.clear()
    with CaptureQueriesContext(connection) as first:
        assert api_token_authenticate(secret)[0].pk == user.pk
    with CaptureQueriesContext(connection) as second:
        assert api_token_authenticate(secret)[0].pk == user.pk
    # first: token, generation, user + department + role, department tree, permission codes, last_used_at
    assert (len(first.captured_queries), len(second.captured_queries)) == (6, 2), first.captured_queries
    lookup, generation = (query["sql"] for query in second.captured_queries)
    assert "token_hash" in lookup and hashlib.sha256(secret.encode()).hexdigest() in lookup
    assert "authz_generation" in generation


def test_a_revoked_token_answers_4010_on_the_next_request(org):
    user = org.member(org.a, VIEWER)
    created = create(Api(user), user.pk)
    assert works(created["token"])

    revoked = Api(user).delete(f"users/{user.pk}/tokens/{created['id']}").expect(0).data
    assert revoked["state"] == "revoked" and revoked["revokedAt"] and "token" not in revoked
    assert refusal(created["token"]) == "token revoked"
    # again: nothing changes, one audit row
    again = Api(user).delete(f"users/{user.pk}/tokens/{created['id']}").expect(0).data
    assert again["revokedAt"] == revoked["revokedAt"]
    assert AuditLog.objects.filter(action="user.token_revoke").count() == 1
    assert created["token"] not in audit_text()
    # a token can revoke itself
    other = create(Api(user), user.pk, name="self")
    Api(token=other["token"]).delete(f"users/{user.pk}/tokens/{other['id']}").expect(0)
    assert refusal(other["token"]) == "token revoked"


def test_an_expired_token_answers_4010(org):
    user = org.member(org.a, VIEWER)
    created = create(Api(user), user.pk, expiresAt=(timezone.now() + timedelta(hours=1)).isoformat())
    assert works(created["token"])
    ApiToken.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refusal(created["token"]) == "token expired"
    listed = Api(user).get(f"users/{user.pk}/tokens").expect(0).data["list"]
    assert listed[0]["state"] == "expired"


@pytest.mark.parametrize("token", ["djs_pat_", "djs_pat_short", "djs_pat_" + "A" * 43, "djs_pat_" + "A" * 44,
                                   "djs_pat_" + "A" * 42 + "!"])
def test_malformed_and_unknown_api_tokens_answer_4010(org, token):
    assert refusal(token) == "token invalid"


def test_disabling_the_user_or_changing_their_role_revokes_their_tokens(org):
    admin = Api(org.admin)
    worker = org.member(org.a, VIEWER)
    mover = org.member(org.a, VIEWER)
    worker_token = create(admin, worker.pk)["token"]
    mover_token = create(admin, mover.pk)["token"]
    assert works(worker_token) and works(mover_token)

    body = {"username": worker.username, "realName": worker.real_name, "email": worker.email,
            "phone": worker.phone, "departmentId": worker.department_id, "roleId": worker.role_id}
    admin.put(f"users/{worker.pk}", {**body, "status": 0}).expect(0)
    assert refusal(worker_token) == "token revoked"
    admin.put(f"users/{worker.pk}", {**body, "status": 1}).expect(0)
    assert refusal(worker_token) == "token revoked"  # enabling the account again does not revive it
    # an account disabled behind the services' back (SQL) is refused all the same, on every request
    fresh = create(admin, worker.pk, name="fresh")["token"]
    User.objects.filter(pk=worker.pk).update(status=0)
    assert refusal(fresh) == "account disabled"

    other_role = RoleFactory(codes=sorted(VIEWER))
    admin.put(f"users/{mover.pk}", {"username": mover.username, "realName": mover.real_name, "email": mover.email,
                                    "phone": mover.phone, "departmentId": mover.department_id,
                                    "roleId": other_role.pk, "status": 1}).expect(0)
    assert refusal(mover_token) == "token revoked"
    update = AuditLog.objects.filter(action="user.update", object_id=str(mover.pk)).get()
    assert update.changes["apiTokensRevoked"] == 1


def test_a_password_change_keeps_api_tokens_and_role_edits_apply_at_once(org):
    """Documented decision (docs/api.md "API tokens"): a password change ends login sessions, not API tokens;
    the token always acts with the role as it is now."""
    user = org.member(org.a, VIEWER)
    secret = create(Api(user), user.pk)["token"]
    Api(org.admin).patch(f"users/{user.pk}/password", {"newPassword": "Other-Granite-Lantern-7"}).expect(0)
    assert works(secret)
    client = Api(token=secret)
    client.get("tasks").expect(0)
    Role.objects.get(pk=user.role_id).permissions.clear()
    client.get("tasks").expect(4003)


def test_a_token_of_a_user_in_a_disabled_department_is_refused(org):
    user = org.member(org.a1, VIEWER)
    secret = create(Api(user), user.pk)["token"]
    org.a.status = 0
    org.a.save()
    assert refusal(secret) == "department disabled"


def test_user_managers_reach_tokens_of_their_scope_only(org):
    manager = Api(org.member(org.a, MANAGER))
    in_child = org.member(org.a1, VIEWER)
    in_sibling = org.member(org.b, VIEWER)
    stronger = org.member(org.a, MANAGER | {"role:manage"})

    made = create(manager, in_child.pk)
    assert made["createdById"] != in_child.pk and works(made["token"])
    assert [t["id"] for t in manager.get(f"users/{in_child.pk}/tokens").expect(0).data["list"]] == [made["id"]]
    manager.delete(f"users/{in_child.pk}/tokens/{made['id']}").expect(0)

    foreign = create(Api(in_sibling), in_sibling.pk)
    missing = manager.get("users/999999999/tokens").expect(4004).message
    assert manager.get(f"users/{in_sibling.pk}/tokens").expect(4004).message == missing
    manager.post(f"users/{in_sibling.pk}/tokens", {"name": "x"}).expect(4004)
    manager.delete(f"users/{in_sibling.pk}/tokens/{foreign['id']}").expect(4004)
    assert works(foreign["token"])
    # a user whose role grants more than the manager holds: a token would be that much power
    manager.post(f"users/{stronger.pk}/tokens", {"name": "x"}).expect(4003)
    manager.get(f"users/{stronger.pk}/tokens").expect(4003)
    # a token id of another user under a reachable user's path is not found
    manager.delete(f"users/{in_child.pk}/tokens/{foreign['id']}").expect(4004)
    assert ApiToken.objects.filter(user__in=[in_sibling, stronger]).count() == 1


def test_a_plain_user_manages_only_their_own_tokens(org):
    plain = Api(org.member(org.a, VIEWER))
    colleague = org.member(org.a, VIEWER)
    theirs = create(Api(colleague), colleague.pk)
    plain.post(f"users/{colleague.pk}/tokens", {"name": "x"}).expect(4003)
    plain.get(f"users/{colleague.pk}/tokens").expect(4003)
    plain.delete(f"users/{colleague.pk}/tokens/{theirs['id']}").expect(4003)
    assert works(theirs["token"]) and ApiToken.objects.filter(user=colleague).count() == 1


BAD_BODIES = [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 5}, "name"),
    ({"name": "a\u200bb"}, "name"),
    ({"name": "a\u0007b"}, "name"),
    ({"name": "ci", "expiresInDays": 0}, "expiresInDays"),
    ({"name": "ci", "expiresInDays": 3651}, "expiresInDays"),
    ({"name": "ci", "expiresInDays": "5"}, "expiresInDays"),
    ({"name": "ci", "expiresInDays": True}, "expiresInDays"),
    ({"name": "ci", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
    ({"name": "ci", "expiresAt": "2999-01-01T00:00:00Z"}, "expiresAt"),
    ({"name": "ci", "expiresAt": "next week"}, "expiresAt"),
    ({"name": "ci", "expiresInDays": 3, "expiresAt": "2099-01-01T00:00:00Z"}, "expiresAt"),
    ({"name": "ci", "scopes": ["task:view"]}, "scopes"),
    ({"name": "ci", "token": "djs_pat_" + "A" * 43}, "token"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_bad_input_answers_4001_on_the_field_and_stores_nothing(org, body, field):
    user = org.member(org.a, VIEWER)
    reply = Api(user).post(f"users/{user.pk}/tokens", body).expect(4001)
    assert field in reply.data["fields"], reply.data
    assert not ApiToken.objects.exists() and not AuditLog.objects.filter(action="user.token_create").exists()


def test_a_disabled_user_gets_no_new_token_and_the_number_of_live_tokens_is_bounded(org):
    admin = Api(org.admin)
    disabled = org.member(org.a, VIEWER, status=0)
    admin.post(f"users/{disabled.pk}/tokens", {"name": "x"}).expect(4009)
    user = org.member(org.a, VIEWER)
    ApiToken.objects.bulk_create([ApiToken(user=user, name=f"t{i}", prefix="djs_pat_xxxxxx", token_hash=f"{i:064x}")
                                  for i in range(API_TOKEN_MAX_ACTIVE)])
    admin.post(f"users/{user.pk}/tokens", {"name": "one more"}).expect(4009)
    ApiToken.objects.filter(name="t0").update(revoked_at=timezone.now())
    create(admin, user.pk, name="one more")
    assert not ApiToken.objects.filter(user=disabled).exists()


def test_logout_with_an_api_token_ends_nothing(org):
    user = org.member(org.a, VIEWER)
    secret = create(Api(user), user.pk)["token"]
    session = Api(user)
    Api(token=secret).post("auth/logout").expect(4001)
    assert works(secret) and session.get("auth/userinfo").expect(0)
    # a refresh is for login sessions: an API token is no access token to exchange
    Api(token=secret).post("auth/refresh").expect(4010)
    assert works(secret)


def test_login_with_the_users_password_is_unaffected(org):
    user = org.member(org.a, VIEWER, username="svc-orders")
    create(Api(user), user.pk)
    reply = Api().post("auth/login", {"username": "svc-orders", "password": DEFAULT_PASSWORD}).expect(0)
    assert reply.data["user"]["id"] == user.pk
