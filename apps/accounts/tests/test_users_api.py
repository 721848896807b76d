"""/v1/users as a client sees it: filters, writes, the password endpoint and token revocation.

Tenant isolation of users (foreign rows answer 4004) is covered by test_user_isolation.py.
Org: HQ > A > A1 and HQ > B; ``org.member(dept, codes)`` makes a user with a fresh role of exactly
those codes. Every write test also checks the database afterwards.
"""
from __future__ import annotations

import time

import pytest

from apps.accounts.models import User
from conftest import Api
from tests.factories import DEFAULT_PASSWORD, RoleFactory, UserFactory

NEW_PASSWORD = "Fresh-Granite-Lantern-42"
MANAGER = {"user:manage", "task:view"}


def row(user: User) -> dict:
    return User.objects.filter(pk=user.pk).values().get()


def has_password(user: User, password: str) -> bool:
    return User.objects.get(pk=user.pk).check_password(password)


def create_body(department, role, **overrides) -> dict:
    body = {"username": "newcomer", "password": "Sturdy-Pass-2026", "realName": "New Comer",
            "email": "newcomer@example.com", "phone": "+86 10 5555", "departmentId": department.pk,
            "roleId": role.pk, "status": 1}
    body.update(overrides)
    return body


def update_body(user: User, **overrides) -> dict:
    body = {"username": user.username, "realName": user.real_name, "email": user.email, "phone": user.phone,
            "departmentId": user.department_id, "roleId": user.role_id, "status": user.status}
    body.update(overrides)
    return body


def token_works(client: Api) -> bool:
    reply = client.get("auth/userinfo")
    assert reply.code in (0, 4010), reply
    return reply.code == 0


# --- reading ----------------------------------------------------------------------------------

def test_user_list_filters_by_department_keyword_status_and_role(org, admin_api):
    viewer = RoleFactory(codes=["task:view"])
    alice = UserFactory(username="alice", real_name="Alice Smith", department=org.a, role=viewer)
    bob = UserFactory(username="bob", real_name="Robert Quill", department=org.a, role=viewer, status=0)
    carol = UserFactory(username="carol", real_name="Carol Quill", department=org.a1)

    def ids(**params) -> list[int]:
        return [u["id"] for u in admin_api.get("users", size=100, **params).expect(0).data["list"]]

    assert ids(departmentId=org.a.pk) == [alice.pk, bob.pk]
    assert ids(keyword="quill") == [bob.pk, carol.pk]  # real name, case-insensitive
    assert ids(keyword="alic") == [alice.pk]  # username
    assert ids(status=0) == [bob.pk]
    assert ids(roleId=viewer.pk) == [alice.pk, bob.pk]
    assert ids(departmentId=org.a.pk, status=1) == [alice.pk]


def test_user_list_is_paginated_in_id_order(org, admin_api):
    made = [UserFactory(department=org.b).pk for _ in range(3)]
    everyone = sorted(User.objects.values_list("pk", flat=True))
    page = admin_api.get("users", page=2, size=2, departmentId=org.b.pk).expect(0).data
    assert page == {**page, "total": 3, "page": 2, "size": 2}
    assert [u["id"] for u in page["list"]] == made[2:]
    assert admin_api.get("users", size=100).expect(0).data["total"] == len(everyone)


def test_user_list_requires_user_manage(org, api):
    member = org.member(org.a, {"task:view", "role:manage"})
    api(member).get("users").expect(4003)


def test_user_without_user_manage_still_sees_own_detail_but_not_others(org, api):
    member = org.member(org.a, {"task:view"})
    colleague = UserFactory(department=org.a)
    data = api(member).get(f"users/{member.pk}").expect(0).data
    assert (data["id"], data["username"], data["departmentId"]) == (member.pk, member.username, org.a.pk)
    api(member).get(f"users/{colleague.pk}").expect(4003)


def test_user_detail_shows_department_and_role_names(org, admin_api):
    user = UserFactory(department=org.a1, role=RoleFactory(name="operators", codes=["task:view"]))
    data = admin_api.get(f"users/{user.pk}").expect(0).data
    assert data["departmentName"] == "A1" and data["roleName"] == "operators"
    assert data["realName"] == user.real_name and data["email"] == user.email


