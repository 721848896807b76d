"""/v1/roles and /v1/permissions: who may read and write roles, what a role grants, and when."""
from __future__ import annotations

import pytest

from apps.accounts.models import Permission, Role, RolePermission
from tests.factories import RoleFactory, UserFactory

SPEC_CODES = {"task:view", "task:create", "task:update", "task:delete", "task:execute", "record:view",
              "department:manage", "user:manage", "role:manage", "system:manage", "task:shell",
              "executor:view", "executor:manage", "executor:register"}  # the registry's three (issue 19)
ROLE_ADMIN = {"role:manage", "task:view", "record:view"}


def ids(*codes: str) -> list[int]:
    found = dict(Permission.objects.filter(code__in=codes).values_list("code", "id"))
    assert set(found) == set(codes), codes
    return sorted(found.values())


def codes_of(role: Role) -> set[str]:
    return set(Role.objects.get(pk=role.pk).permissions.values_list("code", flat=True))


def state(role: Role) -> tuple[dict, set[str]]:
    return Role.objects.filter(pk=role.pk).values().get(), codes_of(role)


def body(name: str, codes: tuple[str, ...] | list[str], status: int = 1, **extra) -> dict:
    return {"name": name, "description": f"{name} role", "permissions": ids(*codes), "status": status, **extra}


# --- reading ----------------------------------------------------------------------------------

@pytest.mark.parametrize("codes, allowed", [({"role:manage"}, True), ({"user:manage"}, True),
                                            ({"task:view", "department:manage", "system:manage"}, False)])
def test_roles_are_readable_with_role_manage_or_user_manage_only(org, api, codes, allowed):
    role = RoleFactory(codes=["task:view"])
    client = api(org.member(org.a, codes))
    expected = 0 if allowed else 4003
    listed = client.get("roles", size=100).expect(expected)
    client.get(f"roles/{role.pk}").expect(expected)
    if allowed:
        assert role.pk in {r["id"] for r in listed.data["list"]}


def test_role_output_lists_sorted_permission_ids_and_codes(org, admin_api):
    role = RoleFactory(name="auditors", codes=["user:manage", "record:view", "task:view"])
    data = admin_api.get(f"roles/{role.pk}").expect(0).data
    assert data["name"] == "auditors" and data["status"] == 1
    assert data["permissions"] == ids("user:manage", "record:view", "task:view")
    assert data["permissionCodes"] == ["record:view", "task:view", "user:manage"]
    listed = {r["id"]: r for r in admin_api.get("roles", size=100).expect(0).data["list"]}
    assert listed[role.pk]["permissionCodes"] == data["permissionCodes"]


def test_role_list_filters_by_keyword_and_status(org, admin_api):
    on = RoleFactory(name="night-shift", codes=[])
    off = RoleFactory(name="night-watch", codes=[], status=0)
    RoleFactory(name="day-shift", codes=[])
    found = [r["id"] for r in admin_api.get("roles", keyword="night", size=100).expect(0).data["list"]]
    assert found == [on.pk, off.pk]
    found = [r["id"] for r in admin_api.get("roles", keyword="night", status=0).expect(0).data["list"]]
    assert found == [off.pk]


def test_permission_list_shows_every_code_to_any_signed_in_user(org, api):
    nobody = org.member(org.b, set())
    data = api(nobody).get("permissions").expect(0).data
    assert sorted(p["code"] for p in data) == sorted(SPEC_CODES)
    assert all(p["name"] and p["status"] == 1 for p in data)
    api().get("permissions").expect(4010)


# --- creating ---------------------------------------------------------------------------------

