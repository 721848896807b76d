"""Bad input to the user, role and department endpoints: a clear 4001 naming the field, and no change.

Each case starts from a valid body, spoils one thing, and checks the answer (code, HTTP status, the
offending field in ``data.fields``) and that the database is exactly as before: row counts of every
accounts/departments table and the values of the row the request targeted.
"""
from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import AuditLog, Permission, Role, RolePermission, User
from apps.departments.models import Department
from tests.factories import RoleFactory, UserFactory

HUGE = "x" * 100_000
TABLES = (User, Role, RolePermission, Department, AuditLog)
DROP = object()  # marks a key to remove from the valid body
AS_STRING = object()  # marks a key whose valid value is sent as a JSON string ("5" for 5)


def snapshot(*objs) -> tuple:
    counts = {model.__name__: model.objects.count() for model in TABLES}
    rows = [type(o).objects.filter(pk=o.pk).values().get() for o in objs]
    grants = sorted(RolePermission.objects.values_list("role_id", "permission_id"))
    return counts, rows, grants


def spoil(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    body = dict(body)
    if value is DROP:
        body.pop(key)
    elif value is AS_STRING:
        body[key] = str(body[key])
    else:
        body[key] = value
    return body


# --- the three resources ----------------------------------------------------------------------

@pytest.fixture
def target(org, request):
    """The row a PUT aims at and valid POST/PUT bodies for the resource named by the test's ``resource``."""
    resource = request.node.callspec.params["resource"]
    if resource == "users":
        role = RoleFactory(codes=["task:view"])
        obj = UserFactory(department=org.a, role=role)
        create = {"username": "newcomer", "password": "Sturdy-Pass-2026", "realName": "New Comer",
                  "email": "new@example.com", "phone": "+86 10 5555", "departmentId": org.a.pk,
                  "roleId": role.pk, "status": 1}
        update = {"username": obj.username, "realName": "Changed", "email": obj.email, "phone": obj.phone,
                  "departmentId": org.a.pk, "roleId": role.pk, "status": 1}
    elif resource == "roles":
        obj = RoleFactory(codes=["task:view"])
        view = Permission.objects.get(code="task:view").pk
        create = {"name": "fresh-role", "description": "d", "permissions": [view], "status": 1}
        update = {"name": "renamed-role", "description": "d", "permissions": [view], "status": 1}
    else:
        obj = Department.objects.create(name="target", parent=org.a)
        create = {"name": "fresh-dept", "description": "d", "parentId": org.a.pk, "status": 1}
        update = {"name": "renamed-dept", "description": "d", "parentId": org.a.pk, "status": 1}
    return obj, create, update


def send(admin_api, resource: str, method: str, obj, body=None, raw: str | None = None):
    path = resource if method == "POST" else f"{resource}/{obj.pk}"
    return admin_api.call(method, path, body, raw=raw)


def assert_rejected(reply, field: str | None, message: str | None = None) -> None:
    reply.expect(4001)
    if field is None:
        return
    fields = reply.data["fields"]
    assert field in fields, fields
    if message is not None:
        assert any(message in m for m in fields[field]), fields


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("resource", ["users", "roles", "departments"])
def test_the_unspoiled_body_is_accepted(org, admin_api, target, resource, method):
    """Guards the tables below: each case differs from an accepted request in one spoiled value only."""
    obj, create, update = target
    send(admin_api, resource, method, obj, create if method == "POST" else update).expect(0)


USER_CASES = [
    ("departmentId", AS_STRING, "departmentId"),
    ("roleId", AS_STRING, "roleId"),
    ("departmentId", 1.0, "departmentId"),
    ("departmentId", True, "departmentId"),
    ("departmentId", None, "departmentId"),
    ("departmentId", 2**64, "departmentId"),
    ("departmentId", -1, "departmentId"),
    ("departmentId", 10**9, "departmentId"),  # unknown id
    ("roleId", 10**9, "roleId"),
    ("realName", 5, "realName"),
    ("username", 123, "username"),
    ("username", ["alice"], "username"),
    ("status", True, "status"),
    ("status", 2, "status"),
    ("status", "1", "status"),
    ("status", -1, "status"),
    ("username", HUGE, "username"),
    ("realName", HUGE, "realName"),
    ("password", HUGE, "password"),
    ("email", HUGE, "email"),
    ("phone", HUGE, "phone"),
    ("username", "", "username"),
    ("username", "   ", "username"),
    ("username", "has space", "username"),
    ("realName", "", "realName"),
    ("realName", " \t ", "realName"),
    ("email", "not-an-email", "email"),
    ("phone", "call me", "phone"),
    ("realName", DROP, "realName"),
    ("departmentId", DROP, "departmentId"),
    ("creatorId", 1, "creatorId"),
    ("id", 1, "id"),
    ("version", 1, "version"),
    ("createTime", "2020-01-01T00:00:00Z", "createTime"),
]
ROLE_CASES = [
    ("name", 5, "name"),
    ("name", "", "name"),
    ("name", "    ", "name"),
    ("name", HUGE, "name"),
    ("description", HUGE, "description"),
    ("description", 7, "description"),
    ("permissions", "1", "permissions"),
    ("permissions", ["1"], "permissions.0"),  # the offending element is named
    ("permissions", [True], "permissions.0"),
    ("permissions", {"id": 1}, "permissions"),
    ("permissions", None, "permissions"),
    ("permissions", [10**9], "permissions"),  # unknown permission id
    ("status", True, "status"),
    ("status", 2, "status"),
    ("name", DROP, "name"),
    ("permissions", DROP, "permissions"),
    ("id", 1, "id"),
    ("creatorId", 1, "creatorId"),
    ("permissionCodes", ["task:view"], "permissionCodes"),
]
DEPARTMENT_CASES = [
    ("name", 5, "name"),
    ("name", "", "name"),
    ("name", "   ", "name"),
    ("name", HUGE, "name"),
    ("description", HUGE, "description"),
    ("parentId", AS_STRING, "parentId"),
    ("parentId", True, "parentId"),
    ("parentId", 2**64, "parentId"),
    ("parentId", 10**9, "parentId"),  # unknown id
    ("status", True, "status"),
    ("status", 2, "status"),
    ("status", DROP, "status"),
    ("id", 1, "id"),
    ("version", 3, "version"),
    ("creatorId", 1, "creatorId"),
]
UNKNOWN_FIELDS = {"creatorId", "id", "version", "createTime", "permissionCodes"}


def _cases(resource: str, cases: list) -> list:
    return [pytest.param(resource, method, key, value, field, id=f"{resource}-{method}-{key}-{_label(value)}")
            for key, value, field in cases for method in ("POST", "PUT")]


def _label(value: Any) -> str:
    if value is DROP:
        return "missing"
    if value is AS_STRING:
        return "as-string"
    if value is HUGE:
        return "100k"
    text = repr(value)
    return text if len(text) <= 20 else text[:20]


@pytest.mark.parametrize("resource, method, key, value, field",
                         _cases("users", USER_CASES) + _cases("roles", ROLE_CASES)
                         + _cases("departments", DEPARTMENT_CASES))
def test_bad_field_is_rejected_on_that_field_and_changes_nothing(org, admin_api, target, resource, method, key,
                                                                 value, field):
    obj, create, update = target
    body = spoil(create if method == "POST" else update, key, value)
    before = snapshot(obj)
    reply = send(admin_api, resource, method, obj, body)
    assert_rejected(reply, field, "unknown field" if key in UNKNOWN_FIELDS else None)
    assert snapshot(obj) == before


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("resource", ["users", "roles", "departments"])
@pytest.mark.parametrize("raw", ['{"name": "x",', "{'name': 'x'}", '{"status": NaN}', "[1, 2]", '"text"', "42",
                                 "null", "true", ""],
                         ids=["truncated", "single-quotes", "nan", "array", "string", "number", "null", "true",
                              "empty"])
def test_malformed_or_non_object_body_is_rejected_and_changes_nothing(org, admin_api, target, resource, method, raw):
    obj, _, _ = target
    before = snapshot(obj)
    assert_rejected(send(admin_api, resource, method, obj, raw=raw), None)
    assert snapshot(obj) == before


@pytest.mark.parametrize("resource", ["users", "roles", "departments"])
def test_form_encoded_body_is_rejected_and_changes_nothing(org, admin_api, target, resource):
    obj, create, _ = target
    before = snapshot(obj)
    resp = admin_api.client.post(f"/v1/{resource}", data={"name": "form", "status": "1"})
    assert (resp.status_code, resp.json()["code"]) == (400, 4001)
    assert snapshot(obj) == before


def test_weak_password_and_password_change_bad_input_change_nothing(org, admin_api):
    user = UserFactory(department=org.a)
    before = snapshot(user)
    path = f"users/{user.pk}/password"
    for body, field in [({"newPassword": 12345678}, "newPassword"), ({"newPassword": HUGE}, "newPassword"),
                        ({}, "newPassword"), ({"newPassword": "Sturdy-Pass-2026", "userId": 1}, "userId"),
                        ({"newPassword": "Sturdy-Pass-2026", "oldPassword": 5}, "oldPassword")]:
        assert_rejected(admin_api.patch(path, body), field)
    assert_rejected(admin_api.call("PATCH", path, raw="[]"), None)
    assert snapshot(user) == before


@pytest.mark.parametrize("how", ["create", "update", "change"])
def test_whitespace_only_password_is_refused(org, api, admin_api, how):
    """A password of nothing but blanks is an empty required string, not a password."""
    role = RoleFactory(codes=["task:view"])
    user = UserFactory(department=org.a, role=role)
    blanks = " " * 16
    before = snapshot(user)
    if how == "create":
        body = {"username": "blanks", "password": blanks, "realName": "Blank Pass", "departmentId": org.a.pk,
                "roleId": role.pk, "status": 1}
        reply, field = admin_api.post("users", body), "password"
    elif how == "update":
        body = {"username": user.username, "realName": user.real_name, "departmentId": org.a.pk,
                "roleId": role.pk, "status": 1, "password": blanks}
        reply, field = admin_api.put(f"users/{user.pk}", body), "password"
    else:
        reply, field = admin_api.patch(f"users/{user.pk}/password", {"newPassword": blanks}), "newPassword"
    assert_rejected(reply, field)
    assert snapshot(user) == before


# --- query parameters -------------------------------------------------------------------------

@pytest.mark.parametrize("path, param, value", [
    ("users", "departmentId", "abc"),
    ("users", "departmentId", "0"),
    ("users", "departmentId", "99999999999999999999"),
    ("users", "roleId", "1.5"),
    ("users", "status", "7"),
    ("users", "status", "yes"),
    ("users", "page", "0"),
    ("users", "page", "abc"),
    ("users", "size", "101"),
    ("users", "size", "-1"),
    ("users", "keyword", HUGE[:1000]),
    ("roles", "status", "7"),
    ("roles", "page", "x"),
    ("audit-logs", "userId", "abc"),
    ("audit-logs", "start", "yesterday"),
    ("audit-logs", "end", "2021-13-45T99:00:00"),
    ("audit-logs", "size", "1000"),
])
def test_query_parameter_of_wrong_type_or_range_is_rejected_on_that_parameter(org, admin_api, path, param, value):
    assert_rejected(admin_api.get(path, **{param: value}), param)


# --- ids --------------------------------------------------------------------------------------

HUGE_ID = "99999999999999999999"


@pytest.mark.parametrize("resource", ["users", "roles", "departments"])
def test_id_beyond_64_bits_is_not_found_rather_than_a_server_error(org, admin_api, target, resource):
    _, _, update = target
    before = snapshot()
    admin_api.get(f"{resource}/{HUGE_ID}").expect(4004)
    admin_api.put(f"{resource}/{HUGE_ID}", update).expect(4004)
    admin_api.delete(f"{resource}/{HUGE_ID}").expect(4004)
    if resource == "users":
        admin_api.patch(f"users/{HUGE_ID}/password", {"newPassword": "Sturdy-Pass-2026"}).expect(4004)
    assert snapshot() == before


@pytest.mark.parametrize("path", ["users/abc", "users/-1", "roles/1.5", "departments/%00", "users/1/password/x"])
def test_malformed_id_in_path_is_not_found(org, admin_api, path):
    admin_api.get(path).expect(4004)