def test_no_user_response_ever_contains_a_password_or_its_hash(org, admin_api):
    role = RoleFactory(codes=["task:view"])
    created = admin_api.post("users", create_body(org.a, role)).expect(0)
    user = User.objects.get(pk=created.data["id"])
    replies = [
        created,
        admin_api.get("users", size=100).expect(0),
        admin_api.get(f"users/{user.pk}").expect(0),
        admin_api.put(f"users/{user.pk}", update_body(user, password=NEW_PASSWORD)).expect(0),
        admin_api.get("auth/userinfo").expect(0),
    ]
    user.refresh_from_db()
    for reply in replies:
        content = reply.response.content.decode()
        assert "password" not in content.lower()
        assert user.password not in content and NEW_PASSWORD not in content and "argon2" not in content


# --- creating ---------------------------------------------------------------------------------

def test_user_manager_creates_user_with_hashed_password(org, api):
    manager = org.member(org.a, MANAGER)
    role = RoleFactory(codes=["task:view"])
    data = api(manager).post("users", create_body(org.a1, role)).expect(0).data
    user = User.objects.get(pk=data["id"])
    assert (user.username, user.real_name, user.department_id, user.role_id, user.status) == (
        "newcomer", "New Comer", org.a1.pk, role.pk, 1)
    assert data["username"] == "newcomer" and data["departmentId"] == org.a1.pk and data["roleId"] == role.pk
    assert user.password.startswith("argon2") and has_password(user, "Sturdy-Pass-2026")


def test_creating_user_with_taken_username_conflicts_and_creates_nothing(org, admin_api):
    UserFactory(username="newcomer", department=org.b)
    count = User.objects.count()
    admin_api.post("users", create_body(org.a, RoleFactory(codes=[]))).expect(4009)
    assert User.objects.count() == count


@pytest.mark.parametrize("password", ["Sh0rt!", "password123", "40719265813370", "newcomer-1"],
                         ids=["too-short", "common", "numeric", "like-username"])
def test_creating_user_with_weak_password_is_rejected_on_password_field(org, admin_api, password):
    count = User.objects.count()
    reply = admin_api.post("users", create_body(org.a, RoleFactory(codes=[]), password=password)).expect(4001)
    assert list(reply.data["fields"]) == ["password"]
    assert User.objects.count() == count


@pytest.mark.parametrize("where", ["b", "hq", "unknown"])
def test_creating_user_in_department_outside_scope_is_rejected_on_department_field(org, api, where):
    manager = org.member(org.a, MANAGER)
    department_id = 10**9 if where == "unknown" else getattr(org, where).pk
    count = User.objects.count()
    body = create_body(org.a, RoleFactory(codes=[]), departmentId=department_id)
    reply = api(manager).post("users", body).expect(4001)
    assert list(reply.data["fields"]) == ["departmentId"]
    assert User.objects.count() == count


def test_creating_user_with_unknown_role_is_rejected_on_role_field(org, admin_api):
    count = User.objects.count()
    reply = admin_api.post("users", create_body(org.a, RoleFactory(codes=[]), roleId=10**9)).expect(4001)
    assert list(reply.data["fields"]) == ["roleId"]
    assert User.objects.count() == count


def test_user_manager_cannot_create_user_with_role_beyond_own_permissions(org, api):
    manager = org.member(org.a, MANAGER)
    stronger = RoleFactory(codes=["task:view", "task:delete"])
    count = User.objects.count()
    api(manager).post("users", create_body(org.a, stronger)).expect(4003)
    assert User.objects.count() == count
    assert not User.objects.filter(username="newcomer").exists()


# --- updating ---------------------------------------------------------------------------------

def test_updating_user_without_password_keeps_the_password(org, admin_api):
    user = UserFactory(department=org.a)
    data = admin_api.put(f"users/{user.pk}", update_body(user, realName="Renamed Person", email=None)).expect(0).data
    assert data["realName"] == "Renamed Person" and data["email"] is None
    user.refresh_from_db()
    assert (user.real_name, user.email) == ("Renamed Person", None)
    assert has_password(user, DEFAULT_PASSWORD)


def test_updating_user_with_password_sets_the_new_password(org, admin_api):
    user = UserFactory(department=org.a)
    admin_api.put(f"users/{user.pk}", update_body(user, password=NEW_PASSWORD)).expect(0)
    assert has_password(user, NEW_PASSWORD)


def test_updating_user_with_weak_password_is_rejected_and_changes_nothing(org, admin_api):
    user = UserFactory(department=org.a)
    before = row(user)
    reply = admin_api.put(f"users/{user.pk}", update_body(user, realName="Changed", password="12345678")).expect(4001)
    assert list(reply.data["fields"]) == ["password"]
    assert row(user) == before


