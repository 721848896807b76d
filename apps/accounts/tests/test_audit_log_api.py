"""The audit trail: every write leaves a row, and GET /v1/audit-logs shows it to the right people."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from apps.accounts.models import AuditLog, Permission, User
from apps.departments.models import Department
from conftest import Api
from tests.factories import DEFAULT_PASSWORD, RoleFactory, UserFactory

IP = "10.1.2.3"
SECRET = "Audit-Proof-Passphrase-77"


def entries(**filters) -> list[AuditLog]:
    return list(AuditLog.objects.filter(**filters).order_by("id"))


def only(action: str, object_id=None) -> AuditLog:
    rows = entries(action=action, **({} if object_id is None else {"object_id": str(object_id)}))
    assert len(rows) == 1, [(r.action, r.object_id) for r in rows]
    return rows[0]


def listed(client: Api, **params) -> dict:
    return client.get("audit-logs", size=100, **params).expect(0).data


def assert_by(entry: AuditLog, actor: User, object_type: str, object_id) -> None:
    assert (entry.user_id, entry.username, entry.object_type, entry.object_id, entry.client_ip) == (
        actor.pk, actor.username, object_type, str(object_id), IP)


def user_body(user: User, **overrides) -> dict:
    return {"username": user.username, "realName": user.real_name, "email": user.email, "phone": user.phone,
            "departmentId": user.department_id, "roleId": user.role_id, "status": user.status, **overrides}


# --- what is recorded -------------------------------------------------------------------------

def test_user_writes_are_audited_with_actor_object_changes_and_client_address(org, admin_api):
    admin, role = org.admin, RoleFactory(codes=["task:view"])
    body = {"username": "audited", "password": SECRET, "realName": "Audited Person", "departmentId": org.a.pk,
            "roleId": role.pk, "status": 1}
    uid = admin_api.call("POST", "users", body, REMOTE_ADDR=IP).expect(0).data["id"]
    user = User.objects.get(pk=uid)
    admin_api.call("PUT", f"users/{uid}", user_body(user, realName="Renamed", password=SECRET + "x"),
                   REMOTE_ADDR=IP).expect(0)
    admin_api.call("PATCH", f"users/{uid}/password", {"newPassword": SECRET + "y"}, REMOTE_ADDR=IP).expect(0)
    admin_api.call("DELETE", f"users/{uid}", REMOTE_ADDR=IP).expect(0)

    created, updated = only("user.create", uid), only("user.update", uid)
    password, deleted = only("user.password", uid), only("user.delete", uid)
    for entry in (created, updated, password, deleted):
        assert_by(entry, admin, "user", uid)
        assert entry.department_id == org.a.pk
    assert created.changes["username"] == "audited" and "password" not in created.changes
    assert updated.changes["password"] == "changed"
    assert {"old": "Audited Person", "new": "Renamed"} in updated.changes.values()
    assert password.changes == {"password": "changed"}
    assert deleted.object_repr == "audited"


def test_audit_trail_never_holds_a_password_or_its_hash(org, admin_api):
    user = UserFactory(department=org.a)
    Api(user).patch(f"users/{user.pk}/password", {"oldPassword": DEFAULT_PASSWORD, "newPassword": SECRET}).expect(0)
    admin_api.put(f"users/{user.pk}", user_body(user, password=SECRET + "!")).expect(0)
    admin_api.patch(f"users/{user.pk}/password", {"newPassword": SECRET + "?"}).expect(0)
    Api().post("auth/login", {"username": user.username, "password": "Not-" + SECRET}).expect(4010)
    hashed = User.objects.get(pk=user.pk).password
    rows = json.dumps(list(AuditLog.objects.values()), default=str)
    assert entries(action="user.password", object_id=str(user.pk))  # something was recorded
    for needle in (SECRET, hashed, "argon2", "Not-" + SECRET):
        assert needle not in rows
        assert needle not in admin_api.get("audit-logs", size=100).response.content.decode()


def test_role_writes_are_audited_with_permission_changes(org, admin_api):
    body = {"name": "watchers", "permissions": [Permission.objects.get(code="task:view").pk], "status": 1}
    rid = admin_api.call("POST", "roles", body, REMOTE_ADDR=IP).expect(0).data["id"]
    body["permissions"].append(Permission.objects.get(code="record:view").pk)
    admin_api.call("PUT", f"roles/{rid}", body, REMOTE_ADDR=IP).expect(0)
    admin_api.call("DELETE", f"roles/{rid}", REMOTE_ADDR=IP).expect(0)

    created, updated, deleted = only("role.create", rid), only("role.update", rid), only("role.delete", rid)
    for entry in (created, updated, deleted):
        assert_by(entry, org.admin, "role", rid)
    assert created.changes["permissions"] == ["task:view"]
    assert updated.changes == {"permissions": {"old": ["task:view"], "new": ["record:view", "task:view"]}}


def test_department_writes_are_audited(org, admin_api):
    body = {"name": "Ops", "parentId": org.a.pk, "status": 1}
    did = admin_api.call("POST", "departments", body, REMOTE_ADDR=IP).expect(0).data["id"]
    admin_api.call("PUT", f"departments/{did}", {**body, "name": "Operations"}, REMOTE_ADDR=IP).expect(0)
    admin_api.call("DELETE", f"departments/{did}", REMOTE_ADDR=IP).expect(0)

    created, updated = only("department.create", did), only("department.update", did)
    deleted = only("department.delete", did)
    for entry in (created, updated, deleted):
        assert_by(entry, org.admin, "department", did)
    assert created.changes["name"] == "Ops"
    assert updated.changes == {"name": {"old": "Ops", "new": "Operations"}}
    assert not Department.objects.filter(pk=did).exists()


def test_login_failed_login_and_logout_are_audited_with_client_address(org, api):
    user = org.member(org.a, {"task:view"})
    anonymous = api()
    anonymous.call("POST", "auth/login", {"username": user.username, "password": "Wrong-Pass-123"},
                   REMOTE_ADDR=IP).expect(4010)
    token = anonymous.call("POST", "auth/login", {"username": user.username, "password": DEFAULT_PASSWORD},
                           REMOTE_ADDR=IP).expect(0).data["token"]
    api(token=token).call("POST", "auth/logout", {}, REMOTE_ADDR=IP).expect(0)

    failed = only("auth.login_failed")
    assert (failed.user_id, failed.username, failed.object_type, failed.object_id, failed.client_ip) == (
        None, user.username, "user", str(user.pk), IP)
    assert failed.department_id == org.a.pk
    assert_by(only("auth.login"), user, "user", user.pk)
    assert_by(only("auth.logout"), user, "user", user.pk)


def test_failed_login_for_an_unknown_username_is_visible_to_the_admin(org, admin_api):
    """Password spraying against made-up names must show up in the audit log the operator reads."""
    Api().call("POST", "auth/login", {"username": "ghost", "password": "Guess-123456"}, REMOTE_ADDR=IP).expect(4010)
    assert only("auth.login_failed").username == "ghost"  # it is recorded ...
    rows = listed(admin_api, action="auth.login_failed")["list"]
    assert [(r["username"], r["clientIp"]) for r in rows] == [("ghost", IP)]  # ... and readable


def test_rejected_write_leaves_no_audit_entry(org, api):
    manager = org.member(org.a, {"role:manage"})
    before = AuditLog.objects.count()
    api(manager).post("roles", {"name": "x", "permissions": [Permission.objects.get(code="system:manage").pk],
                                "status": 1}).expect(4003)
    api(manager).post("users", {}).expect(4001)
    assert AuditLog.objects.count() == before


def test_user_update_audit_names_fields_as_the_api_and_user_create_do(org, admin_api):
    """Audit ``changes`` keys are JSON keys like the rest of /v1: the same name on create and update."""
    role, other = RoleFactory(codes=[]), RoleFactory(codes=[])
    body = {"username": "keys", "password": SECRET, "realName": "Key Person", "departmentId": org.a.pk,
            "roleId": role.pk, "status": 1}
    uid = admin_api.post("users", body).expect(0).data["id"]
    admin_api.put(f"users/{uid}", {**body, "password": "", "roleId": other.pk, "departmentId": org.a1.pk,
                                   "realName": "Renamed"}).expect(0)
    create_keys = set(only("user.create", uid).changes)
    update_keys = set(only("user.update", uid).changes)
    assert {"departmentId", "roleId"} <= create_keys
    assert update_keys == {"departmentId", "roleId", "realName"}


# --- who reads it, and how --------------------------------------------------------------------

def test_audit_log_requires_system_manage(org, api):
    everything_else = {"task:view", "task:create", "task:update", "task:delete", "task:execute", "record:view",
                       "department:manage", "user:manage", "role:manage", "task:shell"}
    api(org.member(org.hq, everything_else)).get("audit-logs").expect(4003)
    api().get("audit-logs").expect(4010)


def test_audit_log_is_paginated_newest_first(org, admin_api):
    for name in ("one", "two", "three"):
        admin_api.post("departments", {"name": name, "parentId": org.a.pk, "status": 1}).expect(0)
    data = admin_api.get("audit-logs", action="department.create", page=1, size=2).expect(0).data
    assert (data["total"], data["page"], data["size"]) == (3, 1, 2)
    assert [r["objectRepr"] for r in data["list"]] == ["three", "two"]
    assert [r["id"] for r in data["list"]] == sorted((r["id"] for r in data["list"]), reverse=True)
    second = admin_api.get("audit-logs", action="department.create", page=2, size=2).expect(0).data
    assert [r["objectRepr"] for r in second["list"]] == ["one"]


def test_audit_log_output_shows_actor_action_object_changes_and_address(org, admin_api):
    admin_api.call("POST", "departments", {"name": "Ops", "parentId": org.a.pk, "status": 1},
                   REMOTE_ADDR=IP).expect(0)
    row = listed(admin_api, action="department.create")["list"][0]
    dept = Department.objects.get(name="Ops")
    assert row == {**row, "userId": org.admin.pk, "username": org.admin.username, "action": "department.create",
                   "objectType": "department", "objectId": str(dept.pk), "objectRepr": "Ops", "clientIp": IP,
                   "via": "rest"}
    assert row["changes"]["name"] == "Ops" and row["createTime"]


def test_audit_log_filters_by_user_action_object_type_and_object_id(org, api, admin_api):
    helper = org.member(org.hq, {"department:manage"})
    admin_api.post("departments", {"name": "by-admin", "parentId": org.a.pk, "status": 1}).expect(0)
    dept = api(helper).post("departments", {"name": "by-helper", "parentId": org.a.pk, "status": 1}).expect(0).data
    api(helper).put(f"departments/{dept['id']}", {"name": "by-helper-2", "parentId": org.a.pk, "status": 1}).expect(0)
    role = RoleFactory(codes=[])
    admin_api.put(f"roles/{role.pk}", {"name": "renamed", "permissions": [], "status": 1}).expect(0)

    def seen(**params) -> list[tuple[str, str]]:
        return [(r["action"], r["objectRepr"]) for r in listed(admin_api, **params)["list"]]

    assert seen(userId=helper.pk) == [("department.update", "by-helper-2"), ("department.create", "by-helper")]
    assert seen(action="department.create") == [("department.create", "by-helper"),
                                                ("department.create", "by-admin")]
    assert seen(objectType="role") == [("role.update", "renamed")]
    assert seen(objectType="department", objectId=dept["id"]) == [("department.update", "by-helper-2"),
                                                                  ("department.create", "by-helper")]
    assert seen(action="no.such.action") == []


def test_audit_log_filters_by_time_window(org, admin_api):
    for name in ("old", "mid", "new"):
        admin_api.post("departments", {"name": name, "parentId": org.a.pk, "status": 1}).expect(0)
    for name, year in (("old", 2020), ("mid", 2021), ("new", 2022)):
        AuditLog.objects.filter(object_repr=name).update(create_time=datetime(year, 6, 1, tzinfo=timezone.utc))

    def names(**window) -> list[str]:
        return [r["objectRepr"] for r in listed(admin_api, action="department.create", **window)["list"]]

    assert names(start="2021-01-01T00:00:00Z") == ["new", "mid"]
    assert names(end="2021-06-01T00:00:00Z") == ["old"]  # end is exclusive
    assert names(start="2020-06-01T00:00:00Z", end="2022-01-01T00:00:00Z") == ["mid", "old"]


@pytest.mark.parametrize("start, end", [("2022-01-01T00:00:00Z", "2021-01-01T00:00:00Z"),
                                        ("2021-01-01T00:00:00Z", "2021-01-01T00:00:00Z")])
def test_audit_log_window_with_start_not_before_end_is_rejected(org, admin_api, start, end):
    reply = admin_api.get("audit-logs", start=start, end=end).expect(4001)
    assert "end" in reply.data["fields"]


def test_audit_log_reader_in_department_a_does_not_see_entries_about_department_b(org, api, admin_api):
    role = RoleFactory(codes=["task:view"])
    for name, dept in (("in-a", org.a), ("in-a1", org.a1), ("in-b", org.b)):
        admin_api.post("users", {"username": name, "password": SECRET, "realName": name, "departmentId": dept.pk,
                                 "roleId": role.pk, "status": 1}).expect(0)
    admin_api.post("departments", {"name": "child-of-b", "parentId": org.b.pk, "status": 1}).expect(0)
    reader = org.member(org.a, {"system:manage"})
    visible = {(r["action"], r["objectRepr"]) for r in listed(api(reader))["list"]}
    assert {("user.create", "in-a"), ("user.create", "in-a1")} <= visible
    assert ("user.create", "in-b") not in visible
    assert ("department.create", "child-of-b") not in visible
    assert all(r["departmentId"] in {org.a.pk, org.a1.pk} for r in listed(api(reader))["list"])
    assert ("user.create", "in-b") in {(r["action"], r["objectRepr"]) for r in listed(admin_api)["list"]}