def test_role_manager_creates_role_with_permissions(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    data = api(manager).post("roles", body("readers", ["task:view", "record:view"])).expect(0).data
    role = Role.objects.get(pk=data["id"])
    assert (role.name, role.description, role.status) == ("readers", "readers role", 1)
    assert codes_of(role) == {"task:view", "record:view"}
    assert data["permissionCodes"] == ["record:view", "task:view"]


def test_creating_role_needs_role_manage(org, api):
    user_manager = org.member(org.a, {"user:manage", "task:view"})
    count = Role.objects.count()
    api(user_manager).post("roles", body("readers", ["task:view"])).expect(4003)
    assert Role.objects.count() == count


def test_creating_role_with_unknown_permission_is_rejected_on_permissions_field(org, admin_api):
    count = Role.objects.count()
    reply = admin_api.post("roles", {**body("readers", ["task:view"]), "permissions": [ids("task:view")[0], 10**9]})
    assert list(reply.expect(4001).data["fields"]) == ["permissions"]
    assert Role.objects.count() == count


def test_creating_role_granting_permission_the_actor_lacks_is_forbidden(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    counts = Role.objects.count(), RolePermission.objects.count()
    api(manager).post("roles", body("sneaky", ["task:view", "system:manage"])).expect(4003)
    assert (Role.objects.count(), RolePermission.objects.count()) == counts
    assert not Role.objects.filter(name="sneaky").exists()


def test_creating_role_with_taken_name_conflicts(org, admin_api):
    RoleFactory(name="readers", codes=[])
    count = Role.objects.count()
    admin_api.post("roles", body("readers", ["task:view"])).expect(4009)
    assert Role.objects.count() == count


# --- updating ---------------------------------------------------------------------------------

def test_role_manager_updates_name_description_status_and_permissions(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    role = RoleFactory(name="readers", codes=["task:view"])
    data = api(manager).put(f"roles/{role.pk}", body("viewers", ["record:view"], status=0)).expect(0).data
    assert data["permissionCodes"] == ["record:view"] and data["status"] == 0
    role.refresh_from_db()
    assert (role.name, role.description, role.status) == ("viewers", "viewers role", 0)
    assert codes_of(role) == {"record:view"}


def test_updating_role_needs_role_manage(org, api):
    user_manager = org.member(org.a, {"user:manage", "task:view"})
    role = RoleFactory(codes=["task:view"])
    before = state(role)
    api(user_manager).put(f"roles/{role.pk}", body("renamed", ["task:view"])).expect(4003)
    api(user_manager).delete(f"roles/{role.pk}").expect(4003)
    assert state(role) == before


def test_updating_role_to_grant_a_permission_the_actor_lacks_is_forbidden(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    role = RoleFactory(codes=["task:view"])
    before = state(role)
    api(manager).put(f"roles/{role.pk}", body("readers", ["task:view", "user:manage"])).expect(4003)
    assert state(role) == before


def test_updating_role_with_unknown_permission_is_rejected_and_changes_nothing(org, admin_api):
    role = RoleFactory(codes=["task:view"])
    before = state(role)
    reply = admin_api.put(f"roles/{role.pk}", {**body("renamed", []), "permissions": [10**9]}).expect(4001)
    assert list(reply.data["fields"]) == ["permissions"]
    assert state(role) == before


def test_renaming_role_to_a_taken_name_conflicts(org, admin_api):
    RoleFactory(name="taken", codes=[])
    role = RoleFactory(name="mine", codes=["task:view"])
    before = state(role)
    admin_api.put(f"roles/{role.pk}", body("taken", ["task:view"])).expect(4009)
    assert state(role) == before


def test_role_holding_permissions_beyond_the_actor_cannot_be_modified_or_deleted(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    stronger = RoleFactory(codes=["task:view", "task:delete"])
    before = state(stronger)
    api(manager).put(f"roles/{stronger.pk}", body("weakened", ["task:view"])).expect(4003)
    api(manager).delete(f"roles/{stronger.pk}").expect(4003)
    assert state(stronger) == before


def test_actor_cannot_disable_own_role(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    before = state(manager.role)
    api(manager).put(f"roles/{manager.role_id}", body(manager.role.name, sorted(ROLE_ADMIN), status=0)).expect(4009)
    assert state(manager.role) == before


def test_actor_cannot_remove_permissions_from_own_role(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    before = state(manager.role)
    api(manager).put(f"roles/{manager.role_id}", body(manager.role.name, ["role:manage", "task:view"])).expect(4009)
    assert state(manager.role) == before


def test_actor_may_rename_own_role_keeping_its_permissions(org, api):
    manager = org.member(org.a, ROLE_ADMIN)
    api(manager).put(f"roles/{manager.role_id}", body("my-team", sorted(ROLE_ADMIN))).expect(0)
    assert Role.objects.get(pk=manager.role_id).name == "my-team"
    assert codes_of(manager.role) == ROLE_ADMIN


# --- deleting ---------------------------------------------------------------------------------

def test_deleting_role_with_assigned_users_conflicts(org, admin_api):
    role = RoleFactory(codes=["task:view"])
    UserFactory(department=org.b, role=role)
    before = state(role)
    admin_api.delete(f"roles/{role.pk}").expect(4009)
    assert state(role) == before


def test_deleting_unused_role_removes_it_and_its_grants(org, admin_api):
    role = RoleFactory(codes=["task:view", "record:view"])
    admin_api.delete(f"roles/{role.pk}").expect(0)
    assert not Role.objects.filter(pk=role.pk).exists()
    assert not RolePermission.objects.filter(role_id=role.pk).exists()
    admin_api.get(f"roles/{role.pk}").expect(4004)


# --- what a role grants -----------------------------------------------------------------------

def test_disabled_role_grants_nothing(org, api):
    holder = org.member(org.a, {"user:manage", "role:manage"})
    Role.objects.filter(pk=holder.role_id).update(status=0)
    client = api(holder)
    client.get("users").expect(4003)
    client.get("roles").expect(4003)
    assert client.get("auth/userinfo").expect(0).data["permissions"] == []


def test_disabling_a_role_takes_effect_on_the_holders_next_request(org, api, admin_api):
    role = RoleFactory(name="managers", codes=["user:manage"])
    holder = api(UserFactory(department=org.a, role=role))
    holder.get("users").expect(0)
    admin_api.put(f"roles/{role.pk}", body("managers", ["user:manage"], status=0)).expect(0)
    holder.get("users").expect(4003)
    admin_api.put(f"roles/{role.pk}", body("managers", ["user:manage"], status=1)).expect(0)
    holder.get("users").expect(0)


def test_permission_edits_take_effect_on_the_holders_next_request_without_new_login(org, api, admin_api):
    role = RoleFactory(name="managers", codes=["user:manage", "task:view"])
    holder = api(UserFactory(department=org.a, role=role))
    holder.get("users").expect(0)
    admin_api.put(f"roles/{role.pk}", body("managers", ["task:view"])).expect(0)
    holder.get("users").expect(4003)
    assert holder.get("auth/userinfo").expect(0).data["permissions"] == ["task:view"]
    admin_api.put(f"roles/{role.pk}", body("managers", ["task:view", "user:manage"])).expect(0)
    holder.get("users").expect(0)