def test_user_manager_moves_user_within_scope_but_not_outside_it(org, api):
    manager = org.member(org.a, MANAGER)
    user = UserFactory(department=org.a1, role=RoleFactory(codes=["task:view"]))
    before = row(user)
    for outside in (org.b, org.hq):
        reply = api(manager).put(f"users/{user.pk}", update_body(user, departmentId=outside.pk)).expect(4001)
        assert list(reply.data["fields"]) == ["departmentId"]
        assert row(user) == before
    api(manager).put(f"users/{user.pk}", update_body(user, departmentId=org.a.pk)).expect(0)
    user.refresh_from_db()
    assert user.department_id == org.a.pk


def test_user_cannot_change_own_role(org, api):
    manager = org.member(org.a, MANAGER)
    weaker = RoleFactory(codes=["task:view"])
    before = row(manager)
    api(manager).put(f"users/{manager.pk}", update_body(manager, roleId=weaker.pk)).expect(4009)
    assert row(manager) == before


def test_user_cannot_disable_own_account(org, admin_api):
    before = row(org.admin)
    admin_api.put(f"users/{org.admin.pk}", update_body(org.admin, status=0)).expect(4009)
    assert row(org.admin) == before


def test_user_manager_may_assign_only_roles_within_own_permissions(org, api):
    manager = org.member(org.a, MANAGER)
    user = UserFactory(department=org.a, role=RoleFactory(codes=["task:view"]))
    stronger = RoleFactory(codes=["task:view", "task:delete"])
    equal = RoleFactory(codes=sorted(MANAGER))
    before = row(user)
    api(manager).put(f"users/{user.pk}", update_body(user, roleId=stronger.pk)).expect(4003)
    assert row(user) == before
    api(manager).put(f"users/{user.pk}", update_body(user, roleId=equal.pk)).expect(0)
    assert User.objects.get(pk=user.pk).role_id == equal.pk


def test_user_cannot_update_or_delete_more_privileged_user(org, api):
    manager = org.member(org.a, MANAGER)
    stronger = org.member(org.a, MANAGER | {"task:delete"})
    before = row(stronger)
    api(manager).put(f"users/{stronger.pk}", update_body(stronger, realName="Demoted")).expect(4003)
    api(manager).delete(f"users/{stronger.pk}").expect(4003)
    assert row(stronger) == before


def test_user_cannot_change_own_password_through_update_without_old_password(org, admin_api):
    """PUT /users/{own id} must not bypass the oldPassword check of PATCH /users/{id}/password."""
    before = row(org.admin)
    reply = admin_api.put(f"users/{org.admin.pk}", update_body(org.admin, realName="Changed", password=NEW_PASSWORD))
    assert list(reply.expect(4001).data["fields"]) == ["password"]
    assert row(org.admin) == before and has_password(org.admin, DEFAULT_PASSWORD)
    assert token_works(admin_api)


# --- deleting ---------------------------------------------------------------------------------

def test_user_cannot_delete_own_account(org, admin_api):
    admin_api.delete(f"users/{org.admin.pk}").expect(4009)
    assert User.objects.filter(pk=org.admin.pk).exists()


def test_deleting_user_removes_it_and_kills_its_tokens(org, api, admin_api):
    user = UserFactory(department=org.a)
    victim = api(user)
    assert token_works(victim)
    admin_api.delete(f"users/{user.pk}").expect(0)
    assert not User.objects.filter(pk=user.pk).exists()
    admin_api.get(f"users/{user.pk}").expect(4004)
    victim.get("auth/userinfo").expect(4010)


# --- PATCH /users/{id}/password ---------------------------------------------------------------

def test_user_changes_own_password_with_correct_old_password(org, api):
    member = org.member(org.a, {"task:view"})
    client = api(member)
    client.patch(f"users/{member.pk}/password", {"oldPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD}).expect(0)
    assert has_password(member, NEW_PASSWORD)
    client.get("auth/userinfo").expect(4010)  # the token issued before the change is dead
    api().post("auth/login", {"username": member.username, "password": NEW_PASSWORD}).expect(0)


@pytest.mark.parametrize("old", [None, "", "Wrong-Old-Password-1"], ids=["missing", "empty", "wrong"])
@pytest.mark.parametrize("who", ["member", "admin"])
def test_own_password_change_needs_the_correct_old_password_even_for_admins(org, api, who, old):
    user = org.admin if who == "admin" else org.member(org.a, {"task:view"})
    client = api(user)
    body = {"newPassword": NEW_PASSWORD} if old is None else {"oldPassword": old, "newPassword": NEW_PASSWORD}
    reply = client.patch(f"users/{user.pk}/password", body).expect(4001)
    assert list(reply.data["fields"]) == ["oldPassword"]
    assert has_password(user, DEFAULT_PASSWORD)
    assert token_works(client)


def test_user_manager_resets_password_of_in_scope_user_without_old_password(org, api):
    manager = org.member(org.a, MANAGER)
    user = UserFactory(department=org.a1, role=RoleFactory(codes=["task:view"]))
    victim = api(user)
    api(manager).patch(f"users/{user.pk}/password", {"newPassword": NEW_PASSWORD}).expect(0)
    assert has_password(user, NEW_PASSWORD)
    victim.get("auth/userinfo").expect(4010)


def test_user_cannot_reset_password_of_more_privileged_user(org, api):
    manager = org.member(org.a, MANAGER)
    stronger = org.member(org.a, MANAGER | {"role:manage"})
    api(manager).patch(f"users/{stronger.pk}/password", {"newPassword": NEW_PASSWORD}).expect(4003)
    assert has_password(stronger, DEFAULT_PASSWORD)


def test_password_reset_of_user_outside_scope_is_not_found(org, api):
    manager = org.member(org.a, MANAGER)
    foreign = UserFactory(department=org.b, role=RoleFactory(codes=["task:view"]))
    api(manager).patch(f"users/{foreign.pk}/password", {"newPassword": NEW_PASSWORD}).expect(4004)
    assert has_password(foreign, DEFAULT_PASSWORD)


def test_user_without_user_manage_cannot_change_another_users_password(org, api):
    member = org.member(org.a, {"task:view"})
    colleague = UserFactory(department=org.a, role=RoleFactory(codes=["task:view"]))
    body = {"oldPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD}  # even knowing the old one
    api(member).patch(f"users/{colleague.pk}/password", body).expect(4003)
    assert has_password(colleague, DEFAULT_PASSWORD)


@pytest.mark.parametrize("new", ["abc12", "qwertyuiop", "31415926535897", "Real user"],
                         ids=["short", "common", "numeric", "like-real-name"])
def test_weak_new_password_is_rejected_on_new_password_field(org, api, new):
    member = org.member(org.a, {"task:view"}, username="jdoe", real_name="Real user")
    client = api(member)
    reply = client.patch(f"users/{member.pk}/password", {"oldPassword": DEFAULT_PASSWORD, "newPassword": new})
    assert list(reply.expect(4001).data["fields"]) == ["newPassword"]
    assert has_password(member, DEFAULT_PASSWORD)
    assert token_works(client)


# --- token revocation by user updates ---------------------------------------------------------

def test_disabling_user_revokes_tokens_which_stay_dead_after_re_enabling(org, api, admin_api):
    user = UserFactory(department=org.a)
    victim = api(user)
    admin_api.put(f"users/{user.pk}", update_body(user, status=0)).expect(0)
    assert User.objects.get(pk=user.pk).status == 0
    victim.get("auth/userinfo").expect(4010)
    admin_api.put(f"users/{user.pk}", update_body(user, status=1)).expect(0)
    victim.get("auth/userinfo").expect(4010)  # revoked, not merely refused while disabled
    time.sleep(0.01)  # the revocation mark also covers tokens minted in the millisecond after it
    assert token_works(api(User.objects.get(pk=user.pk)))  # a fresh session works again


def test_role_change_revokes_the_users_tokens(org, api, admin_api):
    user = UserFactory(department=org.a, role=RoleFactory(codes=["task:view"]))
    victim = api(user)
    other_role = RoleFactory(codes=["record:view"])
    admin_api.put(f"users/{user.pk}", update_body(user, roleId=other_role.pk)).expect(0)
    assert User.objects.get(pk=user.pk).role_id == other_role.pk
    victim.get("auth/userinfo").expect(4010)


def test_password_set_through_update_revokes_the_users_tokens(org, api, admin_api):
    user = UserFactory(department=org.a)
    victim = api(user)
    admin_api.put(f"users/{user.pk}", update_body(user, password=NEW_PASSWORD)).expect(0)
    victim.get("auth/userinfo").expect(4010)


def test_unrelated_update_keeps_the_users_tokens_valid(org, api, admin_api):
    user = UserFactory(department=org.a)
    client = api(user)
    admin_api.put(f"users/{user.pk}", update_body(user, realName="Only The Name", phone="+1 555 0100")).expect(0)
    data = client.get("auth/userinfo").expect(0).data
    assert data["realName"] == "Only The Name"
